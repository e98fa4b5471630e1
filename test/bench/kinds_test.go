package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchKinds: what StatefulSets and DaemonSets cost beside Deployments
// (issue 28). N Deployments, each with a running pod, watched with
// `watch -A` and --diagnose=false; then M StatefulSets and M DaemonSets of
// one running pod each join them and the same is watched again, with
// --kind deploy beside (today's view of the same cluster).
func benchKinds(t *testing.T, r *report) {
	namespaces, perNS := pick(100, 10), 100
	pc := startPodCluster(t, "kinds", namespaces, perNS)
	testbed.BuildPlugin(t)
	measureKinds(t, r, pc, namespaces*perNS, pick(1000, 100))
}

// measureKinds measures pc's total Deployments alone, then adds each
// StatefulSets and each DaemonSets and measures again.
func measureKinds(t *testing.T, r *report, pc *podCluster, total, each int) {
	const runs = 3
	type tool struct {
		name string
		args []string
		rows int
	}
	all := total + 2*each
	measure := func(phase string, tools []tool) [][2]string {
		out := make([][2]string, len(tools))
		for i, tool := range tools {
			out[i] = medianView(t, pc.c, phase+": "+tool.name, tool.args, int64(tool.rows)+1, runs) // the header, then a row each
		}
		return out
	}
	watchA := []string{"deploywatch", "watch", "-A"}
	noDiagnosis := []string{"deploywatch", "watch", "-A", "--diagnose=false"}
	load0 := loadavg()
	before := measure("Deployments alone", []tool{{"watch -A", watchA, total}, {"watch -A --diagnose=false", noDiagnosis, total}})

	t0 := time.Now()
	pc.addStatefulAndDaemonSets(t, "kinds-sd", each)
	made := time.Since(t0)
	load1 := loadavg()
	after := measure("with StatefulSets and DaemonSets", []tool{
		{"watch -A", watchA, all},
		{"watch -A --diagnose=false", noDiagnosis, all},
		{"watch -A --kind deploy", append(slices.Clone(watchA), "--kind", "deploy"), total},
	})

	sec := section{
		title: fmt.Sprintf("14. Kinds: %d Deployments, then with %d StatefulSets and %d DaemonSets beside them, each with one running pod, median of %d runs", total, each, each, runs),
		head:  []string{"client", "cluster", "rows", "all shown", "peak RSS"},
	}
	sec.rows = append(sec.rows,
		[]string{"watch -A", fmt.Sprintf("%d Deployments", total), fmt.Sprint(total), before[0][0], before[0][1]},
		[]string{"watch -A --diagnose=false", fmt.Sprintf("%d Deployments", total), fmt.Sprint(total), before[1][0], before[1][1]},
		[]string{"watch -A", fmt.Sprintf("+ %d sts, %d ds", each, each), fmt.Sprint(all), after[0][0], after[0][1]},
		[]string{"watch -A --diagnose=false", fmt.Sprintf("+ %d sts, %d ds", each, each), fmt.Sprint(all), after[1][0], after[1][1]},
		[]string{"watch -A --kind deploy", fmt.Sprintf("+ %d sts, %d ds", each, each), fmt.Sprint(total), after[2][0], after[2][1]},
	)
	sec.notes = append(sec.notes, fmt.Sprintf("A cluster of the benchmark's own; the Deployments were created, and their pods ran, in %v; the StatefulSets and DaemonSets "+
		"(in namespaces of their own, each DaemonSet held to one node by a node label) ran their pods %v after they were created. Load average before the first rows: %s; before the last: %s. "+
		"Time from starting the command to reading the piped table's last row; RSS is the process's VmHWM then (\"file\": its RssFile, the binary's mapped pages). "+
		"With the diagnosis, `watch -A` of every kind also lists and watches ReplicaSets, ControllerRevisions, Pods, Warning Events, Services, EndpointSlices and PodDisruptionBudgets; "+
		"`--kind deploy` on the same cluster is today's view (its pods informer still holds every pod).", pc.created.Round(time.Second), made.Round(time.Second), load0, load1))
	r.add(sec)
}

// addStatefulAndDaemonSets adds each StatefulSets and each DaemonSets of
// one pod, a hundred of each per namespace PREFIX-NNN, on nodes of their
// own (the Deployments' pods fill the others): a DaemonSet runs a pod on
// every node it may, so each is held to one node by a label, 100 to a node;
// and waits until their pods run.
func (pc *podCluster) addStatefulAndDaemonSets(t *testing.T, prefix string, each int) {
	ctx := context.Background()
	// Counted before any is created: the DaemonSets' controller is quick.
	before, err := pc.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := pc.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, n := range old.Items {
		known[n.Name] = true
	}
	groups := (each + 99) / 100
	pc.scaleNodes(t, pc.nodes+2*groups)
	all, err := pc.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fresh []string
	for _, n := range all.Items {
		if !known[n.Name] {
			fresh = append(fresh, n.Name)
		}
	}
	if len(fresh) < 2*groups {
		t.Fatalf("%d new nodes, want %d", len(fresh), 2*groups)
	}
	slices.Sort(fresh)
	const label = "deploywatch-bench/kinds"
	for i, name := range fresh[:2*groups] {
		group := fmt.Sprintf("ds-%d", i)
		if i >= groups {
			group = "sts"
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, label, group)
		if _, err := pc.cs.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("label node %s: %v", name, err)
		}
	}
	for g := range groups {
		if _, err := pc.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%03d", prefix, g)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	template := func(name, node string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{NodeSelector: map[string]string{label: node}, Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	}
	selector := func(name string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	}
	inParallel(t, 32, 0, each, "StatefulSet and DaemonSet pairs", func(i int) error {
		ns, one := fmt.Sprintf("%s-%03d", prefix, i/100), int32(1)
		ds, sts := fmt.Sprintf("agent-%04d", i%100), fmt.Sprintf("db-%04d", i%100)
		_, err := pc.cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: ds},
			Spec: appsv1.DaemonSetSpec{Selector: selector(ds), Template: template(ds, fmt.Sprintf("ds-%d", i/100))}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		_, err = pc.cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: sts},
			Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: sts, PodManagementPolicy: appsv1.ParallelPodManagement,
				Selector: selector(sts), Template: template(sts, "sts")}}, metav1.CreateOptions{})
		return err
	})
	pc.waitRunning(t, len(before.Items)+2*each)
}
