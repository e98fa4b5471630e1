package e2e

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// faultLabel puts testbed.FaultLabel on a Deployment's pod template: every
// pod of it fails that way (see package testbed).
func faultLabel(fault string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		labels := maps.Clone(d.Spec.Template.Labels) // not the selector's map
		labels[testbed.FaultLabel] = fault
		d.Spec.Template.Labels = labels
	}
}

// TestDiagnoseKubeletFailures: for every failure only a kubelet reports,
// a Deployment whose pods fail that way is Failing with the kubelet's
// reason and words, in NDJSON (problems) and in the message, and
// --until-complete fails naming the cause.
func TestDiagnoseKubeletFailures(t *testing.T) {
	ns := testbed.NewNamespace(t)
	cases := []struct {
		fault  string
		reason []string // the first problem's reason is one of these
		check  func(p diagnosis.Problem) string
		words  string // in the message
	}{
		{testbed.FaultImagePull, []string{"ErrImagePull", "ImagePullBackOff"}, nil, "not found"},
		{testbed.FaultInvalidImage, []string{"InvalidImageName"}, nil, "InvalidImageName"},
		{testbed.FaultCrashLoop, []string{"CrashLoopBackOff"}, func(p diagnosis.Problem) string {
			if p.ExitCode == nil || *p.ExitCode != 1 || p.LastState != "Error" || p.Container != "web" {
				return "want exit code 1 (Error) of container web"
			}
			return ""
		}, "CrashLoopBackOff: exit code 1 ("},
		{testbed.FaultOOMKilled, []string{"CrashLoopBackOff"}, func(p diagnosis.Problem) string {
			if p.ExitCode == nil || *p.ExitCode != 137 || p.LastState != "OOMKilled" {
				return "want exit code 137 (OOMKilled)"
			}
			return ""
		}, "OOMKilled, exit code 137"},
		{testbed.FaultConfigError, []string{"CreateContainerConfigError"}, nil, `configmap "app-config" not found`},
		{testbed.FaultRunError, []string{"RunContainerError", "CrashLoopBackOff"}, nil, ""},
		{testbed.FaultInitCrash, []string{"CrashLoopBackOff"}, func(p diagnosis.Problem) string {
			if !p.Init || p.Container != "migrate" {
				return "want init container migrate"
			}
			return ""
		}, ", init container migrate)"},
		{testbed.FaultNotReady, []string{"Unhealthy"}, nil, "readiness probe: HTTP probe failed with statuscode: 503"},
		{testbed.FaultEvicted, []string{"Evicted"}, nil, "low on resource"},
	}
	for _, c := range cases {
		opsDeployment(t, ns, c.fault, 2, false, faultLabel(c.fault))
	}
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	for _, c := range cases {
		e := w.waitEvent(t, c.fault, "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
		if len(e.Problems) == 0 {
			t.Errorf("%s: Failing without problems: %q", c.fault, e.Message)
			continue
		}
		p := e.Problems[0]
		if !slices.Contains(c.reason, p.Reason) {
			t.Errorf("%s: reason %s, want one of %v (message %q)", c.fault, p.Reason, c.reason, e.Message)
		}
		if p.Pods < 1 || !strings.HasPrefix(p.Pod, c.fault+"-") || (p.Node == "" && c.fault != testbed.FaultEvicted) {
			t.Errorf("%s: problem %+v, want its pods, an example pod and its node", c.fault, p)
		}
		if c.check != nil {
			if msg := c.check(p); msg != "" {
				t.Errorf("%s: problem %+v: %s", c.fault, p, msg)
			}
		}
		opsContains(t, c.fault+"'s message", e.Message, c.words, "; pod "+c.fault+"-")
	}

	r := opsRun(t, "watch", ns, "--until-complete", "--failing-grace", "1s", "--timeout", "3m")
	if r.code != 1 {
		t.Fatalf("--until-complete exit %d, want 1", r.code)
	}
	// The first failure by name.
	opsContains(t, "the error", r.stderr, "error: deployment "+ns+"/config-error is Failing: ", `configmap "app-config" not found`)
}

// TestDiagnoseCrashLoopIsQuiet: a crash loop is one line, however often
// the container restarts; the watch's silence is proven by a later event
// of another Deployment after two more restarts.
func TestDiagnoseCrashLoopIsQuiet(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "crash", 1, false, faultLabel(testbed.FaultCrashLoop))
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "crash", "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
	failingAt := len(w.eventsOf("crash"))
	restarts := func() int32 {
		var n int32
		for _, p := range podsOf(t, ns, "crash") {
			for _, cs := range p.Status.ContainerStatuses {
				n = max(n, cs.RestartCount)
			}
		}
		return n
	}
	from := restarts()
	testutil.Eventually(t, 2*time.Minute, "two more restarts", func() bool { return restarts() >= from+2 })
	opsDeployment(t, ns, "marker", 1, false, nil)
	w.waitEvent(t, "marker", "is listed", func(deployment.Event) bool { return true })
	if got := w.eventsOf("crash")[failingAt:]; len(got) != 0 {
		t.Errorf("the crash loop printed %d more lines after it was Failing: %+v", len(got), got)
	}
}

