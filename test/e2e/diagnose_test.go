package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// noSuchNode is a node selector the test bed's nodes never match: the real
// scheduler leaves such pods Pending with PodScheduled=False, Unschedulable.
var noSuchNode = map[string]string{"deploywatch.test/no-such-node": "true"}

// TestDiagnoseUnschedulable: a rollout whose new pods no node takes is
// Failing with the scheduler's own words, in NDJSON and in the piped table;
// --until-complete fails after --failing-grace, long before the 600 s
// progress deadline, naming the cause; and fixing the spec brings it back.
func TestDiagnoseUnschedulable(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	table := startWatch(t, "watch", ns, "-o", "wide")
	w.waitEvent(t, "web", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })

	testbed.Kubectl(t, "-n", ns, "patch", "deployment", "web", "--type=merge",
		"-p", `{"spec":{"template":{"spec":{"nodeSelector":{"deploywatch.test/no-such-node":"true"}}}}}`)
	failing := w.waitEvent(t, "web", "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
	opsContains(t, "the message", failing.Message, "new pod", "Unschedulable: 2 node(s) didn't match", "; pod web-")
	if len(failing.Problems) != 1 || failing.Problems[0].Reason != "Unschedulable" || failing.Problems[0].Pods < 1 || failing.Problems[0].Pod == "" {
		t.Errorf("problems %+v, want one Unschedulable with its pod", failing.Problems)
	}
	testutil.Eventually(t, time.Minute, "the table to show the cause", func() bool {
		return strings.Contains(strings.Join(table.output(), "\n"), "Failing") && strings.Contains(strings.Join(table.output(), "\n"), "Unschedulable")
	})

	start := time.Now()
	r := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "5s", "--timeout", "3m")
	t.Logf("--until-complete failed after %s", time.Since(start).Round(time.Millisecond))
	if r.code != 1 {
		t.Fatalf("--until-complete exit %d, want 1 (Failing)", r.code)
	}
	opsContains(t, "the error", r.stderr, "error: deployment "+ns+"/web is Failing: ", "Unschedulable: 2 node(s) didn't match")

	// The fix: the rollout goes on to Running, and a wait with a grace
	// longer than the trouble passes.
	waiting := startWatch(t, "watch", ns, "--until-complete", "--failing-grace", "10m", "--timeout", "3m", "-o", "ndjson")
	waiting.waitEvent(t, "web", "is listed Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
	testbed.Kubectl(t, "-n", ns, "patch", "deployment", "web", "--type=json", "-p", `[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]`)
	select {
	case <-waiting.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("--until-complete did not end after the fix")
	}
	if code := waiting.exitCode(); code != 0 {
		t.Fatalf("--until-complete after the fix: exit %d, want 0", code)
	}
	fixed := opsGet(t, ns, "web").Generation
	last := w.waitEvent(t, "web", "is Running again", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Generation == fixed && len(e.Problems) == 0
	})
	if d := opsGet(t, ns, "web"); matchesTruth(last, d) != "" {
		t.Errorf("last event differs from the truth: %s", matchesTruth(last, d))
	}
}

// TestDiagnoseQuota: a ResourceQuota that refuses pods is Failing with the
// controller's FailedCreate, even while old replicas are being replaced.
func TestDiagnoseQuota(t *testing.T) {
	ns := testbed.NewNamespace(t)
	_, err := testbed.Clientset(t).CoreV1().ResourceQuotas(ns).Create(context.Background(), &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opsDeployment(t, ns, "web", 3, true, nil)
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "web", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })

	// A rollout needs a surge pod, which the quota refuses.
	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/web", "web=registry.k8s.io/pause:3.9")
	failing := w.waitEvent(t, "web", "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
	// The cause first: not the API server's `pods "web-..." is forbidden: `.
	opsContains(t, "the message", failing.Message, "FailedCreate: exceeded quota")
	if len(failing.Problems) != 1 || !strings.Contains(failing.Problems[0].Message, "is forbidden: exceeded quota") {
		t.Errorf("problems %+v, want the API server's whole words in the message", failing.Problems)
	}

	r := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "2s", "--timeout", "3m")
	if r.code != 1 {
		t.Fatalf("--until-complete exit %d, want 1", r.code)
	}
	opsContains(t, "the error", r.stderr, "is Failing: FailedCreate", "exceeded quota")
}

