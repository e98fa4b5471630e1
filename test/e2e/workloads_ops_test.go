package e2e

import (
	"context"
	"encoding/json"
	"slices"
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

const (
	imageA = "registry.k8s.io/pause:3.9"
	imageB = "registry.k8s.io/pause:3.10"
)

func workloadTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: imageA}}},
	}
}

// workloadPods are the pods of app, with the revision label the
// StatefulSet and DaemonSet controllers give them.
func workloadPods(t *testing.T, cs kubernetes.Interface, ns, app string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// podsRolledTo reports whether app has want pods, every one Ready, of
// ControllerRevision revision and with image.
func podsRolledTo(t *testing.T, cs kubernetes.Interface, ns, app string, want int, revision, image string) bool {
	pods := workloadPods(t, cs, ns, app)
	if len(pods) != want {
		return false
	}
	for _, p := range pods {
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || p.DeletionTimestamp != nil || p.Labels[appsv1.ControllerRevisionHashLabelKey] != revision || p.Spec.Containers[0].Image != image {
			return false
		}
	}
	return true
}

// workloadHistory runs history -o json.
type workloadRevision struct {
	Revision           int64  `json:"revision"`
	ControllerRevision string `json:"controllerRevision"`
	Current            bool   `json:"current"`
	Containers         []struct {
		Image string `json:"image"`
	} `json:"containers"`
}

func workloadHistory(t *testing.T, ns, ref string) []workloadRevision {
	t.Helper()
	r := opsRun(t, "-n", ns, "history", ref, "-o", "json")
	var h struct {
		Kind      string             `json:"kind"`
		Revisions []workloadRevision `json:"revisions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || r.code != 0 {
		t.Fatalf("history %s: exit %d, %v, stderr %s", ref, r.code, err, r.stderr)
	}
	return h.Revisions
}

// controllerRevisions are the workload's ControllerRevisions, by name.
func controllerRevisions(t *testing.T, cs kubernetes.Interface, ns, app string) map[string]int64 {
	t.Helper()
	list, err := cs.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, cr := range list.Items {
		out[cr.Name] = cr.Revision
	}
	return out
}

// refusedUnchanged runs a command that must be refused in one line before
// anything is written.
func refusedUnchanged(t *testing.T, rv func() string, args []string, want ...string) {
	t.Helper()
	before := rv()
	r := opsRun(t, args...)
	if r.code != 1 {
		t.Errorf("%v: exit %d, want 1", args, r.code)
	}
	opsBadInputMessage(t, r, want...)
	if after := rv(); after != before {
		t.Errorf("%v: resourceVersion moved from %s to %s", args, before, after)
	}
}

// TestWorkloadStatefulSetChanges: scale, set-image, restart, history and
// undo of a real StatefulSet named as kubectl names it, the pods rolled by
// the real controller each time; scale and set-image --wait end once the
// controller has rolled every pod; a server dry run persists nothing;
// pause and --fail-on-gap are refused with nothing changed.
func TestWorkloadStatefulSetChanges(t *testing.T) {
	ns := testbed.NewNamespace(t)
	cs := testbed.Clientset(t)
	ctx := context.Background()
	replicas := int32(2)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: "db",
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template:            workloadTemplate("db")},
	}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *appsv1.StatefulSet {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rv := func() string { return get().ResourceVersion }
	rolled := func(what string, replicas int, image string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, what, func() bool {
			s := get()
			return s.Status.ObservedGeneration >= s.Generation && s.Status.UpdateRevision != "" &&
				s.Status.ReadyReplicas == int32(replicas) && podsRolledTo(t, cs, ns, "db", replicas, s.Status.UpdateRevision, image)
		})
	}
	rolled("the statefulset to run 2 pods", 2, imageA)

	// Completion offers the StatefulSet written as typed, and a bare name
	// stays a Deployment's (there are none here).
	wantCompletions(t, ns, []string{"undo", "sts/"}, []string{"sts/db"})
	wantCompletions(t, ns, []string{"history", "statefulset/d"}, []string{"statefulset/db"})
	wantCompletions(t, ns, []string{"undo", "ds/"}, nil)
	wantCompletions(t, ns, []string{"undo", "d"}, nil)

	// waitedFor checks a --wait that passed: its lines, and the state it
	// passed on, read right after it returned.
	waitedFor := func(what string, r opsResult, first string, replicas int32) {
		t.Helper()
		if r.code != 0 || !strings.HasPrefix(r.stdout, first+"\n") || !strings.HasSuffix(r.stdout, "\nstatefulset \"db\" successfully rolled out\n") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", what, r.code, r.stdout, r.stderr)
		}
		if st := get().Status; st.ReadyReplicas != replicas || st.UpdatedReplicas != replicas || st.CurrentRevision != st.UpdateRevision {
			t.Errorf("%s passed before the rollout was done: %+v", what, st)
		}
	}
	r := opsRun(t, "-n", ns, "scale", "sts/db", "--replicas=3", "--wait")
	waitedFor("scale --wait", r, "statefulset.apps/db scaled", 3)
	rolled("the statefulset to run 3 pods", 3, imageA)

	// A server dry run reaches the API server and persists nothing.
	before := rv()
	r = opsRun(t, "-n", ns, "set-image", "statefulsets/db", "main="+imageB, "--dry-run=server")
	if want := "statefulset.apps/db image updated (server dry run)\n  container main: " + imageA + " -> " + imageB + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("set-image --dry-run=server: exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
	if after := rv(); after != before || get().Spec.Template.Spec.Containers[0].Image != imageA {
		t.Errorf("server dry run changed the statefulset: resourceVersion %s -> %s", before, after)
	}

	r = opsRun(t, "-n", ns, "set-image", "statefulset/db", "main="+imageB, "--wait")
	waitedFor("set-image --wait", r, "statefulset.apps/db image updated", 3)
	rolled("the pods to roll to the new image", 3, imageB)

	r = opsRun(t, "-n", ns, "restart", "sts/db")
	if r.code != 0 || r.stdout != "statefulset.apps/db restarted\n" || get().Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restart: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	rolled("the restart to roll", 3, imageB)
	restartedRevision := get().Status.UpdateRevision

	// history: one revision per template, newest first, as the
	// ControllerRevisions number them.
	h := workloadHistory(t, ns, "sts/db")
	crs := controllerRevisions(t, cs, ns, "db")
	if len(h) != 3 || len(crs) != 3 || h[0].Revision != 3 || h[1].Revision != 2 || h[2].Revision != 1 || !h[0].Current || h[1].Current ||
		h[0].ControllerRevision != restartedRevision || h[2].Containers[0].Image != imageA || h[1].Containers[0].Image != imageB {
		t.Fatalf("history = %+v, controllerrevisions %v", h, crs)
	}
	for _, rev := range h {
		if crs[rev.ControllerRevision] != rev.Revision {
			t.Errorf("revision %d is controllerrevision %s, which has revision %d", rev.Revision, rev.ControllerRevision, crs[rev.ControllerRevision])
		}
	}
	first := h[2].ControllerRevision

	// undo to revision 1: the pods roll back, and the controller renumbers
	// that ControllerRevision as the newest (4), as the docs say.
	r = opsRun(t, "-n", ns, "undo", "sts/db", "--to-revision", "1")
	if r.code != 0 || r.stdout != "statefulset.apps/db rolled back to revision 1\n" {
		t.Fatalf("undo: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	rolled("the pods to roll back", 3, imageA)
	testutil.Eventually(t, time.Minute, "the controller to renumber revision 1", func() bool {
		h := workloadHistory(t, ns, "sts/db")
		return len(h) == 3 && h[0].Revision == 4 && h[0].Current && h[0].ControllerRevision == first
	})
	if got := get().Status.UpdateRevision; got != first {
		t.Errorf("updateRevision = %s, want the first controllerrevision %s", got, first)
	}

	refusedUnchanged(t, rv, []string{"-n", ns, "pause", "sts/db"},
		`statefulset "db" cannot be paused: only deployments can be paused and resumed, as in kubectl`)
	refusedUnchanged(t, rv, []string{"-n", ns, "scale", "sts/db", "--replicas=1", "--wait", "--fail-on-gap"},
		"--fail-on-gap applies to deployments only, not sts/db: drop --fail-on-gap")
	refusedUnchanged(t, rv, []string{"-n", ns, "undo", "sts/db", "--to-revision", "4"},
		`statefulset "db" in namespace "`+ns+`" is at revision 4 already; nothing was changed`)
	refusedUnchanged(t, rv, []string{"-n", ns, "scale", "sts/db", "--replicas=1", "--current-replicas=2"},
		`precondition failed: statefulset "db" in namespace "`+ns+`" has 3 replicas, expected 2`)
	refusedUnchanged(t, rv, []string{"-n", ns, "scale", "sts/nope", "--replicas=1"},
		`statefulset "nope" not found in namespace "`+ns+`"`, "kubectl get statefulsets -n "+ns)
	refusedUnchanged(t, rv, []string{"-n", "no-such-namespace", "history", "sts/db"},
		`statefulset "db" not found: namespace "no-such-namespace" does not exist`)
	refusedUnchanged(t, rv, []string{"-n", ns, "set-image", "rs/db", "main=" + imageB},
		`unknown workload type "rs" in "rs/db": use deploy/NAME, sts/NAME or ds/NAME`)
}

// TestWorkloadDaemonSetChanges: set-image, restart, history and undo of a
// real DaemonSet on the kwok nodes, restart --wait ending once every node
// runs a new pod; scale, pause, resume and --fail-on-gap are refused with
// nothing changed.
func TestWorkloadDaemonSetChanges(t *testing.T) {
	ns := testbed.NewNamespace(t)
	cs := testbed.Clientset(t)
	ctx := context.Background()
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: workloadTemplate("agent")},
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *appsv1.DaemonSet {
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rv := func() string { return get().ResourceVersion }
	wantCompletions(t, ns, []string{"restart", "ds/a"}, []string{"ds/agent"})
	wantCompletions(t, ns, []string{"history", "daemonset/"}, []string{"daemonset/agent"})
	// newest is the name of the DaemonSet's newest ControllerRevision.
	newest := func() string {
		var name string
		var max int64
		for n, r := range controllerRevisions(t, cs, ns, "agent") {
			if r > max {
				name, max = n, r
			}
		}
		return name
	}
	rolled := func(what, image string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, what, func() bool {
			d := get()
			s := d.Status
			// The pods' controller-revision-hash label is the hash the
			// ControllerRevision's name ends with.
			n := newest()
			hash := n[strings.LastIndex(n, "-")+1:]
			return s.ObservedGeneration >= d.Generation && s.DesiredNumberScheduled == testbed.Nodes &&
				s.UpdatedNumberScheduled == testbed.Nodes && s.NumberReady == testbed.Nodes &&
				podsRolledTo(t, cs, ns, "agent", testbed.Nodes, hash, image)
		})
	}
	rolled("a pod of the daemonset on every node", imageA)

	r := opsRun(t, "-n", ns, "set-image", "ds/agent", "main="+imageB)
	if r.code != 0 || r.stdout != "daemonset.apps/agent image updated\n" {
		t.Fatalf("set-image: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	rolled("the pods to roll to the new image", imageB)

	before := rv()
	r = opsRun(t, "-n", ns, "restart", "daemonset/agent", "--dry-run=server")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "daemonset.apps/agent restarted (server dry run)\n") || rv() != before {
		t.Errorf("restart --dry-run=server: exit %d, stdout %q; resourceVersion %s -> %s", r.code, r.stdout, before, rv())
	}
	r = opsRun(t, "-n", ns, "restart", "daemonset/agent", "--wait")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "daemonset.apps/agent restarted\n") || !strings.HasSuffix(r.stdout, "\ndaemonset \"agent\" successfully rolled out\n") {
		t.Fatalf("restart --wait: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if d := get(); d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedNumberScheduled != testbed.Nodes || d.Status.NumberAvailable != testbed.Nodes {
		t.Errorf("restart --wait passed before every node ran an available new pod: generation %d, %+v", d.Generation, d.Status)
	}
	rolled("the restart to roll", imageB)

	h := workloadHistory(t, ns, "ds/agent")
	if len(h) != 3 || h[0].Revision != 3 || !h[0].Current || h[1].Current || h[2].Containers[0].Image != imageA {
		t.Fatalf("history = %+v", h)
	}
	table := opsRun(t, "-n", ns, "history", "daemonsets/agent")
	if lines := strings.Split(strings.TrimSpace(table.stdout), "\n"); table.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[1], "3 ") {
		t.Errorf("history table: exit %d\n%s", table.code, table.stdout)
	}
	second := h[1].ControllerRevision

	// undo to the previous revision (the set-image, before the restart).
	r = opsRun(t, "-n", ns, "undo", "ds/agent")
	if r.code != 0 || r.stdout != "daemonset.apps/agent rolled back to revision 2\n" {
		t.Fatalf("undo: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	testutil.Eventually(t, time.Minute, "the controller to renumber revision 2", func() bool {
		h := workloadHistory(t, ns, "ds/agent")
		return len(h) == 3 && h[0].Revision == 4 && h[0].Current && h[0].ControllerRevision == second
	})
	rolled("the pods to roll back", imageB)
	if _, restarted := get().Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; restarted {
		t.Errorf("undo kept the restart's annotation")
	}
	var got []int64
	for _, rev := range workloadHistory(t, ns, "ds/agent") {
		got = append(got, rev.Revision)
	}
	if !slices.Equal(got, []int64{4, 3, 1}) {
		t.Errorf("revisions after undo = %v, want 4, 3, 1", got)
	}

	refusedUnchanged(t, rv, []string{"-n", ns, "scale", "ds/agent", "--replicas=3"}, `daemonset "agent" cannot be scaled`)
	refusedUnchanged(t, rv, []string{"-n", ns, "pause", "ds/agent"}, `daemonset "agent" cannot be paused: only deployments`)
	refusedUnchanged(t, rv, []string{"-n", ns, "resume", "ds/agent"}, `daemonset "agent" cannot be resumed: only deployments`)
	refusedUnchanged(t, rv, []string{"-n", ns, "set-image", "ds/agent", "main=" + imageA, "--wait", "--fail-on-gap"},
		"--fail-on-gap applies to deployments only, not ds/agent")
	refusedUnchanged(t, rv, []string{"-n", ns, "restart", "ds/agent", "--wait", "--fail-on-gap"},
		"--fail-on-gap applies to deployments only, not ds/agent")
}

// TestWorkloadStatefulSetWaitFails: set-image --wait to an image that
// cannot be pulled, on an OrderedReady StatefulSet, fails once the broken
// pod has been Failing for --failing-grace (exit 1), its next steps the
// undo and then the delete the rollback needs (kubernetes#67250); run as
// printed, they bring it back.
func TestWorkloadStatefulSetWaitFails(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createStatefulSet(t, ns, "db", 3, true, nil)
	r := opsRun(t, "-n", ns, "set-image", "sts/db", "app="+testbed.FaultImage(testbed.FaultImagePull), "--wait", "--failing-grace", "2s", "--timeout", "2m")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "statefulset.apps/db image updated\n") {
		t.Fatalf("set-image --wait: exit %d, want 1; stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	failures := parseFailures(t, r.stderr)
	undo, del := "kubectl deploywatch undo sts/db -n "+ns, "kubectl delete pod db-2 -n "+ns+" --wait=false"
	if len(failures) != 1 || !strings.HasPrefix(failures[0].line, `error: statefulset "db" in namespace "`+ns+`" is Failing: `) ||
		!strings.Contains(failures[0].line, "ImagePull") || len(failures[0].steps) < 2 || failures[0].steps[0] != undo || failures[0].steps[1] != del {
		t.Fatalf("failures %+v, want the statefulset's, with %q then %q", failures, undo, del)
	}
	if r := runStep(t, undo); r.code != 0 {
		t.Fatalf("%s: exit %d: %s", undo, r.code, r.stderr)
	}
	// The pod deleted before the controller saw the undo could come back
	// at the broken revision.
	testutil.Eventually(t, time.Minute, "the controller to observe the undo", func() bool {
		sts := getStatefulSet(t, ns, "db")
		return sts.Status.ObservedGeneration >= sts.Generation && sts.Status.UpdateRevision == sts.Status.CurrentRevision
	})
	runStep(t, del) // testbed.Kubectl fails the test itself when kubectl does
	if r := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m"); r.code != 0 {
		t.Fatalf("after the next steps, --until-complete exit %d: %s", r.code, r.stderr)
	}
	if sts := getStatefulSet(t, ns, "db"); sts.Spec.Template.Spec.Containers[0].Image != stsImage1 || sts.Status.UpdatedReplicas != 3 {
		t.Errorf("not rolled back: image %s, %+v", sts.Spec.Template.Spec.Containers[0].Image, sts.Status)
	}
}