// TestDiagnoseBrokenSetImage: the user's own path: set-image to a tag that
// cannot be pulled, --wait fails in about --failing-grace with the cause,
// while kubectl rollout status would wait for the progress deadline; the
// old pods keep serving.
func TestDiagnoseBrokenSetImage(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)
	start := time.Now()
	r := opsRun(t, "-n", ns, "set-image", "web", "web="+testbed.FaultImage(testbed.FaultImagePull), "--wait", "--failing-grace", "5s", "--timeout", "3m")
	t.Logf("set-image --wait failed after %s", time.Since(start).Round(time.Millisecond))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	opsContains(t, "the error", r.stderr, `deployment "web" in namespace "`+ns+`" is Failing: `, "new pod", "not found", "; pod web-")
	if d := opsGet(t, ns, "web"); d.Status.AvailableReplicas < 2 {
		t.Errorf("old pods stopped serving: %+v", d.Status)
	}
}

// TestDiagnoseNoFalseAlarmsFromPods: a slow pull, a transient pull error
// within the grace, and old pods crashing on their way out do not fail
// --until-complete; the slow pull is never Failing at all.
func TestDiagnoseNoFalseAlarmsFromPods(t *testing.T) {
	ns := testbed.NewNamespace(t)
	// Old pods that crash, replaced by a rollout that fixes them.
	opsDeployment(t, ns, "fixed", 2, false, faultLabel(testbed.FaultCrashLoop))
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "fixed", "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing })
	testbed.Kubectl(t, "-n", ns, "patch", "deployment", "fixed", "--type=json",
		"-p", `[{"op":"remove","path":"/spec/template/metadata/labels/testbed.deploywatch.dev~1fault"}]`)
	opsDeployment(t, ns, "slow", 2, false, faultLabel(testbed.FaultSlowPull))
	opsDeployment(t, ns, "transient", 2, false, faultLabel(testbed.FaultPullThenRun))

	r := opsRun(t, "watch", ns, "--until-complete", "--timeout", "3m", "-o", "ndjson")
	if r.code != 0 {
		t.Fatalf("--until-complete exit %d, want 0:\n%s", r.code, r.stderr)
	}
	w.waitEvent(t, "transient", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })
	w.waitEvent(t, "fixed", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })
	for _, e := range w.eventsOf("slow") {
		if e.Status == deployment.Failing || len(e.Problems) > 0 {
			t.Errorf("a slow pull was %s: %q", e.Status, e.Message)
		}
	}
}

// TestDiagnoseLiveTableInTmux: on a terminal the row of a failing rollout
// says Failing and why, and the title counts it.
func TestDiagnoseLiveTableInTmux(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "crash", 1, false, func(d *appsv1.Deployment) {
		faultLabel(testbed.FaultOOMKilled)(d)
		d.Spec.Template.Spec.InitContainers = nil
		d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
	})
	tmux, waitPane, rowOf := newTmux(t, 200, 20)
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns, "Enter")
	screen := waitPane("crash Failing with its cause", func(s string) bool {
		r := rowOf(s, "crash")
		return len(r) == 1 && strings.Contains(r[0], "Failing") && strings.Contains(r[0], "CrashLoopBackOff: OOMKilled, exit code 137")
	})
	opsContains(t, "the title", screen, "1 deployment: 1 Failing")
	tmux("send-keys", "-t", "e2e", "C-c")
}
