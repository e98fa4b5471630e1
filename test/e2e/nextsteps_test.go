package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// failedOut is one failure as a failed wait prints it on standard error:
// its `error: ` line and the commands of the next-step lines under it.
type failedOut struct {
	line  string
	steps []string
}

// parseFailures reads a failed wait's standard error: `error: ` lines,
// each followed by next steps, two spaces in, a command and a shell
// comment that says what it is for. Any other line fails the test.
// warningsSummary is the line --until-complete ends with, before its
// errors, when a Deployment it saw has rollout-safety warnings.
var warningsSummary = regexp.MustCompile(`^warning: rollout-safety warnings on \d+ deployments?: \S+ \d+ \([a-z-, ]+\)(, \S+ \d+ \([a-z-, ]+\))*(, and \d+ more)?; 'kubectl deploywatch check' says how to fix each$`)

func parseFailures(t *testing.T, stderr string) []failedOut {
	t.Helper()
	var out []failedOut
	for i, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if i == 0 && warningsSummary.MatchString(l) {
			continue // --until-complete's closing summary of rollout-safety warnings
		}
		if strings.HasPrefix(l, "error: ") {
			out = append(out, failedOut{line: l})
			continue
		}
		command, why, ok := strings.Cut(strings.TrimPrefix(l, "  "), "   # ")
		if !strings.HasPrefix(l, "  kubectl ") || !ok || why == "" || len(out) == 0 {
			t.Fatalf("standard error has a line that is neither an error nor a next step: %q in\n%s", l, stderr)
		}
		out[len(out)-1].steps = append(out[len(out)-1].steps, strings.TrimSpace(command))
	}
	return out
}

// runStep runs a next step as printed, the way a user pastes it.
func runStep(t *testing.T, command string) opsResult {
	t.Helper()
	args := strings.Fields(command)
	if args[0] != "kubectl" {
		t.Fatalf("step %q is no kubectl command", command)
	}
	if args[1] == "deploywatch" {
		return opsRun(t, args[2:]...)
	}
	out := testbed.Kubectl(t, args[1:]...)
	return opsResult{stdout: out}
}

// describePodStep checks that a step is `kubectl describe pod POD
// -n ns` for a pod of name, and returns the pod.
func describePodStep(t *testing.T, step, name, ns string) string {
	t.Helper()
	pod, ok := strings.CutPrefix(step, "kubectl describe pod "+name+"-")
	if !ok || !strings.HasSuffix(pod, " -n "+ns) {
		t.Errorf("step %q, want kubectl describe pod %s-... -n %s", step, name, ns)
		return ""
	}
	return name + "-" + strings.TrimSuffix(pod, " -n "+ns)
}