// TestDiagnoseNoFalseAlarms: a Deployment scaled to zero, a paused
// rollout whose new template could never schedule, and a healthy rollout
// are never Failing. --until-complete passes on the first and the last;
// on the paused one it fails at once, as documented: with old replicas
// left it will not go on until resumed.
func TestDiagnoseNoFalseAlarms(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "zero", 0, false, nil)
	opsDeployment(t, ns, "paused", 2, true, nil)
	testbed.Kubectl(t, "-n", ns, "rollout", "pause", "deployment/paused")
	testbed.Kubectl(t, "-n", ns, "patch", "deployment", "paused", "--type=merge",
		"-p", `{"spec":{"template":{"spec":{"nodeSelector":{"deploywatch.test/no-such-node":"true"}}}}}`)
	opsDeployment(t, ns, "web", 3, false, nil)
	all := startWatch(t, "watch", ns, "-o", "ndjson")

	for _, name := range []string{"zero", "web"} {
		r := opsRun(t, "watch", ns, "--field-selector", "metadata.name="+name, "--until-complete", "--failing-grace", "0s", "--timeout", "3m", "-o", "ndjson")
		if r.code != 0 || !strings.Contains(r.stdout, `"name":"`+name+`"`) {
			t.Errorf("--until-complete on %s: exit %d, stdout %q; want 0 after its events", name, r.code, r.stdout)
		}
	}
	paused := all.waitEvent(t, "paused", "is Paused with its new template pending", func(e deployment.Event) bool {
		return e.Status == deployment.Paused && e.ObservedGeneration == e.Generation && e.Generation >= 3
	})
	if paused.Message != "rollout paused with 0 of 2 replicas updated" || len(paused.Problems) != 0 {
		t.Errorf("paused: %q problems %+v", paused.Message, paused.Problems)
	}
	r := opsRun(t, "watch", ns, "--field-selector", "metadata.name=paused", "--until-complete", "--timeout", "1m")
	if r.code != 1 {
		t.Errorf("--until-complete on a paused rollout with old replicas left: exit %d, want 1", r.code)
	}
	opsContains(t, "the error", r.stderr, "is Paused: rollout paused with 0 of 2 replicas updated")
	opsDeployment(t, ns, "marker", 1, false, nil)
	all.waitEvent(t, "marker", "is listed", func(deployment.Event) bool { return true })
	for _, name := range []string{"zero", "paused", "web"} {
		for _, e := range all.eventsOf(name) {
			if e.Status == deployment.Failing || e.Status == deployment.Failed || len(e.Problems) > 0 {
				t.Errorf("%s was %s (%q, problems %+v)", name, e.Status, e.Message, e.Problems)
			}
		}
	}
}

// TestStaleFailedAfterFix: after a failed rollout, a fix that the
// controller has not observed yet is not Failed: --until-complete started
// right after it waits for the controller and passes. The controller is
// frozen (SIGSTOP) between the fix and the start of the wait, so the first
// list surely carries the old rollout's ProgressDeadlineExceeded.
func TestStaleFailedAfterFix(t *testing.T) {
	testbed.BuildPlugin(t) // before Env, which puts it on PATH only once built
	c := testbed.Start(t)
	env := c.Env()
	ctx := context.Background()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, testutil.Deployment("web", testutil.Replicas(2),
		testutil.Containers(corev1.Container{Name: "web", Image: testutil.PauseImage}),
		testutil.PodSpec(func(s *corev1.PodSpec) { s.NodeSelector = noSuchNode }),
		testutil.Edit(func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5) })), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the rollout to exceed its deadline", func() bool {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && opsFailed(d)
	})

	pid, err := c.ComponentPID(testbed.ControllerManager)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()
	c.Kubectl(t, "-n", ns, "patch", "deployment", "web", "--type=json", "-p", `[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]`)

	w := startWatchEnv(t, env, "watch", ns, "-o", "ndjson", "--until-complete", "--timeout", "3m")
	first := w.waitEvent(t, "web", "is listed", func(deployment.Event) bool { return true })
	if first.Status == deployment.Failed || first.ObservedGeneration >= first.Generation {
		t.Fatalf("first event %s %q (generation %d, observed %d): want the fix not yet observed, not Failed", first.Status, first.Message, first.Generation, first.ObservedGeneration)
	}
	resume()
	select {
	case <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("--until-complete did not end once the controller ran again")
	}
	if code := w.exitCode(); code != 0 {
		t.Fatalf("exit %d, want 0 (the fix rolled out):\n%s", code, w.stderr.String())
	}
}

// exitCode waits for the watch to end by itself and returns its exit code.
func (p *watchProc) exitCode() int {
	<-p.done
	err := p.cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		return -1
	}
	return 0
}

// podsOf lists the pods of Deployment name (made by opsDeployment or
// createDeployment, whose pods carry app=name).
func podsOf(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	list, err := testbed.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatalf("list pods of %s: %v", name, err)
	}
	return list.Items
}
