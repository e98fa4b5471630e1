package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/leader"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// deployNamespace and deployName are what deploy/ creates.
const (
	deployNamespace = "deploywatch"
	deployName      = "deploywatch"
)

// deployRules are the ClusterRole's rules: exactly the calls serve makes
// (pkg/server, pkg/hub, pkg/operations, pkg/notify).
var deployRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}, Verbs: []string{"get", "list", "watch", "patch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale", "statefulsets/scale"}, Verbs: []string{"get", "update"}},
	{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"list"}},
	{APIGroups: []string{"apps"}, Resources: []string{"replicasets", "controllerrevisions"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
}

// deployNotifyRules are the notification Role's rules: the Lease and the
// ConfigMaps of pkg/notify/leader, by name where the verb allows it.
var deployNotifyRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
	{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"deploywatch-notify"}, Verbs: []string{"get", "update"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: notifyStateShards, Verbs: []string{"get", "update"}},
}

// notifyStateShards name the state's ConfigMaps (pkg/notify/leader.Shards of them).
var notifyStateShards = func() []string {
	var out []string
	for i := range leader.Shards {
		out = append(out, fmt.Sprintf("deploywatch-notify-state-%d", i))
	}
	return out
}()

// goMemLimit reads a GOMEMLIMIT value (a number of bytes with an optional
// B, KiB, MiB, GiB or TiB suffix, as package runtime documents).
func goMemLimit(t *testing.T, v string) int64 {
	t.Helper()
	num, mult := v, int64(1)
	for i, suffix := range []string{"TiB", "GiB", "MiB", "KiB", "B"} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			num, mult = n, int64(1)<<(10*(4-i))
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		t.Fatalf("GOMEMLIMIT=%q does not parse: %v", v, err)
	}
	return n * mult
}

// deployApply installs deploy/ the way its kustomization.yaml says (the
// namespace and the token's Secret first, then kubectl apply -k) and
// removes it when the test ends, waiting until the namespace is gone so the
// next test can install it again. It returns the Secret's token.
func deployApply(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	token := randomHex(t) // as kustomization.yaml says to make it
	testbed.Kubectl(t, "create", "namespace", deployNamespace)
	t.Cleanup(func() {
		// The namespace deletion takes the Secret with it.
		if _, stderr, err := testbed.KubectlErr("delete", "-k", dir, "--ignore-not-found", "--wait", "--timeout=2m"); err != nil {
			t.Errorf("kubectl delete -k deploy/: %v\n%s", err, stderr)
		}
	})
	testbed.Kubectl(t, "-n", deployNamespace, "create", "secret", "generic", "deploywatch-token", "--from-literal=token="+token)
	out := testbed.Kubectl(t, "apply", "-k", dir)
	t.Logf("kubectl apply -k deploy/:\n%s", out)
	return token
}

