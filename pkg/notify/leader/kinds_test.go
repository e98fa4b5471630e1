package leader

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

// statefulSetIn is StatefulSet ns/name with 3 replicas, rolled out
// (Running) or rolling to a new revision with 1 pod updated (Progressing).
func statefulSetIn(ns, name string, status deployment.Status) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("sts-" + name), Generation: 1},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3,
			UpdatedReplicas: 3, CurrentRevision: name + "-1", UpdateRevision: name + "-1"},
	}
	sts.Spec.Template.Spec.Containers = []corev1.Container{{Name: "db", Image: "postgres:17"}}
	if status == deployment.Progressing {
		sts.Generation, sts.Status.ObservedGeneration = 2, 2
		sts.Status.UpdateRevision, sts.Status.UpdatedReplicas, sts.Status.CurrentReplicas = name+"-2", 1, 2
	}
	if got := deployment.SummarizeStatefulSet(sts, nil).Status; got != status {
		panic("statefulSetIn(" + string(status) + ") classifies as " + string(got))
	}
	return sts
}

// daemonSetIn is DaemonSet ns/name on 3 nodes, rolled out (Running) or
// with 1 of 3 pods updated (Progressing).
func daemonSetIn(ns, name string, status deployment.Status) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("ds-" + name), Generation: 1},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
			UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3},
	}
	ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "agent", Image: "agent:1"}}
	if status == deployment.Progressing {
		ds.Generation, ds.Status.ObservedGeneration, ds.Status.UpdatedNumberScheduled = 2, 2, 1
	}
	if got := deployment.SummarizeDaemonSet(ds, nil).Status; got != status {
		panic("daemonSetIn(" + string(status) + ") classifies as " + string(got))
	}
	return ds
}

