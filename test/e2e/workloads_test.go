package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// This file holds StatefulSets and DaemonSets to the real controllers of
// the test bed: watch and --until-complete follow them beside Deployments.

var (
	stsImage1 = testutil.PauseImage
	stsImage2 = "registry.k8s.io/pause:3.9"
)

func podTemplate(name string, labels map[string]string) corev1.PodTemplateSpec {
	l := map[string]string{"app": name}
	for k, v := range labels {
		l[k] = v
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: stsImage1}}}}
}

// createStatefulSet creates StatefulSet name in ns (OrderedReady,
// RollingUpdate, as the API server defaults them), lets edit change it,
// and with rolledOut waits until its controller reports it rolled out.
func createStatefulSet(t *testing.T, ns, name string, replicas int32, rolledOut bool, edit func(*appsv1.StatefulSet)) {
	t.Helper()
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: name,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: podTemplate(name, nil)},
	}
	if edit != nil {
		edit(sts)
	}
	c := testbed.Clientset(t).AppsV1().StatefulSets(ns)
	if _, err := c.Create(context.Background(), sts, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create statefulset %s: %v", name, err)
	}
	if rolledOut {
		testutil.Eventually(t, 2*time.Minute, "statefulset "+name+" to roll out", func() bool {
			s, err := c.Get(context.Background(), name, metav1.GetOptions{})
			return err == nil && s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == replicas &&
				s.Status.UpdatedReplicas == replicas && s.Status.CurrentRevision == s.Status.UpdateRevision
		})
	}
}

func createDaemonSet(t *testing.T, ns, name string, edit func(*appsv1.DaemonSet)) {
	t.Helper()
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, nil)},
	}
	if edit != nil {
		edit(ds)
	}
	if _, err := testbed.Clientset(t).AppsV1().DaemonSets(ns).Create(context.Background(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create daemonset %s: %v", name, err)
	}
}

