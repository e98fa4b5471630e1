package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/leader"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// deployServiceAccount is the user serve acts as inside the cluster.
const deployServiceAccount = "system:serviceaccount:" + deployNamespace + ":" + deployName

// TestDeployRBACAllowsExactlyServe asks the API server what deploy/'s
// ServiceAccount may do: every call serve makes, and nothing near it.
func TestDeployRBACAllowsExactlyServe(t *testing.T) {
	deployApply(t)
	ns := testbed.NewNamespace(t)
	canI := func(args ...string) bool {
		_, _, err := testbed.KubectlErr(append([]string{"auth", "can-i", "--as=" + deployServiceAccount, "-n", ns}, args...)...)
		return err == nil // can-i exits 1 for "no"
	}
	allowed := [][]string{
		{"list", "deployments.apps"}, {"watch", "deployments.apps"}, {"get", "deployments.apps"},
		{"patch", "deployments.apps"}, {"list", "deployments.apps", "--all-namespaces"},
		{"get", "deployments.apps", "--subresource=scale"}, {"update", "deployments.apps", "--subresource=scale"},
		{"list", "namespaces"}, {"get", "namespaces"}, {"watch", "namespaces"}, {"list", "horizontalpodautoscalers.autoscaling"},
		{"list", "replicasets.apps"}, {"watch", "replicasets.apps"}, {"list", "pods"}, {"watch", "pods"}, {"list", "events"}, {"watch", "events"},
		{"list", "services"}, {"watch", "services"}, {"list", "endpointslices.discovery.k8s.io"}, {"watch", "endpointslices.discovery.k8s.io"},
		{"list", "poddisruptionbudgets.policy"}, {"watch", "poddisruptionbudgets.policy"},
		// StatefulSets and DaemonSets as Deployments (set-image, restart and
		// undo patch them; StatefulSets scale), and their revisions.
		{"list", "statefulsets.apps"}, {"watch", "statefulsets.apps"}, {"get", "statefulsets.apps"}, {"patch", "statefulsets.apps"},
		{"list", "statefulsets.apps", "--all-namespaces"},
		{"get", "statefulsets.apps", "--subresource=scale"}, {"update", "statefulsets.apps", "--subresource=scale"},
		{"list", "daemonsets.apps"}, {"watch", "daemonsets.apps"}, {"get", "daemonsets.apps"}, {"patch", "daemonsets.apps"},
		{"list", "daemonsets.apps", "--all-namespaces"},
		{"list", "controllerrevisions.apps"}, {"watch", "controllerrevisions.apps"}, {"list", "controllerrevisions.apps", "--all-namespaces"},
	}
	refused := [][]string{
		{"create", "deployments.apps"}, {"delete", "deployments.apps"}, {"update", "deployments.apps"},
		{"deletecollection", "deployments.apps"}, {"patch", "deployments.apps", "--subresource=scale"},
		{"update", "deployments.apps", "--subresource=status"}, {"delete", "replicasets.apps"}, {"patch", "replicasets.apps"},
		{"get", "secrets"}, {"list", "secrets"}, {"list", "configmaps"},
		{"create", "pods"}, {"delete", "pods"}, {"get", "pods"}, {"get", "pods", "--subresource=log"}, {"create", "events"}, {"create", "pods", "--subresource=exec"},
		{"create", "namespaces"}, {"delete", "namespaces"}, {"patch", "namespaces"},
		{"get", "services"}, {"create", "services"}, {"patch", "services"}, {"delete", "services"}, {"get", "endpointslices.discovery.k8s.io"},
		{"update", "endpointslices.discovery.k8s.io"}, {"create", "services", "--subresource=proxy"},
		{"get", "poddisruptionbudgets.policy"}, {"create", "poddisruptionbudgets.policy"}, {"delete", "poddisruptionbudgets.policy"},
		{"create", "clusterrolebindings.rbac.authorization.k8s.io"}, {"bind", "clusterroles.rbac.authorization.k8s.io"},
		{"escalate", "clusterroles.rbac.authorization.k8s.io"}, {"impersonate", "users"},
		{"create", "serviceaccounts", "--subresource=token"}, {"*", "*"},
		{"create", "horizontalpodautoscalers.autoscaling"}, {"update", "horizontalpodautoscalers.autoscaling"}, {"delete", "horizontalpodautoscalers.autoscaling"},
		{"create", "statefulsets.apps"}, {"delete", "statefulsets.apps"}, {"update", "statefulsets.apps"}, {"deletecollection", "statefulsets.apps"},
		{"patch", "statefulsets.apps", "--subresource=scale"}, {"update", "statefulsets.apps", "--subresource=status"},
		{"create", "daemonsets.apps"}, {"delete", "daemonsets.apps"}, {"update", "daemonsets.apps"}, {"update", "daemonsets.apps", "--subresource=status"},
		{"get", "controllerrevisions.apps"}, {"create", "controllerrevisions.apps"}, {"patch", "controllerrevisions.apps"}, {"delete", "controllerrevisions.apps"},
	}
	// Notifications: the Lease and the ConfigMap of deploy/base/notify-rbac.yaml,
	// in serve's own namespace, and nothing else there.
	canIn := func(ns string, args ...string) bool {
		_, _, err := testbed.KubectlErr(append([]string{"auth", "can-i", "--as=" + deployServiceAccount, "-n", ns}, args...)...)
		return err == nil
	}
	need := [][]string{
		{"create", "leases.coordination.k8s.io"}, {"get", "leases.coordination.k8s.io/deploywatch-notify"}, {"update", "leases.coordination.k8s.io/deploywatch-notify"},
		{"create", "configmaps"},
	}
	for _, shard := range notifyStateShards {
		need = append(need, []string{"get", "configmaps/" + shard}, []string{"update", "configmaps/" + shard})
	}
	for _, a := range need {
		if !canIn(deployNamespace, a...) {
			t.Errorf("%s may not %s in %s: notifications need it", deployServiceAccount, strings.Join(a, " "), deployNamespace)
		}
	}
	for _, r := range [][]string{
		{"get", "leases.coordination.k8s.io/other"}, {"update", "leases.coordination.k8s.io/other"}, {"list", "leases.coordination.k8s.io"},
		{"delete", "leases.coordination.k8s.io/deploywatch-notify"}, {"patch", "leases.coordination.k8s.io/deploywatch-notify"},
		{"get", "configmaps/other"}, {"update", "configmaps/other"}, {"list", "configmaps"}, {"delete", "configmaps/deploywatch-notify-state-0"},
		{"get", "configmaps/deploywatch-notify-state"}, {"get", fmt.Sprintf("configmaps/deploywatch-notify-state-%d", leader.Shards)},
		{"get", "secrets/deploywatch-token"},
	} {
		if canIn(deployNamespace, r...) {
			t.Errorf("%s may %s in %s: notifications do not need it", deployServiceAccount, strings.Join(r, " "), deployNamespace)
		}
	}
	for _, r := range [][]string{{"create", "leases.coordination.k8s.io"}, {"create", "configmaps"}} {
		if canI(r...) {
			t.Errorf("%s may %s in %s: notifications need it only in %s", deployServiceAccount, strings.Join(r, " "), ns, deployNamespace)
		}
	}
	for _, a := range allowed {
		if !canI(a...) {
			t.Errorf("%s may not %s: serve needs it", deployServiceAccount, strings.Join(a, " "))
		}
	}
	for _, r := range refused {
		if canI(r...) {
			t.Errorf("%s may %s: serve does not need it", deployServiceAccount, strings.Join(r, " "))
		}
	}
}