// TestNextStepsUntilCompleteNamesEveryFailure: three Deployments of a
// namespace fail in three ways (a rollout to an image that cannot be
// pulled, a rollout past its progress deadline, one created paused);
// --until-complete exits 1 naming all three, each with its cause and the
// commands that would help, in a stable order: those that ended the wait,
// by name, then the one Failing within --failing-grace. The Deployment
// that is fine is not named. The steps, run as printed, work: the pods
// are described, the history is listed, and resume and undo bring two of
// them to Running.
func TestNextStepsUntilCompleteNamesEveryFailure(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "ok", 1, true, nil)
	opsDeployment(t, ns, "api", 1, true, nil)
	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/api", "web="+testbed.FaultImage(testbed.FaultImagePull))
	opsDeployment(t, ns, "web", 1, false, func(d *appsv1.Deployment) {
		deadline := int32(5)
		d.Spec.ProgressDeadlineSeconds = &deadline
		d.Spec.Template.Spec.NodeSelector = noSuchNode
	})
	opsDeployment(t, ns, "db", 2, false, func(d *appsv1.Deployment) { d.Spec.Paused = true })

	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "api", "is Failing on its new pod", func(e deployment.Event) bool {
		return e.Status == deployment.Failing && len(e.Problems) > 0 && e.Problems[0].Pod != ""
	})
	w.waitEvent(t, "web", "is Failed with its pod diagnosed", func(e deployment.Event) bool {
		return e.Status == deployment.Failed && len(e.Problems) > 0 && e.Problems[0].Pod != ""
	})
	w.waitEvent(t, "db", "is Paused, observed", func(e deployment.Event) bool {
		return e.Status == deployment.Paused && e.ObservedGeneration == e.Generation
	})

	r := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "10m", "--timeout", "2m")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	opsContains(t, "stdout", r.stdout, "NAME", "STATUS", "ok", "api", "web", "db")
	failures := parseFailures(t, r.stderr)
	if len(failures) != 3 {
		t.Fatalf("%d failures named, want 3 (db, web, then api):\n%s", len(failures), r.stderr)
	}
	db, web, api := failures[0], failures[1], failures[2]

	if want := "error: deployment " + ns + "/db is Paused: rollout paused before it started: no pods until resumed"; db.line != want {
		t.Errorf("first line %q, want %q", db.line, want)
	}
	if want := []string{"kubectl deploywatch resume db -n " + ns}; !slices.Equal(db.steps, want) {
		t.Errorf("db's steps %q, want %q", db.steps, want)
	}

	opsContains(t, "web's line", web.line, "error: deployment "+ns+"/web is Failed: Unschedulable: ", "; ProgressDeadlineExceeded: ")
	// Revision 1: nothing to undo to.
	if len(web.steps) != 2 || web.steps[0] != "kubectl deploywatch history web -n "+ns {
		t.Fatalf("web's steps %q, want history and the pod", web.steps)
	}
	webPod := describePodStep(t, web.steps[1], "web", ns)

	opsContains(t, "api's line", api.line, "error: deployment "+ns+"/api is Failing: ", "not found")
	if len(api.steps) != 3 || api.steps[0] != "kubectl deploywatch undo api -n "+ns || api.steps[1] != "kubectl deploywatch history api -n "+ns {
		t.Fatalf("api's steps %q, want undo, history and the pod", api.steps)
	}
	apiPod := describePodStep(t, api.steps[2], "api", ns)

	// The steps, as printed.
	opsContains(t, "web's pod", runStep(t, web.steps[1]).stdout, "Name:", webPod, "FailedScheduling")
	opsContains(t, "api's pod", runStep(t, api.steps[2]).stdout, "Name:", apiPod, "ImagePullBackOff")
	for _, step := range []string{web.steps[0], api.steps[1]} {
		if h := runStep(t, step); h.code != 0 || !strings.Contains(h.stdout, "REVISION") {
			t.Errorf("%s: exit %d", step, h.code)
		}
	}
	for _, step := range []string{db.steps[0], api.steps[0]} {
		if res := runStep(t, step); res.code != 0 {
			t.Fatalf("%s: exit %d", step, res.code)
		}
	}
	r = opsRun(t, "watch", ns, "--field-selector", "metadata.name!=web", "--until-complete", "--timeout", "2m", "-o", "ndjson")
	if r.code != 0 {
		t.Fatalf("--until-complete after resume and undo: exit %d, want 0", r.code)
	}
	for _, name := range []string{"db", "api"} {
		if d := opsGet(t, ns, name); !opsRolledOut(d) {
			t.Errorf("%s has not rolled out after its step: %+v", name, d.Status)
		}
	}
}

// TestNextStepsWaitFailedSaysUndo: set-image --wait to an image that
// cannot be pulled exits 1 with the line it always had, then the commands
// that help, with the --context given: undo, history, the pod. The undo,
// run as printed, rolls it back to Running.
func TestNextStepsWaitFailedSaysUndo(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "api", 2, true, nil)
	kubeContext := strings.TrimSpace(testbed.Kubectl(t, "config", "current-context"))

	r := opsRun(t, "-n", ns, "--context", kubeContext, "set-image", "api", "web="+testbed.FaultImage(testbed.FaultImagePull),
		"--wait", "--failing-grace", "2s", "--timeout", "2m")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	failures := parseFailures(t, r.stderr)
	if len(failures) != 1 {
		t.Fatalf("%d failures, want 1:\n%s", len(failures), r.stderr)
	}
	f := failures[0]
	opsContains(t, "the error", f.line, `error: deployment "api" in namespace "`+ns+`" is Failing: `, "not found")
	flags := " -n " + ns + " --context " + kubeContext
	if len(f.steps) != 3 || f.steps[0] != "kubectl deploywatch undo api"+flags || f.steps[1] != "kubectl deploywatch history api"+flags ||
		!strings.HasPrefix(f.steps[2], "kubectl describe pod api-") || !strings.HasSuffix(f.steps[2], flags) {
		t.Fatalf("steps %q, want undo, history and the pod, each with %q", f.steps, flags)
	}

	if res := runStep(t, f.steps[0]); res.code != 0 || !strings.Contains(res.stdout, "deployment.apps/api rolled back") {
		t.Fatalf("%s: exit %d, stdout %q", f.steps[0], res.code, res.stdout)
	}
	testutil.Eventually(t, 2*time.Minute, "api to roll back to its first image", func() bool {
		d := opsGet(t, ns, "api")
		return opsRolledOut(d) && d.Spec.Template.Spec.Containers[0].Image == "registry.k8s.io/pause:3.10"
	})
}