// patchImage sets the image of the first container of kind/name in ns
// (kind as kubectl names it: statefulset, daemonset).
func patchImage(t *testing.T, ns, kind, name, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
	var err error
	switch kind {
	case "statefulset":
		_, err = testbed.Clientset(t).AppsV1().StatefulSets(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	case "daemonset":
		_, err = testbed.Clientset(t).AppsV1().DaemonSets(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	}
	if err != nil {
		t.Fatalf("set the image of %s/%s: %v", kind, name, err)
	}
}

func getStatefulSet(t *testing.T, ns, name string) *appsv1.StatefulSet {
	t.Helper()
	s, err := testbed.Clientset(t).AppsV1().StatefulSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kindEvent waits for an event of the workload of this kind and name.
func (p *watchProc) kindEvent(t *testing.T, kind, name, what string, cond func(deployment.Event) bool) deployment.Event {
	t.Helper()
	return p.waitEvent(t, name, what, func(e deployment.Event) bool { return e.Kind == kind && cond(e) })
}

// lastEvents are the last events of each workload in NDJSON output, by
// kind and name ("StatefulSet/db").
func lastEvents(t *testing.T, stdout string) map[string]deployment.Event {
	t.Helper()
	last := map[string]deployment.Event{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		var e deployment.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		last[e.Kind+"/"+e.Name] = e
	}
	return last
}

// TestStatefulSets follows StatefulSets through the real controller: a
// clean rollout, a partitioned one that completes at its partition,
// OnDelete, and a bad image whose rollback the OrderedReady policy blocks
// until the pod it names is deleted.
func TestStatefulSets(t *testing.T) {
	t.Run("clean rollout", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		createStatefulSet(t, ns, "db", 3, true, nil)
		w := startWatch(t, "watch", ns, "-o", "ndjson")
		w.kindEvent(t, deployment.KindStatefulSet, "db", "is Running", func(e deployment.Event) bool {
			return e.Type == deployment.Added && e.Status == deployment.Running && e.Replicas.Ready == 3
		})
		patchImage(t, ns, "statefulset", "db", stsImage2)
		w.kindEvent(t, deployment.KindStatefulSet, "db", "rolls out", func(e deployment.Event) bool { return e.Status == deployment.Progressing })
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m", "-o", "ndjson")
		if res.code != 0 {
			t.Fatalf("--until-complete exit %d, want 0", res.code)
		}
		sts := getStatefulSet(t, ns, "db")
		if sts.Status.UpdatedReplicas != 3 || sts.Status.CurrentRevision != sts.Status.UpdateRevision {
			t.Errorf("exit 0 before the rollout ended: %+v", sts.Status)
		}
		last := lastEvents(t, res.stdout)["StatefulSet/db"]
		if last.Status != deployment.Running || last.Containers[0].Image != stsImage2 || last.Replicas.Updated != 3 {
			t.Errorf("last event %+v, want Running with %s on 3 updated pods", last, stsImage2)
		}
	})

	t.Run("partitioned", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		partition := int32(2)
		createStatefulSet(t, ns, "db", 3, true, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &partition}}
		})
		patchImage(t, ns, "statefulset", "db", stsImage2)
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m", "-o", "ndjson")
		if res.code != 0 {
			t.Fatalf("--until-complete exit %d, want 0: a partitioned rollout completes at its partition", res.code)
		}
		sts := getStatefulSet(t, ns, "db")
		if sts.Status.UpdatedReplicas != 1 || sts.Status.ReadyReplicas != 3 {
			t.Errorf("exit 0 before db-2 was updated and ready: %+v", sts.Status)
		}
		last := lastEvents(t, res.stdout)["StatefulSet/db"]
		if last.Status != deployment.Running || last.Message != "partitioned rollout complete: 1 of 3 pods updated, partition 2" {
			t.Errorf("last event %s %q", last.Status, last.Message)
		}
	})

	t.Run("OnDelete", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		createStatefulSet(t, ns, "db", 2, true, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		})
		w := startWatch(t, "watch", ns, "-o", "ndjson")
		w.kindEvent(t, deployment.KindStatefulSet, "db", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })
		patchImage(t, ns, "statefulset", "db", stsImage2)
		w.kindEvent(t, deployment.KindStatefulSet, "db", "says its pods must be deleted", func(e deployment.Event) bool {
			return e.Status == deployment.Paused && e.Message == "updateStrategy OnDelete: 0 of 2 pods updated; delete the old pods to update them"
		})
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m")
		if res.code != 1 {
			t.Fatalf("--until-complete exit %d, want 1: the rollout does not go on by itself", res.code)
		}
		opsContains(t, "stderr", res.stderr, "error: statefulset "+ns+"/db is Paused: updateStrategy OnDelete", "kubectl rollout history statefulset/db -n "+ns)
		for _, pod := range []string{"db-0", "db-1"} {
			if err := testbed.Clientset(t).CoreV1().Pods(ns).Delete(context.Background(), pod, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete pod %s: %v", pod, err)
			}
		}
		w.kindEvent(t, deployment.KindStatefulSet, "db", "updated by the deletes", func(e deployment.Event) bool {
			return e.Status == deployment.Running && e.Replicas.Updated == 2
		})
	})

	t.Run("quota", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		_, err := testbed.Clientset(t).CoreV1().ResourceQuotas(ns).Create(context.Background(), &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "pods"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		createStatefulSet(t, ns, "db", 2, false, nil)
		// The controller's FailedCreate event on the StatefulSet says why
		// db-1 is never made.
		r := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "2s", "--timeout", "2m", "-o", "ndjson")
		if r.code != 1 {
			t.Fatalf("--until-complete exit %d, want 1", r.code)
		}
		opsContains(t, "the error", r.stderr, "statefulset "+ns+"/db is Failing: FailedCreate", "exceeded quota")
	})

	t.Run("bad image and the OrderedReady trap", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		createStatefulSet(t, ns, "db", 3, true, nil)
		w := startWatch(t, "watch", ns, "-o", "ndjson")
		patchImage(t, ns, "statefulset", "db", testbed.FaultImage(testbed.FaultImagePull))
		rollback := fmt.Sprintf("a rollback will not replace db-2 until it is deleted (kubectl delete pod db-2 -n %s --wait=false)", ns)
		w.kindEvent(t, deployment.KindStatefulSet, "db", "is Failing on db-2", func(e deployment.Event) bool {
			return e.Status == deployment.Failing && len(e.Problems) > 0 && e.Problems[0].Pod == "db-2" &&
				strings.Contains(e.Message, "ImagePull") && strings.HasSuffix(e.Message, rollback)
		})

		// Rolled back, the controller still waits for db-2 (kubernetes#67250).
		patchImage(t, ns, "statefulset", "db", stsImage1)
		unblock := "kubectl delete pod db-2 -n " + ns + " --wait=false"
		w.kindEvent(t, deployment.KindStatefulSet, "db", "is blocked on the old pod db-2", func(e deployment.Event) bool {
			return e.Status == deployment.Failing && len(e.Problems) > 0 && e.Problems[0].Blocking &&
				strings.HasSuffix(e.Message, "delete it to unblock the rollout: "+unblock)
		})
		sts := getStatefulSet(t, ns, "db")
		if sts.Status.UpdateRevision != sts.Status.CurrentRevision {
			t.Fatalf("the rollback is a new revision (%s, current %s): the trap needs the old one back", sts.Status.UpdateRevision, sts.Status.CurrentRevision)
		}
		res := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "1s", "--timeout", "2m")
		if res.code != 1 {
			t.Fatalf("--until-complete exit %d, want 1", res.code)
		}
		failures := parseFailures(t, res.stderr)
		if len(failures) != 1 || !strings.HasPrefix(failures[0].line, "error: statefulset "+ns+"/db is Failing") ||
			len(failures[0].steps) == 0 || failures[0].steps[0] != "kubectl delete pod db-2 -n "+ns+" --wait=false" {
			t.Fatalf("failures %+v, want the statefulset with the delete first", failures)
		}

		// The next step given unblocks it, run as printed.
		if r := runStep(t, failures[0].steps[0]); r.code != 0 {
			t.Fatalf("%s: exit %d: %s", failures[0].steps[0], r.code, r.stderr)
		}
		w.kindEvent(t, deployment.KindStatefulSet, "db", "is Running again", func(e deployment.Event) bool {
			return e.Status == deployment.Running && e.Replicas.Ready == 3
		})
	})
}