// logBuffer is a log a test reads while the notifier writes it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newKindsNotifier follows every kind in shop, logging into log.
func newKindsNotifier(t *testing.T, cs *fake.Clientset, url string, log *logBuffer, on ...webhook.Kind) *Notifier {
	t.Helper()
	opts := replicaOptions(cs, url, "replica-1", on...)
	opts.Workloads = fakeApps{cs.AppsV1()}
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNotifierFollowsEveryKind: a Deployment, a StatefulSet of the same
// name and a DaemonSet each get their own record (the Deployment's under
// its key of before), and a StatefulSet's and a DaemonSet's transitions are
// sent with their kind. A record of a StatefulSet deleted while no one led
// is removed; the Deployment of that name keeps its own.
func TestNotifierFollowsEveryKind(t *testing.T) {
	previous := term{Transitions: 0, Holder: "replica-0"}
	objs := seedState(map[string]string{
		"shop_old":     `{"namespace":"shop","name":"old","uid":"dep-old","status":"Running"}`,
		"shop_sts_old": `{"namespace":"shop","name":"old","workloadKind":"StatefulSet","uid":"sts-old","status":"Running"}`,
	}, previous)
	oldDeployment := deploymentIn("shop", "old", deployment.Running)
	oldDeployment.UID = "dep-old"
	web := deploymentIn("shop", "web", deployment.Running)
	web.UID = "dep-web"
	cs := fake.NewClientset(append(objs, web, oldDeployment,
		statefulSetIn("shop", "web", deployment.Running), daemonSetIn("shop", "agent", deployment.Running))...)
	r := newReceiver(t)
	var log logBuffer
	n := newKindsNotifier(t, cs, r.srv.URL, &log, webhook.Started)
	startNotifier(t, n)
	testutil.Eventually(t, 30*time.Second, "a record of each workload", func() bool {
		recs := records(t, cs)
		return recs["shop_web"].UID == "dep-web" && recs["shop_sts_web"].UID == "sts-web" && recs["shop_ds_agent"].UID == "ds-agent"
	})
	recs := records(t, cs)
	if r := recs["shop_web"]; r.WorkloadKind != "" || r.Status != deployment.Running {
		t.Errorf("the Deployment's record %+v; want it as before other kinds (no workloadKind), Running", r)
	}
	if r := recs["shop_sts_web"]; r.WorkloadKind != deployment.KindStatefulSet || r.Name != "web" || r.Status != deployment.Running {
		t.Errorf("the StatefulSet's record %+v; want web, StatefulSet, Running", r)
	}
	if r := recs["shop_ds_agent"]; r.WorkloadKind != deployment.KindDaemonSet || r.Status != deployment.Running {
		t.Errorf("the DaemonSet's record %+v; want DaemonSet, Running", r)
	}
	if _, ok := recs["shop_sts_old"]; ok {
		t.Error("the record of a StatefulSet deleted while no one led stayed")
	}
	if r := recs["shop_old"]; r.UID != "dep-old" {
		t.Errorf("the record of Deployment old %+v; want it kept beside its namesake StatefulSet's removal", r)
	}

	ctx := context.Background()
	if _, err := cs.AppsV1().StatefulSets("shop").Update(ctx, statefulSetIn("shop", "web", deployment.Progressing), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the StatefulSet's message", func() bool { return len(r.messages()) == 1 })
	if _, err := cs.AppsV1().DaemonSets("shop").Update(ctx, daemonSetIn("shop", "agent", deployment.Progressing), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the DaemonSet's message", func() bool { return len(r.messages()) == 2 })
	testutil.Eventually(t, 30*time.Second, "the deliveries recorded", func() bool {
		recs := records(t, cs)
		return len(recs["shop_sts_web"].Pending) == 0 && len(recs["shop_ds_agent"].Pending) == 0
	})
	got := r.messages()
	if m := got[0]; m.Kind != webhook.Started || m.WorkloadKind != deployment.KindStatefulSet || m.Deployment != "web" || m.UID != "sts-web" ||
		m.Seq != 1 || m.Text() != "shop/sts/web rollout started: 1 of 3 pods updated (postgres:17)" {
		t.Errorf("StatefulSet's message %+v (%q); want started, StatefulSet web, seq 1", m, m.Text())
	}
	if m := got[1]; m.Kind != webhook.Started || m.WorkloadKind != deployment.KindDaemonSet || m.Deployment != "agent" ||
		m.Text() != "shop/ds/agent rollout started: 1 of 3 pods updated (agent:1)" {
		t.Errorf("DaemonSet's message %+v (%q); want started, DaemonSet agent", m, m.Text())
	}
	recs = records(t, cs)
	if r := recs["shop_web"]; r.UID != "dep-web" || r.Status != deployment.Running || r.Seq != 0 {
		t.Errorf("the Deployment's record %+v after its namesake StatefulSet's rollout; want it untouched", r)
	}
	if r := recs["shop_sts_web"]; r.Status != deployment.Progressing || r.Seq != 1 {
		t.Errorf("the StatefulSet's record %+v; want Progressing, seq 1", r)
	}
	if strings.Contains(log.String(), "leave out") {
		t.Errorf("a kind was left out:\n%s", log.String())
	}
}

// TestNotifierLeavesOutAKindItMayNotList: an identity that may not list
// StatefulSets still notifies about Deployments and DaemonSets, says in the
// log which kind it leaves out and why, and keeps the StatefulSets'
// records as they are (not read as deleted) for when it may again.
func TestNotifierLeavesOutAKindItMayNotList(t *testing.T) {
	stsRecord := `{"namespace":"shop","name":"db","workloadKind":"StatefulSet","uid":"sts-db","status":"Running"}`
	cs := fake.NewClientset(append(seedState(map[string]string{"shop_sts_db": stsRecord}, term{Holder: "replica-0"}),
		statefulSetIn("shop", "db", deployment.Running), daemonSetIn("shop", "agent", deployment.Running))...)
	cs.PrependReactor("list", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(appsv1.Resource("statefulsets"), "", nil)
	})
	r := newReceiver(t)
	var log logBuffer
	n := newKindsNotifier(t, cs, r.srv.URL, &log, webhook.Started)
	startNotifier(t, n)
	if l := log.String(); !strings.Contains(l, "notifications leave out statefulsets in namespace shop: ask for list and watch on statefulsets to notify about them") ||
		!strings.Contains(l, "forbidden") {
		t.Errorf("log:\n%s\nwant the StatefulSets left out, with the Forbidden error", l)
	}
	testutil.Eventually(t, 30*time.Second, "the DaemonSet's record", func() bool { return records(t, cs)["shop_ds_agent"].UID == "ds-agent" })
	if _, err := cs.AppsV1().DaemonSets("shop").Update(context.Background(), daemonSetIn("shop", "agent", deployment.Progressing), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the DaemonSet's message", func() bool { return len(r.messages()) == 1 })
	if m := r.messages()[0]; m.WorkloadKind != deployment.KindDaemonSet || m.Kind != webhook.Started {
		t.Errorf("message %+v; want the DaemonSet's started", m)
	}
	// Read after the catch-up and a later write of the shards.
	var got record
	for _, cm := range stateConfigMaps(t, cs) {
		if v, ok := cm.Data["shop_sts_db"]; ok {
			if err := json.Unmarshal([]byte(v), &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got.UID != "sts-db" || got.Status != deployment.Running {
		t.Errorf("the StatefulSet's record is %+v; want it kept as it was", got)
	}
}

// TestNotifierWithoutWorkloadsFollowsDeployments: without Workloads (as
// before other kinds) only Deployments are listed; a StatefulSet's record
// is kept.
func TestNotifierWithoutWorkloadsFollowsDeployments(t *testing.T) {
	stsRecord := `{"namespace":"shop","name":"db","workloadKind":"StatefulSet","uid":"sts-db","status":"Running"}`
	cs := fake.NewClientset(append(seedState(map[string]string{"shop_sts_db": stsRecord}, term{Holder: "replica-0"}),
		deploymentIn("shop", "web", deployment.Running))...)
	n := newTestNotifier(t, cs, "http://127.0.0.1:9/")
	startNotifier(t, n)
	testutil.Eventually(t, 30*time.Second, "the Deployment's record", func() bool { return records(t, cs)["shop_web"].Status == deployment.Running })
	if _, ok := records(t, cs)["shop_sts_db"]; !ok {
		t.Error("the StatefulSet's record was removed by a notifier that does not follow StatefulSets")
	}
	for _, a := range cs.Actions() {
		if r := a.GetResource().Resource; r == "statefulsets" || r == "daemonsets" {
			t.Errorf("%s %s without Workloads", a.GetVerb(), r)
		}
	}
}
