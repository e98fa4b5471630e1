package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestOpsScaleAndSetImage: both commands change the real Deployment, print
// what kubectl prints, write nothing when asked for what is there, and a
// server dry run reaches the API server without persisting anything.
func TestOpsScaleAndSetImage(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)

	r := opsRun(t, "-n", ns, "scale", "web", "--replicas=4")
	if r.code != 0 || r.stdout != "deployment.apps/web scaled\n" {
		t.Fatalf("scale: exit %d, stdout %q", r.code, r.stdout)
	}
	if got := *opsGet(t, ns, "web").Spec.Replicas; got != 4 {
		t.Errorf("replicas = %d after scale, want 4", got)
	}

	r = opsRun(t, "-n", ns, "set-image", "deployment/web", "web=registry.k8s.io/pause:3.9", "migrate=registry.k8s.io/pause:3.9")
	if r.code != 0 || r.stdout != "deployment.apps/web image updated\n" {
		t.Fatalf("set-image: exit %d, stdout %q", r.code, r.stdout)
	}
	if got, want := opsImages(opsGet(t, ns, "web")), "init:migrate=registry.k8s.io/pause:3.9,web=registry.k8s.io/pause:3.9,sidecar=registry.k8s.io/pause:3.10"; got != want {
		t.Errorf("images = %s, want %s", got, want)
	}
	// '*' sets init containers too, as kubectl set image does; a container
	// also named gets its own image.
	r = opsRun(t, "-n", ns, "set-image", "web", "sidecar=registry.k8s.io/pause:3.10", "*=registry.k8s.io/pause:3.8")
	if got, want := opsImages(opsGet(t, ns, "web")), "init:migrate=registry.k8s.io/pause:3.8,web=registry.k8s.io/pause:3.8,sidecar=registry.k8s.io/pause:3.10"; r.code != 0 || got != want {
		t.Errorf("set-image '*': exit %d, images %s, want %s", r.code, got, want)
	}

	// Nothing to do, or only a dry run: the resourceVersion does not move
	// (once the controller is done with the changes above).
	testutil.Eventually(t, time.Minute, "the rollout to end", func() bool { return opsRolledOut(opsGet(t, ns, "web")) })
	rv := opsGet(t, ns, "web").ResourceVersion
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"scale", "web", "--replicas=4"}, "deployment.apps/web unchanged\n"},
		{[]string{"set-image", "web", "web=registry.k8s.io/pause:3.8"}, "deployment.apps/web unchanged\n"},
		{[]string{"scale", "web", "--replicas=7", "--dry-run=client"}, "deployment.apps/web scaled (dry run)\n  replicas 4 -> 7\n"},
		{[]string{"scale", "web", "--replicas=7", "--dry-run=server"}, "deployment.apps/web scaled (server dry run)\n  replicas 4 -> 7\n"},
		{[]string{"set-image", "web", "web=registry.k8s.io/pause:3.7", "--dry-run=server"}, "deployment.apps/web image updated (server dry run)\n  container web: registry.k8s.io/pause:3.8 -> registry.k8s.io/pause:3.7\n"},
	} {
		r := opsRun(t, append([]string{"-n", ns}, tc.args...)...)
		if r.code != 0 || r.stdout != tc.out {
			t.Errorf("%v: exit %d, stdout %q, want %q", tc.args, r.code, r.stdout, tc.out)
		}
		if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
			t.Errorf("%v: resourceVersion moved from %s to %s", tc.args, rv, got)
		}
	}

	// -o json prints what the API server returned: the Scale for scale.
	r = opsRun(t, "-n", ns, "scale", "web", "--replicas=3", "-o", "json")
	var scale struct {
		Kind string `json:"kind"`
		Spec struct {
			Replicas int32 `json:"replicas"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &scale); err != nil || r.code != 0 || scale.Kind != "Scale" || scale.Spec.Replicas != 3 {
		t.Errorf("scale -o json: exit %d, %+v, %v", r.code, scale, err)
	}
	// A precondition that holds lets the change through (read once the
	// controller has stopped writing the status).
	testutil.Eventually(t, time.Minute, "the rollout to end", func() bool { return opsRolledOut(opsGet(t, ns, "web")) })
	d := opsGet(t, ns, "web")
	r = opsRun(t, "-n", ns, "scale", "web", "--replicas=2", "--current-replicas=3", "--resource-version="+d.ResourceVersion)
	if r.code != 0 || *opsGet(t, ns, "web").Spec.Replicas != 2 {
		t.Errorf("scale with holding preconditions: exit %d, replicas %d", r.code, *opsGet(t, ns, "web").Spec.Replicas)
	}
	testutil.Eventually(t, time.Minute, "the rollout to end", func() bool { return opsRolledOut(opsGet(t, ns, "web")) })
	d = opsGet(t, ns, "web")
	r = opsRun(t, "-n", ns, "set-image", "web", "sidecar=registry.k8s.io/pause:3.9", "--resource-version="+d.ResourceVersion)
	if r.code != 0 || !strings.Contains(opsImages(opsGet(t, ns, "web")), "sidecar=registry.k8s.io/pause:3.9") {
		t.Errorf("set-image with a holding precondition: exit %d, images %s", r.code, opsImages(opsGet(t, ns, "web")))
	}
}

// TestOpsWaitRunning: --wait follows a real rollout and exits 0 only once
// the change itself has rolled out, not on the Running state from before it.
func TestOpsWaitRunning(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)

	for _, args := range [][]string{
		{"scale", "web", "--replicas=5", "--wait", "--timeout=2m"},
		{"set-image", "web", "web=registry.k8s.io/pause:3.9", "--wait"},
		{"scale", "web", "--replicas=0", "--wait"},
	} {
		before := opsGet(t, ns, "web")
		r := opsRun(t, append([]string{"-n", ns}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		// Checked right after the command returned: it must not have left
		// on a stale Running.
		after := opsGet(t, ns, "web")
		if after.Generation <= before.Generation || !opsRolledOut(after) {
			t.Errorf("%v returned before the rollout: generation %d -> %d, status %+v", args, before.Generation, after.Generation, after.Status)
		}
		opsContains(t, "the progress", r.stdout, "NAME", `deployment "web" successfully rolled out`)
		if strings.Count(r.stdout, "\n") < 3 {
			t.Errorf("%v: no progress rows:\n%s", args, r.stdout)
		}
	}

	// With -o, standard output holds the object alone; progress goes to
	// standard error.
	r := opsRun(t, "-n", ns, "scale", "web", "--replicas=1", "--wait", "-o", "name")
	if r.code != 0 || r.stdout != "deployment.apps/web\n" {
		t.Errorf("-o name --wait: exit %d, stdout %q", r.code, r.stdout)
	}
	opsContains(t, "standard error", r.stderr, `deployment "web" successfully rolled out`)
}

// TestOpsWaitFailed: a Deployment whose pods cannot be scheduled exceeds
// its progress deadline; --wait exits 1 with the Deployment's message, and
// only for the rollout it started, not for the failure from before.
func TestOpsWaitFailed(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "stuck", 2, false, func(d *appsv1.Deployment) {
		deadline := int32(5)
		d.Spec.ProgressDeadlineSeconds = &deadline
		d.Spec.Template.Spec.NodeSelector = map[string]string{"deploywatch.test/no-such-node": "true"}
	})
	testutil.Eventually(t, time.Minute, "the first rollout to fail", func() bool {
		return opsFailed(opsGet(t, ns, "stuck"))
	})
	first := opsFailedMessage(opsGet(t, ns, "stuck"))

	r := opsRun(t, "-n", ns, "set-image", "stuck", "web=registry.k8s.io/pause:3.9", "--wait", "--timeout=2m")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (Failed)", r.code)
	}
	d := opsGet(t, ns, "stuck")
	if d.Status.ObservedGeneration < d.Generation || !opsFailed(d) {
		t.Fatalf("exited before the new rollout failed: status %+v", d.Status)
	}
	second := opsFailedMessage(d)
	if second == first {
		t.Errorf("the new rollout's failure reads as the old one: %q", second)
	}
	opsContains(t, "the error", r.stderr, `error: deployment "stuck" in namespace "`+ns+`" is Failed: Unschedulable: `, "; ProgressDeadlineExceeded: "+second)

	// A Deployment that never settles within --timeout (its progress
	// deadline is the default 10 minutes): exit 2.
	opsDeployment(t, ns, "slow", 1, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.NodeSelector = map[string]string{"deploywatch.test/no-such-node": "true"}
	})
	r = opsRun(t, "-n", ns, "scale", "slow", "--replicas=3", "--wait", "--timeout=3s")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (timeout)", r.code)
	}
	opsContains(t, "the error", r.stderr, `timed out after 3s waiting for the rollout of deployment "slow"`, "of 3 replicas")
}

func opsFailed(d *appsv1.Deployment) bool { return opsFailedMessage(d) != "" }

func opsFailedMessage(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
			return c.Message
		}
	}
	return ""
}