// TestDaemonSetRollout follows a DaemonSet on the test bed's nodes.
func TestDaemonSetRollout(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDaemonSet(t, ns, "agent", nil)
	res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m", "-o", "ndjson")
	if res.code != 0 {
		t.Fatalf("--until-complete exit %d, want 0", res.code)
	}
	last := lastEvents(t, res.stdout)["DaemonSet/agent"]
	if last.Status != deployment.Running || last.Replicas.Desired != testbed.Nodes || last.Replicas.Available != testbed.Nodes {
		t.Fatalf("last event %+v, want Running on %d nodes", last, testbed.Nodes)
	}

	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "is listed", func(e deployment.Event) bool { return e.Type == deployment.Added })
	patchImage(t, ns, "daemonset", "agent", stsImage2)
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "rolls out", func(e deployment.Event) bool { return e.Status == deployment.Progressing })
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "rolled out", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Replicas.Updated == testbed.Nodes && e.Containers[0].Image == stsImage2
	})

	// A bad image: the new pods are diagnosed.
	patchImage(t, ns, "daemonset", "agent", testbed.FaultImage(testbed.FaultImagePull))
	w.kindEvent(t, deployment.KindDaemonSet, "agent", "is Failing", func(e deployment.Event) bool {
		return e.Status == deployment.Failing && strings.Contains(e.Message, "ImagePull") && len(e.Problems) > 0 && e.Problems[0].Pods > 0
	})
}

