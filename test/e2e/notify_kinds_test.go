package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// failingKey is the Idempotency-Key of a "failing" message.
var failingKey = regexp.MustCompile(`^"[0-9a-f-]{36}/failing/[0-9]+"$`)

// TestNotifyStatefulSetAndDaemonSet: serve notifies about StatefulSets and
// DaemonSets on the real controllers. A Deployment and a StatefulSet share
// the name db, and a DaemonSet agent runs on every node; all are rolled out
// before serve starts. A bad image in the StatefulSet, then in the
// DaemonSet, is a "failing" message naming each with its kind, its cause
// in the message; the Deployment db keeps its own record, untouched.
// A second serve, as an identity that may not list DaemonSets, sends the
// StatefulSet's in Slack's shape ("NS/sts/db is Failing: ..."), says in
// its log that it leaves DaemonSets out, and never records one.
func TestNotifyStatefulSetAndDaemonSet(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "db", 1)
	createStatefulSet(t, ns, "db", 2, true, func(s *appsv1.StatefulSet) {
		// Its own pods: the Deployment's selector is app=db.
		labels := map[string]string{"app": "db-sts"}
		s.Spec.Selector.MatchLabels, s.Spec.Template.Labels = labels, labels
	})
	createDaemonSet(t, ns, "agent", nil)
	waitRolledOut(t, ns, "db")
	testbed.Kubectl(t, "-n", ns, "rollout", "status", "daemonset/agent", "--timeout=60s")
	cs := testbed.Clientset(t)
	sts := getStatefulSet(t, ns, "db")
	ds, err := cs.AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep := getDeployment(t, ns, "db")

	r := newNotifyReceiver(t)
	startServe(t, "--read-only", "--notify-webhook", r.srv.URL, "--notify-on", "failing", "--notify-namespaces", ns,
		"--leader-elect-resource-namespace", ns, "--leader-elect-resource-name", "notify-e2e", "--leader-elect-identity", "json-0")
	slack, texts := newSlackReceiver(t, failingKey)
	noDaemonSets := rolloutKubeconfig(t, ns, "no-daemonsets",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "replicasets", "controllerrevisions"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "events", "services"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create", "get", "update"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get", "update"}})
	limited := startServeEnv(t, []string{"KUBECONFIG=" + noDaemonSets}, "--read-only", "--namespaces", ns,
		"--notify-webhook", slack.URL, "--notify-format", "slack", "--notify-on", "failing", "--notify-namespaces", ns,
		"--leader-elect-resource-namespace", ns, "--leader-elect-resource-name", "notify-slack", "--leader-elect-identity", "slack-0")

	// Both record what they found at the start, each workload under its
	// own key: the Deployment's as before other kinds.
	record := func(lease, key string) notifyRecord {
		t.Helper()
		rec, _ := notifyRecordAt(t, ns, lease, key)
		return rec
	}
	testutil.Eventually(t, time.Minute, "serve to record db, sts/db and ds/agent", func() bool {
		return record("notify-e2e", ns+"_db").UID == dep.UID && record("notify-e2e", ns+"_sts_db").UID == sts.UID &&
			record("notify-e2e", ns+"_ds_agent").UID == ds.UID
	})
	testutil.Eventually(t, time.Minute, "the limited serve to record db and sts/db", func() bool {
		return record("notify-slack", ns+"_db").UID == dep.UID && record("notify-slack", ns+"_sts_db").UID == sts.UID
	})
	if rec := record("notify-e2e", ns+"_sts_db"); rec.WorkloadKind != "StatefulSet" || rec.Status != "Running" {
		t.Errorf("sts/db's record %+v; want StatefulSet, Running", rec)
	}
	if rec := record("notify-e2e", ns+"_db"); rec.WorkloadKind != "" || rec.Status != "Running" {
		t.Errorf("deploy/db's record %+v; want a Deployment's (no workloadKind), Running", rec)
	}

	bad := testbed.FaultImage(testbed.FaultImagePull)
	failing := func(kind, name string) []notifyMessage {
		var out []notifyMessage
		for _, m := range r.messages() {
			if m.Kind == "failing" && m.WorkloadKind == kind && m.Deployment == name {
				out = append(out, m)
			}
		}
		return out
	}
	check := func(m notifyMessage, kind string, uid any) {
		t.Helper()
		if m.Namespace != ns || m.UID != fmt.Sprint(uid) || m.NewStatus != "Failing" || len(m.Images) != 1 || m.Images[0] != bad ||
			(!strings.Contains(m.Message, "ErrImagePull") && !strings.Contains(m.Message, "ImagePullBackOff")) {
			t.Errorf("%s's message %s; want Failing with its UID, the image pull error and the bad image", kind, fmtJSON(m))
		}
	}
	patchImage(t, ns, "statefulset", "db", bad)
	testutil.Eventually(t, 2*time.Minute, "sts/db's failing message", func() bool { return len(failing("StatefulSet", "db")) > 0 })
	check(failing("StatefulSet", "db")[0], "sts/db", sts.UID)
	testutil.Eventually(t, 2*time.Minute, "sts/db's failing text in Slack's shape", func() bool { return len(texts()) > 0 })
	if text := texts()[0]; !strings.HasPrefix(text, ns+"/sts/db is Failing: ") || !strings.Contains(text, "ImagePull") {
		t.Errorf("Slack text %q; want %q... with the image pull error", text, ns+"/sts/db is Failing: ")
	}

	patchImage(t, ns, "daemonset", "agent", bad)
	testutil.Eventually(t, 2*time.Minute, "ds/agent's failing message", func() bool { return len(failing("DaemonSet", "agent")) > 0 })
	check(failing("DaemonSet", "agent")[0], "ds/agent", ds.UID)

	testutil.Eventually(t, time.Minute, "the deliveries recorded", func() bool {
		s, d := record("notify-e2e", ns+"_sts_db"), record("notify-e2e", ns+"_ds_agent")
		return s.Status == "Failing" && len(s.Pending) == 0 && d.Status == "Failing" && len(d.Pending) == 0
	})
	if rec := record("notify-e2e", ns+"_db"); rec.UID != dep.UID || rec.Status != "Running" || rec.Seq != 0 {
		t.Errorf("deploy/db's record %+v after sts/db failed; want its own, Running, no message", rec)
	}
	for _, m := range r.messages() {
		if m.WorkloadKind == "Deployment" || m.WorkloadKind == "" {
			t.Errorf("a message about the Deployment, which never changed: %s", fmtJSON(m))
		}
	}

	// The limited serve: DaemonSets left out, said once in its log.
	testutil.Eventually(t, time.Minute, "the limited serve to record sts/db's delivery", func() bool {
		s := record("notify-slack", ns+"_sts_db")
		return s.Status == "Failing" && len(s.Pending) == 0
	})
	log := limited.stderr.String()
	if n := strings.Count(log, "notifications leave out daemonsets in namespace "+ns); n != 1 || !strings.Contains(log, "ask for list and watch on daemonsets") {
		t.Errorf("the limited serve's log says %d times that it leaves out daemonsets (want once, with the right to ask for):\n%s", n, log)
	}
	if rec, ok := notifyRecordAt(t, ns, "notify-slack", ns+"_ds_agent"); ok {
		t.Errorf("the limited serve recorded ds/agent: %+v", rec)
	}
	for _, text := range texts() {
		if strings.Contains(text, "/ds/") {
			t.Errorf("the limited serve sent %q about a DaemonSet it may not list", text)
		}
	}
}
