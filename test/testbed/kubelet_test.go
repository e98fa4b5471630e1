package testbed_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestStopKubelet: a stopped kubelet's node goes Unknown by the real node
// lifecycle controller's hand, which marks its pod not ready with a
// NodeNotReady event, while kwok keeps the other nodes alive; started
// again, the node and its pod are ready again. Clusters that did not ask
// for it refuse.
func TestStopKubelet(t *testing.T) {
	skipIfShort(t)
	if err := testbed.Shared().StopKubelet("kwok-node-0"); err == nil || !strings.Contains(err.Error(), "Options{KubeletStops: true}") {
		t.Errorf("StopKubelet on the shared cluster: %v, want a refusal that names the option", err)
	}

	c := testbed.StartWith(t, testbed.Options{Nodes: 3, KubeletStops: true})
	for component, want := range map[string][]string{
		testbed.ControllerManager: {"--node-monitor-grace-period=20s", "--node-monitor-period=1s"},
		testbed.KwokController:    {"--node-lease-duration-seconds=20"},
	} {
		cmdline := cmdlineOf(t, c, component) + " "
		for _, flag := range want {
			if !strings.Contains(cmdline, flag+" ") {
				t.Errorf("%s runs without %s: %s", component, flag, cmdline)
			}
		}
	}

	ctx := context.Background()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	labels := map[string]string{"app": "agent"}
	_, err := cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: testutil.PauseImage}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	testutil.Eventually(t, 2*time.Minute, "a ready pod on each of the 3 nodes", func() bool {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 3 {
			return false
		}
		pods = list.Items
		for _, p := range pods {
			if podReady(&p) != corev1.ConditionTrue {
				return false
			}
		}
		return true
	})
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	stopped, node := pods[0].Name, pods[0].Spec.NodeName

	if err := c.StopKubelet(node); err != nil {
		t.Fatal(err)
	}
	lease := func(name string) *metav1.MicroTime {
		t.Helper()
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Spec.RenewTime
	}
	silentSince := lease(node)
	testutil.Eventually(t, time.Minute, "the NodeNotReady event on the stopped node's pod", func() bool {
		return len(nodeNotReadyEvents(t, cs, ns, stopped)) > 0
	})
	if got := podReady(getPod(t, cs, ns, stopped)); got != corev1.ConditionFalse {
		t.Errorf("pod %s on the stopped node: Ready %s, want False", stopped, got)
	}
	if e := nodeNotReadyEvents(t, cs, ns, stopped)[0]; e.Type != corev1.EventTypeWarning || e.Message != "Node is not ready" || e.Source.Component != "node-controller" {
		t.Errorf("event %s %q from %q, want the node controller's Warning \"Node is not ready\"", e.Type, e.Message, e.Source.Component)
	}

	// kwok stays silent: another node's lease is renewed twice (every 5 s)
	// while the stopped node's is not, and it stays Unknown.
	other := pods[1].Spec.NodeName
	first := lease(other)
	testutil.Eventually(t, time.Minute, "two renewals of "+other+"'s lease", func() bool {
		return lease(other).Sub(first.Time) > 9*time.Second // two renewals: one takes 5 to 5.2 s
	})
	if got := lease(node); !got.Equal(silentSince) {
		t.Errorf("the stopped node's lease was renewed at %v", got)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionUnknown {
			t.Errorf("stopped node %s is Ready %s (%s), want Unknown", node, cond.Status, cond.Reason)
		}
	}
	for _, p := range pods[1:] {
		if got := podReady(getPod(t, cs, ns, p.Name)); got != corev1.ConditionTrue {
			t.Errorf("pod %s on running node %s: Ready %s", p.Name, p.Spec.NodeName, got)
		}
	}

	if err := c.StartKubelet(node); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the pod on the started node to be ready again", func() bool {
		return podReady(getPod(t, cs, ns, stopped)) == corev1.ConditionTrue
	})
}

func getPod(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func podReady(p *corev1.Pod) corev1.ConditionStatus {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status
		}
	}
	return corev1.ConditionUnknown
}

func nodeNotReadyEvents(t *testing.T, cs kubernetes.Interface, ns, pod string) []corev1.Event {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + pod + ",reason=NodeNotReady"})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}