// TestUntilCompleteAllKinds gates a namespace with a Deployment, a
// StatefulSet and a DaemonSet as one: the stuck StatefulSet fails it,
// -l selects across kinds, --kind selects kinds, and the table names each
// row's kind.
func TestUntilCompleteAllKinds(t *testing.T) {
	ns := testbed.NewNamespace(t)
	release := map[string]string{"app.kubernetes.io/instance": "rel"}
	opsDeployment(t, ns, "web", 2, true, func(d *appsv1.Deployment) { d.Labels = release })
	createDaemonSet(t, ns, "agent", func(d *appsv1.DaemonSet) { d.Labels = release })
	createStatefulSet(t, ns, "db", 2, false, func(s *appsv1.StatefulSet) {
		s.Labels = release
		s.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultImagePull)
	})
	// Outside the release: a StatefulSet that will not be watched with -l.
	createStatefulSet(t, ns, "other", 1, false, func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultImagePull)
	})

	res := opsRun(t, "watch", ns, "-l", "app.kubernetes.io/instance=rel", "--until-complete", "--failing-grace", "2s", "--timeout", "2m")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1: the StatefulSet is stuck", res.code)
	}
	failures := parseFailures(t, res.stderr)
	if len(failures) != 1 || !strings.HasPrefix(failures[0].line, "error: statefulset "+ns+"/db is Failing: ") || !strings.Contains(failures[0].line, "ImagePull") {
		t.Fatalf("failures %+v, want statefulset db alone", failures)
	}
	// Piped, several kinds: each name carries its kind.
	opsContains(t, "stdout", res.stdout, "NAME", "ds/agent", "sts/db", "deploy/web")
	if strings.Contains(res.stdout, "other") {
		t.Errorf("-l let in a StatefulSet outside the release:\n%s", res.stdout)
	}

	// --kind leaves the StatefulSets out: the rest is complete.
	res = opsRun(t, "watch", ns, "--kind", "deploy,daemonsets", "--until-complete", "--timeout", "2m", "-o", "ndjson")
	if res.code != 0 {
		t.Fatalf("--kind deploy,daemonsets: exit %d, want 0", res.code)
	}
	last := lastEvents(t, res.stdout)
	if len(last) != 2 || last["Deployment/web"].Status != deployment.Running || last["DaemonSet/agent"].Status != deployment.Running {
		t.Errorf("--kind deploy,daemonsets showed %v", last)
	}

	// One kind alone: plain names, as before other kinds.
	res = opsRun(t, "watch", ns, "--kind", "deploy", "--until-complete", "--timeout", "2m")
	if res.code != 0 || strings.Contains(res.stdout, "deploy/") || !strings.Contains(res.stdout, "web") {
		t.Errorf("--kind deploy: exit %d, stdout:\n%s", res.code, res.stdout)
	}

	res = opsRun(t, "watch", ns, "--kind", "pods")
	if res.code != 1 || res.stdout != "" || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 ||
		!strings.Contains(res.stderr, `unknown kind "pods": use deploy, sts or ds`) {
		t.Errorf("--kind pods: exit %d, stdout %q, stderr %q; want one line naming the kinds", res.code, res.stdout, res.stderr)
	}
}

// TestWatchLiveTableKinds: on a terminal, --kind sts over a namespace with
// only a Deployment says there is no StatefulSet (not "no deployments"),
// then shows the StatefulSet created after it; without --kind the rows of
// the two kinds carry their kind's short name.
func TestWatchLiveTableKinds(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 1, true, nil)
	tmux, waitPane, rowOf := newTmux(t, 160, 30)

	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns+" --kind sts; echo exit=$?", "Enter")
	screen := waitPane("No statefulsets found.", func(s string) bool { return strings.Contains(s, "No statefulsets found.") })
	opsContains(t, "the empty live table", screen, `statefulsets in namespace "`+ns+`"`)
	if strings.Contains(screen, "web") {
		t.Errorf("--kind sts shows the Deployment:\n%s", screen)
	}
	createStatefulSet(t, ns, "db", 1, false, nil)
	screen = waitPane("db Running 1/1", func(s string) bool {
		r := rowOf(s, "db")
		return len(r) == 1 && strings.Contains(r[0], "Running") && strings.Contains(r[0], "1/1")
	})
	if strings.Contains(screen, "No statefulsets found.") || strings.Contains(screen, "sts/db") {
		t.Errorf("one kind's rows carry no kind, and the empty line is gone:\n%s", screen)
	}
	tmux("send-keys", "-t", "e2e", "C-c")
	waitPane("the shell back with the exit code", regexp.MustCompile(`(?m)^exit=\d+`).MatchString)

	tmux("send-keys", "-t", "e2e", "clear; kubectl deploywatch "+ns, "Enter")
	screen = waitPane("deploy/web and sts/db", func(s string) bool {
		return len(rowOf(s, "deploy/web")) == 1 && len(rowOf(s, "sts/db")) == 1
	})
	opsContains(t, "the live table of two kinds", screen, "2 workloads: 2 Running")

	// At 80 columns what is watched gives way to the counts: the kinds go
	// (the counts name them), the namespace stays.
	tmux("resize-window", "-t", "e2e", "-x", "80")
	screen = waitPane("the title at 80 columns", func(s string) bool {
		title, _, _ := strings.Cut(s, "\n")
		return strings.HasPrefix(title, `namespace "`+ns+`" · `) && strings.HasSuffix(strings.TrimSpace(title), " · 2 workloads: 2 Running")
	})
	if title, _, _ := strings.Cut(screen, "\n"); utf8.RuneCountInString(strings.TrimSpace(title)) > 80 {
		t.Errorf("the title is wider than the terminal: %q", title)
	}
	tmux("send-keys", "-t", "e2e", "C-c")
}
