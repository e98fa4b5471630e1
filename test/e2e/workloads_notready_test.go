package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestDaemonSetNodeNotReady: a DaemonSet rolled out on 3 nodes, one of
// which goes silent (its kubelet stops: testbed's StopKubelet holds the
// node's Lease so kwok neither renews it nor reports the node or its pods).
// The real node lifecycle controller turns the node Unknown, marks its pod
// not ready and records NodeNotReady on it; deploywatch names that node as
// the cause of the unavailable pod, piped and in --until-complete's
// failure. Once the kubelet is back the pod is ready again and the
// DaemonSet completes by itself.
//
// Its own cluster: 3 nodes, and a node lifecycle controller that finds a
// silent node in 20 s (Options.KubeletStops) rather than kwokctl's 200 s.
func TestDaemonSetNodeNotReady(t *testing.T) {
	testbed.BuildPlugin(t) // before Env, which puts it on PATH only once built
	c := testbed.StartWith(t, testbed.Options{Nodes: 3, KubeletStops: true})
	env := c.Env()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: podTemplate("agent", nil)},
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(context.Background(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := runEnv(t, env, "watch", ns, "--until-complete", "--timeout", "2m", "-o", "ndjson")
	if last := lastEvents(t, res.stdout)["DaemonSet/agent"]; res.code != 0 || last.Status != deployment.Running || last.Replicas.Available != 3 {
		t.Fatalf("--until-complete exit %d, last event %+v: want the DaemonSet Running on 3 nodes", res.code, last)
	}

	w := startWatchEnv(t, env, "watch", ns, "-o", "ndjson")
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "is listed Running", func(e deployment.Event) bool {
		return e.Type == deployment.Added && e.Status == deployment.Running
	})

	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil || len(pods.Items) != 3 {
		t.Fatalf("pods of the daemonset: %v (%d)", err, len(pods.Items))
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	pod, node := pods.Items[0].Name, pods.Items[0].Spec.NodeName
	if err := c.StopKubelet(node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StartKubelet(node) }) // the cluster is the test's; only to leave it whole

	// The diagnosis reads the controller's own words: the pod's Ready False
	// and its NodeNotReady event. The node lifecycle controller also taints
	// the node unreachable NoSchedule, which daemon pods do not tolerate, so
	// the DaemonSet controller soon counts the node out (desired 2) and its
	// pod as misscheduled: the message still counts that pod among the 3.
	names := func(msg string) bool {
		return msg == "NodeNotReady: node "+node+" is not ready or unreachable (1 of 3 new pods; pod "+pod+")"
	}
	failing := w.kindEvent(t, deployment.KindDaemonSet, "agent", "is Failing on the silent node", func(e deployment.Event) bool {
		return e.Status == deployment.Failing
	})
	if !names(failing.Message) || len(failing.Problems) != 1 || failing.Problems[0].Node != node || failing.Problems[0].Pod != pod {
		t.Fatalf("Failing event: message %q, problems %+v; want node %s and pod %s named, alone", failing.Message, failing.Problems, node, pod)
	}
	assertPodMarked(t, cs, ns, pod)

	res = runEnv(t, env, "watch", ns, "--until-complete", "--failing-grace", "2s", "--timeout", "2m")
	failures := parseFailures(t, res.stderr)
	if res.code != 1 || len(failures) != 1 || !names(strings.TrimPrefix(failures[0].line, "error: daemonset "+ns+"/agent is Failing: ")) {
		t.Fatalf("--until-complete while %s is silent: exit %d, failures %+v; want 1, the daemonset Failing on node %s and pod %s", node, res.code, failures, node, pod)
	}

	if err := c.StartKubelet(node); err != nil {
		t.Fatal(err)
	}
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "is Running again once the node is back", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Replicas.Available == 3 && len(e.Problems) == 0
	})
	res = runEnv(t, env, "watch", ns, "--until-complete", "--timeout", "2m")
	if res.code != 0 {
		t.Fatalf("--until-complete after %s is back: exit %d, want 0", node, res.code)
	}
}

// assertPodMarked checks what the diagnosis stands on: the node lifecycle
// controller's Ready False on the pod and its NodeNotReady event.
func assertPodMarked(t *testing.T, cs kubernetes.Interface, ns, pod string) {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := corev1.ConditionUnknown
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			ready = cond.Status
		}
	}
	events, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + pod + ",reason=NodeNotReady"})
	if err != nil {
		t.Fatal(err)
	}
	if ready != corev1.ConditionFalse || len(events.Items) == 0 || events.Items[0].Message != "Node is not ready" ||
		events.Items[0].Source.Component != "node-controller" {
		t.Fatalf("pod %s: Ready %s, NodeNotReady events %+v; want Ready False and the node controller's event", pod, ready, events.Items)
	}
}