// TestDeployManifestsApply applies deploy/ to the test bed's API server,
// which validates every object (and, through the namespace's restricted Pod
// Security Standard, the pods the Deployment creates), and checks what was
// created: the RBAC is exactly serve's, the Deployment rolls out its two
// replicas, and the probes, shutdown timing, rollout strategy, disruption
// budget and Service fit together.
func TestDeployManifestsApply(t *testing.T) {
	deployApply(t)
	cs := testbed.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ns, err := cs.CoreV1().Namespaces().Get(ctx, deployNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels %v; want the restricted Pod Security Standard enforced", ns.Labels)
	}
	if _, err := cs.CoreV1().ServiceAccounts(deployNamespace).Get(ctx, deployName, metav1.GetOptions{}); err != nil {
		t.Error(err)
	}

	role, err := cs.RbacV1().ClusterRoles().Get(ctx, deployName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameRules(role.Rules, deployRules) {
		t.Errorf("ClusterRole rules\n%s\nwant exactly\n%s", fmtJSON(role.Rules), fmtJSON(deployRules))
	}
	binding, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, deployName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: deployName, Namespace: deployNamespace}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != deployName || len(binding.Subjects) != 1 || binding.Subjects[0] != wantSubject {
		t.Errorf("ClusterRoleBinding binds %+v to %+v; want the ClusterRole %s to %+v", binding.RoleRef, binding.Subjects, deployName, wantSubject)
	}

	// Notifications: a Role in serve's namespace, exactly the Lease and
	// the ConfigMap (deploy/base/notify-rbac.yaml).
	notifyRole, err := cs.RbacV1().Roles(deployNamespace).Get(ctx, "deploywatch-notify", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmtJSON(notifyRole.Rules) != fmtJSON(deployNotifyRules) {
		t.Errorf("Role deploywatch-notify rules\n%s\nwant exactly\n%s", fmtJSON(notifyRole.Rules), fmtJSON(deployNotifyRules))
	}
	notifyBinding, err := cs.RbacV1().RoleBindings(deployNamespace).Get(ctx, "deploywatch-notify", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if notifyBinding.RoleRef.Kind != "Role" || notifyBinding.RoleRef.Name != "deploywatch-notify" || len(notifyBinding.Subjects) != 1 || notifyBinding.Subjects[0] != wantSubject {
		t.Errorf("RoleBinding deploywatch-notify binds %+v to %+v; want the Role deploywatch-notify to %+v", notifyBinding.RoleRef, notifyBinding.Subjects, wantSubject)
	}

	// Two replicas, Ready: the pods passed admission.
	waitRolledOut(t, deployNamespace, deployName)
	d := getDeployment(t, deployNamespace, deployName)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 2 {
		t.Errorf("replicas %v, ready %d; want 2 and 2", d.Spec.Replicas, d.Status.ReadyReplicas)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge == nil || ru.MaxSurge.IntValue() < 1 {
		t.Errorf("rolling update %+v; want maxUnavailable 0 and a surge", ru)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != deployName || len(pod.Containers) != 1 {
		t.Fatalf("pod runs as %q with %d containers; want %s and one container", pod.ServiceAccountName, len(pod.Containers), deployName)
	}
	c := pod.Containers[0]
	args := deployArgs(c.Args)
	if len(c.Args) == 0 || c.Args[0] != "serve" || args["--address"] != "0.0.0.0:8080" || args["--token-file"] == "" {
		t.Errorf("args %q; want serve on 0.0.0.0:8080 with a --token-file", c.Args)
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p.ContainerPort
		}
	}
	if port != 8080 {
		t.Errorf("container port http is %d; want 8080, where serve listens", port)
	}
	// GOMEMLIMIT keeps Go's heap under the memory limit, with room for
	// stacks and the GC: a crowd of viewers slows serve down before the
	// kernel kills it.
	limit := c.Resources.Limits.Memory().Value()
	var soft int64
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			soft = goMemLimit(t, e.Value)
		}
	}
	if limit == 0 || soft < limit/2 || soft > limit*9/10 {
		t.Errorf("GOMEMLIMIT is %d bytes with a memory limit of %d; want it set to between half and 90%% of the limit", soft, limit)
	}
	for _, probe := range []struct {
		name, path string
		get        func() (string, intstr.IntOrString, bool)
	}{
		{"readiness", "/readyz", func() (string, intstr.IntOrString, bool) {
			p := c.ReadinessProbe
			if p == nil || p.HTTPGet == nil {
				return "", intstr.IntOrString{}, false
			}
			return p.HTTPGet.Path, p.HTTPGet.Port, true
		}},
		{"liveness", "/healthz", func() (string, intstr.IntOrString, bool) {
			p := c.LivenessProbe
			if p == nil || p.HTTPGet == nil {
				return "", intstr.IntOrString{}, false
			}
			return p.HTTPGet.Path, p.HTTPGet.Port, true
		}},
	} {
		path, p, ok := probe.get()
		if !ok || path != probe.path || p.String() != "http" {
			t.Errorf("%s probe: GET %q on port %q; want %s on http", probe.name, path, p.String(), probe.path)
		}
	}

	// The kubelet gives the pod terminationGracePeriodSeconds for preStop
	// and the shutdown together.
	shutdown, err := time.ParseDuration(args["--shutdown-timeout"])
	if err != nil {
		t.Fatalf("--shutdown-timeout %q: %v", args["--shutdown-timeout"], err)
	}
	var preStop time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: the endpoint could still receive connections while serve shuts down")
	} else {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if preStop <= 0 || preStop > 10*time.Second || grace <= preStop+shutdown {
		t.Errorf("preStop %v, --shutdown-timeout %v, terminationGracePeriodSeconds %v; want a short preStop and a grace period longer than both together", preStop, shutdown, grace)
	}

	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc == nil ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security contexts pod %s container %s; want non-root, read-only root, no privilege escalation, all capabilities dropped", fmtJSON(psc), fmtJSON(sc))
	}

	labels := d.Spec.Template.Labels
	svc, err := cs.CoreV1().Services(deployNamespace).Get(ctx, deployName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !selects(svc.Spec.Selector, labels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service selects %v, ports %s; want the pods' labels %v and target port http", svc.Spec.Selector, fmtJSON(svc.Spec.Ports), labels)
	}
	pdb, err := cs.PolicyV1().PodDisruptionBudgets(deployNamespace).Get(ctx, deployName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, labels) || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || pdb.Spec.MinAvailable.IntValue() >= 2 {
		t.Errorf("PodDisruptionBudget %s; want the pods selected and 1 of 2 kept available", fmtJSON(pdb.Spec))
	}
	// The controller agrees that the budget covers the two ready pods.
	testutil.Eventually(t, time.Minute, "the PodDisruptionBudget to count two healthy pods", func() bool {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets(deployNamespace).Get(ctx, deployName, metav1.GetOptions{})
		return err == nil && pdb.Status.ExpectedPods == 2 && pdb.Status.CurrentHealthy == 2 && pdb.Status.DisruptionsAllowed == 1
	})
}

// deployArgs maps "--flag=value" arguments to their values.
func deployArgs(args []string) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			m[k] = v
		}
	}
	return m
}

// selects says whether every key of sel has its value in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sameRules compares policy rules as sets of (group, resource, verb).
func sameRules(a, b []rbacv1.PolicyRule) bool {
	flat := func(rules []rbacv1.PolicyRule) []string {
		var s []string
		for _, r := range rules {
			if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
				s = append(s, "unexpected resourceNames or nonResourceURLs")
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						s = append(s, g+"/"+res+":"+v)
					}
				}
			}
		}
		slices.Sort(s)
		return slices.Compact(s)
	}
	return slices.Equal(flat(a), flat(b))
}

// randomHex is 32 random bytes in hex, what 'openssl rand -hex 32' gives.
func randomHex(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