// TestNextStepsCreatedPaused: a Deployment created paused has no
// ReplicaSet and no pod, and scaling it makes none (the controller makes
// no ReplicaSet while paused). --until-complete exits 1 at once, not at
// --timeout, saying what it is and that resume starts it; a scale --wait
// says the same. resume, run as printed, rolls it out.
func TestNextStepsCreatedPaused(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "db", 3, false, func(d *appsv1.Deployment) { d.Spec.Paused = true })

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/db", "--replicas=5")
	var d *appsv1.Deployment
	testutil.Eventually(t, time.Minute, "the controller to observe the scale", func() bool {
		d = opsGet(t, ns, "db")
		return d.Status.ObservedGeneration >= d.Generation && *d.Spec.Replicas == 5
	})
	// Observed: the controller made, in the same sync, every ReplicaSet it
	// was going to.
	rs, err := testbed.Clientset(t).AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := testbed.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Items) != 0 || len(pods.Items) != 0 || d.Status.Replicas != 0 {
		t.Fatalf("a Deployment created paused, scaled to 5: %d ReplicaSets, %d pods, status.replicas %d; want none",
			len(rs.Items), len(pods.Items), d.Status.Replicas)
	}

	start := time.Now()
	r := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m")
	t.Logf("--until-complete ended after %s", time.Since(start).Round(time.Millisecond))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (2 would be the timeout)", r.code)
	}
	want := "warning: rollout-safety warnings on 1 deployment: " + ns + "/db 1 (no-pdb); 'kubectl deploywatch check' says how to fix each\n" +
		"error: deployment " + ns + "/db is Paused: rollout paused before it started: no pods until resumed\n" +
		"  kubectl deploywatch resume db -n " + ns + "   # start the rollout: it has no pods until resumed\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}

	r = opsRun(t, "-n", ns, "scale", "db", "--replicas=2", "--wait", "--timeout", "2m")
	if r.code != 1 {
		t.Fatalf("scale --wait: exit %d, want 1", r.code)
	}
	failures := parseFailures(t, r.stderr)
	if len(failures) != 1 || failures[0].line != `error: deployment "db" in namespace "`+ns+`" is paused before its rollout started: it has no pods until it is resumed` ||
		!slices.Equal(failures[0].steps, []string{"kubectl deploywatch resume db -n " + ns}) {
		t.Errorf("scale --wait ended with %+v", failures)
	}

	if res := runStep(t, "kubectl deploywatch resume db -n "+ns); res.code != 0 {
		t.Fatalf("resume: exit %d", res.code)
	}
	if r := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m", "-o", "ndjson"); r.code != 0 {
		t.Fatalf("--until-complete after resume: exit %d, want 0", r.code)
	}
	if d := opsGet(t, ns, "db"); !opsRolledOut(d) || *d.Spec.Replicas != 2 {
		t.Errorf("db after resume: replicas %d, status %+v; want 2 rolled out", *d.Spec.Replicas, d.Status)
	}
}

// TestNextStepsRestartOfSeveral: restart --wait of several Deployments
// prints each failure as it comes, with its next steps, and goes on to
// the others; the exit code is the failure's.
func TestNextStepsRestartOfSeveral(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "ok", 1, true, nil)
	opsDeployment(t, ns, "bad", 1, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultImagePull)
	})

	r := opsRun(t, "-n", ns, "restart", "bad", "ok", "--wait", "--failing-grace", "1s", "--timeout", "2m")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	opsContains(t, "stdout", r.stdout, `deployment "ok" successfully rolled out`)
	failures := parseFailures(t, r.stderr)
	if len(failures) != 1 {
		t.Fatalf("%d failures, want 1:\n%s", len(failures), r.stderr)
	}
	f := failures[0]
	opsContains(t, "the error", f.line, `error: deployment "bad" in namespace "`+ns+`" is Failing: `, "not found")
	if len(f.steps) != 3 || f.steps[0] != "kubectl deploywatch undo bad -n "+ns || f.steps[1] != "kubectl deploywatch history bad -n "+ns {
		t.Fatalf("steps %q, want undo, history and the pod", f.steps)
	}
	describePodStep(t, f.steps[2], "bad", ns)
}
