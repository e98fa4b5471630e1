package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

const leaseNS = "deploywatch"

// fakeApps tells the tracker's informer that the fake cannot stream lists
// (see tracker.New).
type fakeApps struct{ appsv1client.AppsV1Interface }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// deploymentIn builds a Deployment that Classify reads as status.
func deploymentIn(ns, name string, status deployment.Status) *appsv1.Deployment {
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}},
	}
	switch status {
	case deployment.Failed:
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
		d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "x" has timed out progressing.`}
	case deployment.Progressing:
		d.Status.Replicas = 2 // an old pod still there
	}
	if got := deployment.Summarize(d, nil).Status; got != status {
		panic(fmt.Sprintf("deploymentIn(%s) classifies as %s", status, got))
	}
	return d
}

func newTestNotifier(t *testing.T, cs *fake.Clientset, url string, on ...Kind) *Notifier {
	t.Helper()
	n, err := New(Options{
		Deployments: fakeApps{cs.AppsV1()}, ConfigMaps: cs.CoreV1(), Leases: cs.CoordinationV1(),
		Namespaces: []string{"shop"}, On: on, Webhooks: []string{url},
		Timeout: time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		LeaseNamespace: leaseNS, Identity: "replica-1",
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func startNotifier(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); n.Wait() })
	eventually(t, "leading", n.isLeading)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// records reads the ConfigMap's records.
func records(t *testing.T, cs *fake.Clientset) map[string]record {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(leaseNS).Get(context.Background(), DefaultLeaseName+"-state", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]record{}
	for k, v := range cm.Data {
		var r record
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			t.Fatalf("record %s: %v", k, err)
		}
		out[k] = r
	}
	return out
}

func setStatus(t *testing.T, cs *fake.Clientset, status deployment.Status) {
	t.Helper()
	if _, err := cs.AppsV1().Deployments("shop").Update(context.Background(), deploymentIn("shop", "web", status), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func kinds(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Kind)+":"+m.Namespace+"/"+m.Deployment)
	}
	sort.Strings(out)
	return out
}

func TestNotifierSendsOncePerTransition(t *testing.T) {
	cs := fake.NewClientset(deploymentIn("shop", "web", deployment.Running))
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL)
	startNotifier(t, n)
	eventually(t, "the baseline record", func() bool { return records(t, cs)["shop_web"].Status == deployment.Running })

	setStatus(t, cs, deployment.Progressing) // started: not selected, recorded
	eventually(t, "Progressing recorded", func() bool { return records(t, cs)["shop_web"].Status == deployment.Progressing })
	setStatus(t, cs, deployment.Failed)
	eventually(t, "the failed message", func() bool { return len(r.messages()) == 1 })
	setStatus(t, cs, deployment.Running)
	eventually(t, "the recovered message", func() bool { return len(r.messages()) == 2 })
	eventually(t, "the delivery recorded", func() bool { return !records(t, cs)["shop_web"].Pending })

	got := r.messages()
	if got[0].Kind != Failed || got[0].OldStatus != deployment.Progressing || got[0].NewStatus != deployment.Failed ||
		got[1].Kind != Recovered || got[1].OldStatus != deployment.Failed || got[1].NewStatus != deployment.Running {
		t.Errorf("messages %+v; want failed (Progressing -> Failed) then recovered (Failed -> Running)", got)
	}
	if l, err := cs.CoordinationV1().Leases(leaseNS).Get(context.Background(), DefaultLeaseName, metav1.GetOptions{}); err != nil || *l.Spec.HolderIdentity != "replica-1" {
		t.Errorf("lease %v, %v; want held by replica-1", l, err)
	}
}

func TestNotifierCatchesUpAndResends(t *testing.T) {
	pending := newMessage(Completed, deployment.Progressing, deployment.Summarize(deploymentIn("shop", "c", deployment.Running), nil), time.Now())
	rec := func(name string, status deployment.Status, m *Message) string {
		b, _ := json.Marshal(record{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), Status: status, Pending: m != nil, Message: m})
		return string(b)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: DefaultLeaseName + "-state"}, Data: map[string]string{
		"shop_a":    rec("a", deployment.Running, nil),      // failed while no one led
		"shop_b":    rec("b", deployment.Failed, nil),       // already notified
		"shop_c":    rec("c", deployment.Running, &pending), // claimed, maybe never sent
		"shop_gone": rec("gone", deployment.Running, nil),   // deleted while no one led
		"other_x":   `{"namespace":"other","name":"x","uid":"u","status":"Running"}`,
	}}
	cs := fake.NewClientset(cm, deploymentIn("shop", "a", deployment.Failed), deploymentIn("shop", "b", deployment.Failed), deploymentIn("shop", "c", deployment.Running),
		deploymentIn("shop", "d", deployment.Failed), deploymentIn("shop", "e", deployment.Progressing))
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL, Failed, Recovered, Completed)
	startNotifier(t, n)
	eventually(t, "three messages", func() bool { return len(r.messages()) >= 3 })
	eventually(t, "no record pending", func() bool {
		for _, r := range records(t, cs) {
			if r.Pending {
				return false
			}
		}
		return true
	})
	got := r.messages()
	if k := kinds(got); len(k) != 3 || k[0] != "completed:shop/c" || k[1] != "failed:shop/a" || k[2] != "failed:shop/d" {
		t.Errorf("messages %v; want the catch-up failed of a, the resent completed of c and the failed of d (no record), nothing for b or e", k)
	}
	if r := records(t, cs)["shop_e"]; r.Status != deployment.Progressing {
		t.Errorf("record of e %+v; want Progressing recorded", r)
	}
	for _, m := range got {
		if m.Kind == Completed && m.ID != pending.ID {
			t.Errorf("resent ID %q; want the claimed %q, so receivers can deduplicate", m.ID, pending.ID)
		}
	}
	recs := records(t, cs)
	if _, ok := recs["shop_gone"]; ok {
		t.Error("the record of a deleted Deployment stayed")
	}
	if _, ok := recs["other_x"]; !ok {
		t.Error("the record of a namespace this notifier does not watch was removed")
	}
}

// TestNotifierConflictClaimsOnce: another replica claims the transition
// between this one's read and write; the write conflicts, and this one
// sends nothing.
func TestNotifierConflictClaimsOnce(t *testing.T) {
	cs := fake.NewClientset(deploymentIn("shop", "web", deployment.Failed))
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL)
	ctx := context.Background()
	base := map[string]record{"shop_web": {Namespace: "shop", Name: "web", UID: "uid-web", Status: deployment.Running}}
	if err := n.store.save(ctx, base); err != nil {
		t.Fatal(err)
	}
	if err := n.store.load(ctx); err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	cs.PrependReactor("update", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			return false, nil, nil
		}
		conflicts++
		// The rival's claim lands first.
		b, _ := json.Marshal(record{Namespace: "shop", Name: "web", UID: "uid-web", Status: deployment.Failed, Kind: Failed})
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: DefaultLeaseName + "-state"}, Data: map[string]string{"shop_web": string(b)}}
		if err := cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("configmaps"), cm, leaseNS); err != nil {
			t.Error(err)
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("configmaps"), cm.Name, fmt.Errorf("the object has been modified"))
	})
	s := deployment.Summarize(deploymentIn("shop", "web", deployment.Failed), nil)
	n.apply(ctx, []observation{{s: s}}, nil)
	if conflicts != 1 {
		t.Fatalf("%d conflicts; the test did not exercise one", conflicts)
	}
	if st := n.deliver.Stats(); st.Queued != 0 {
		t.Errorf("%d messages queued after the rival claimed the transition; want none", st.Queued)
	}
	if rec := records(t, cs)["shop_web"]; rec.Status != deployment.Failed || rec.Pending {
		t.Errorf("record %+v; want the rival's claim kept", rec)
	}
}

func TestDecide(t *testing.T) {
	n := &Notifier{on: map[Kind]bool{Completed: true}, opts: Options{Now: time.Now}}
	data := map[string]record{}
	sum := func(status deployment.Status) deployment.Summary {
		return deployment.Summarize(deploymentIn("shop", "web", status), nil)
	}
	steps := []struct {
		status         deployment.Status
		deleted, added bool
		want           Kind
	}{
		{deployment.Running, false, false, ""},     // first sight: recorded, no message
		{deployment.Progressing, false, false, ""}, // started: not selected
		{deployment.Running, false, false, Completed},
		{deployment.Running, false, false, ""},
		{deployment.Running, true, false, ""},
		{deployment.Failed, false, false, ""}, // after deletion: first sight again
		{deployment.Failed, true, false, ""},
		{deployment.Progressing, false, true, ""}, // created while leading: started, not selected
		{deployment.Running, false, false, Completed},
		{deployment.Running, true, false, ""},
		{deployment.Running, false, true, ""}, // created already Running: nothing started
		{deployment.Progressing, false, false, ""},
		{deployment.Running, false, false, Completed},
	}
	for i, st := range steps {
		m, _ := n.decide(data, observation{s: sum(st.status), deleted: st.deleted, added: st.added})
		var got Kind
		if m != nil {
			got = m.Kind
		}
		if got != st.want {
			t.Errorf("step %d (%s, deleted %v): message %q, want %q", i, st.status, st.deleted, got, st.want)
		}
	}
	if r := data["shop_web"]; r.Status != deployment.Running || r.Kind != Completed || !r.Pending || r.Message == nil {
		t.Errorf("record %+v; want Running, completed, pending with its message", r)
	}
}

// TestOnEventNeverBlocks: with the leader's loop not reading at all, the
// trackers' calls still return, and what waits stays bounded.
func TestOnEventNeverBlocks(t *testing.T) {
	n := newTestNotifier(t, fake.NewClientset(), "http://127.0.0.1:9/")
	n.leading = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range maxObservations + 500 {
			s := deployment.Summarize(deploymentIn("shop", fmt.Sprintf("d%d", i), deployment.Running), nil)
			n.OnEvent(deployment.Event{Type: deployment.Added, Summary: s})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("OnEvent blocked")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) != maxObservations || n.skipped != 500 || len(n.state) != maxObservations+500 {
		t.Errorf("pending %d, skipped %d, state %d; want %d, 500 and all", len(n.pending), n.skipped, len(n.state), maxObservations)
	}
}