// TestDeployServeWithServiceAccountToken runs serve as it runs in the
// cluster, with the Deployment's own arguments and deploy/'s
// ServiceAccount's token, but as a local process: it lists namespaces,
// streams, scales and changes an image; and the same token is refused by
// the API server for anything serve does not do.
func TestDeployServeWithServiceAccountToken(t *testing.T) {
	secretToken := deployApply(t)
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	kubeconfig := deployKubeconfig(t)

	// The container's arguments, with the address and the token file made
	// local: the flags the manifest passes must be serve's.
	d := getDeployment(t, deployNamespace, deployName)
	var args []string
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secretToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args[1:] {
		switch k, _, _ := strings.Cut(a, "="); k {
		case "--address":
			a = "--address=127.0.0.1:0"
		case "--token-file":
			a = "--token-file=" + tokenFile
		}
		args = append(args, a)
	}
	p := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig}, args...)
	// In a cluster, what serve prints is the pod's log: a token from a file
	// is never in it, only where it came from.
	if strings.Contains(p.line, secretToken) || !strings.Contains(p.line, "(token from "+tokenFile+";") {
		t.Fatalf("serve printed %q; want where the token is (%s), never the token", p.line, tokenFile)
	}

	// Namespaces: listed (no warning), and one that does not exist is told
	// apart from an empty one.
	status, body := p.request(t, "GET", "/api/namespaces", "", nil)
	var list struct {
		Namespaces []struct{ Name string } `json:"namespaces"`
		Warning    string                  `json:"warning"`
	}
	if status != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("/api/namespaces: %d %s", status, body)
	}
	var names []string
	for _, n := range list.Namespaces {
		names = append(names, n.Name)
	}
	if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+ns+" ") || list.Warning != "" {
		t.Errorf("/api/namespaces lists %v with warning %q; want %s among them and no warning", names, list.Warning, ns)
	}
	status, body = p.request(t, "GET", "/api/namespaces/no-such-namespace-xyz/deployments", "", nil)
	apiErr(t, "a namespace that does not exist", status, body, 404, "NotFound")

	// The live view: a snapshot, then the changes made through serve.
	s := p.openStream(t, ns, nil)
	defer s.close()
	if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "web" {
		t.Fatalf("snapshot %s; want web", fmtJSON(snap))
	}
	status, body = p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 3}`, p.auth())
	if status != 200 {
		t.Fatalf("scale: %d %s", status, body)
	}
	s.until(t, time.Minute, "the scale to 3 on the stream", desiredIs(t, "web", 3))
	status, body = p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/image", `{"container": "app", "image": "registry.k8s.io/pause:3.9"}`, p.auth())
	if status != 200 {
		t.Fatalf("set image: %d %s", status, body)
	}
	web := getDeployment(t, ns, "web")
	if *web.Spec.Replicas != 3 || web.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/pause:3.9" {
		t.Errorf("web has %d replicas and image %s; want 3 and pause:3.9", *web.Spec.Replicas, web.Spec.Template.Spec.Containers[0].Image)
	}
	if status, body := p.request(t, "GET", "/readyz", "", nil); status != 200 {
		t.Errorf("/readyz: %d %s", status, body)
	}
	if strings.Contains(p.stderr.String(), secretToken) {
		t.Errorf("serve's log holds the token:\n%s", p.stderr.String())
	}

	// Beyond serve's calls, the API server refuses the same identity, and
	// nothing changes (once the controller has finished the rollout).
	waitRolledOut(t, ns, "web")
	before := getDeployment(t, ns, "web")
	for _, args := range [][]string{
		{"-n", ns, "delete", "deployment", "web"},
		{"-n", ns, "scale", "deployment", "web", "--replicas=1"}, // kubectl patches deployments/scale; serve updates it
		{"-n", ns, "get", "pod", "any-pod"},                      // the diagnosis lists and watches pods; it never gets one
		{"-n", deployNamespace, "get", "secret", "deploywatch-token"},
		{"create", "namespace", "deploy-rbac-should-not-exist"},
	} {
		_, stderr, err := testbed.KubectlErr(append([]string{"--kubeconfig", kubeconfig}, args...)...)
		if err == nil || !strings.Contains(stderr, "Forbidden") && !strings.Contains(stderr, "forbidden") {
			t.Errorf("kubectl %s as %s: err %v, stderr %q; want Forbidden", strings.Join(args, " "), deployServiceAccount, err, stderr)
		}
	}
	// The controller may still touch web's status (condition times), so the
	// spec's generation, not the resourceVersion, tells a refused write.
	if after := getDeployment(t, ns, "web"); after.UID != before.UID || after.Generation != before.Generation || *after.Spec.Replicas != *before.Spec.Replicas {
		t.Errorf("web changed (generation %d -> %d, replicas %d -> %d) through refused requests",
			before.Generation, after.Generation, *before.Spec.Replicas, *after.Spec.Replicas)
	}
}

// deployKubeconfig writes a kubeconfig for the test bed's API server that
// authenticates with a token of deploy/'s ServiceAccount, as the pod's
// in-cluster config does.
func deployKubeconfig(t *testing.T) string {
	t.Helper()
	return serviceAccountKubeconfigOf(t, testbed.Shared(), deployNamespace, deployName)
}
