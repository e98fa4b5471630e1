package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// gapLength is the length --fail-on-gap names for svc's gap in msg.
// A gap already open when the wait began (set-image's watch starts after
// its write, the gap a moment after it) is "at least" its length.
var gapLength = regexp.MustCompile(`api-svc had no ready endpoint for (?:at least )?([0-9.]+m?s)(?: \(open before the wait began\))? during revision 2`)

// holdingWatch starts `watch ns -o ndjson --until-complete --fail-on-gap`
// held open by Deployment "hold", whose pod is never ready, until the
// test deletes it; it returns once the watch has listed api and hold.
func holdingWatch(t *testing.T, ns string) *watchProc {
	t.Helper()
	opsDeployment(t, ns, "hold", 1, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultNotReady)
	})
	w := startWatch(t, "watch", ns, "-o", "ndjson", "--until-complete", "--fail-on-gap", "--failing-grace", "10m", "--timeout", "5m")
	w.waitEvent(t, "hold", "is listed", func(deployment.Event) bool { return true })
	w.waitEvent(t, "api", "serves api-svc", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return s != nil && s.Ready == 1
	})
	return w
}

// release deletes "hold", so the watch's wait can settle, and returns its
// exit code.
func release(t *testing.T, ns string, w *watchProc) int {
	t.Helper()
	testbed.Kubectl(t, "-n", ns, "delete", "deployment/hold", "--wait=false")
	return w.exitCode()
}

// TestFailOnGapBefore: the write-up's "before" (1 replica, maxSurge 0,
// a Service, an application that loads for 6 s): `set-image --wait
// --fail-on-gap` and `watch --until-complete --fail-on-gap` both exit 1
// once the rollout finished, naming api-svc, the revision and a length
// within a second of what the EndpointSlices' own watch saw.
func TestFailOnGapBefore(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
	})
	tr := watchTruth(t, ns, "api-svc")
	w := holdingWatch(t, ns)

	r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage, "--wait", "--fail-on-gap")
	if r.code != 1 {
		t.Fatalf("set-image --wait --fail-on-gap: exit %d, want 1: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "serving gap during the wait") {
		t.Errorf("set-image does not say there was a serving gap: %s", r.stderr)
	}
	from, to, ok := tr.zeroSpan()
	if !ok {
		t.Fatalf("the EndpointSlices never show a gap that ended: %s", tr)
	}
	truthLen := to.Sub(from)
	if truthLen < slowStartDelay-time.Second {
		t.Errorf("the truth's gap %s is shorter than the application's load: %s", truthLen, tr)
	}
	checkNamed := func(who, out string) {
		t.Helper()
		m := gapLength.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s does not name api-svc's gap during revision 2: %s", who, out)
		}
		got, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if d := got - truthLen; d > time.Second || d < -time.Second {
			t.Errorf("%s says the gap lasted %s, the EndpointSlices %s (%s)", who, got, truthLen, tr)
		}
	}
	checkNamed("set-image --wait", r.stderr)
	if !strings.Contains(r.stdout, "api") {
		t.Errorf("set-image --wait printed no progress: %q", r.stdout)
	}

	if code := release(t, ns, w); code != 1 {
		t.Fatalf("watch --until-complete --fail-on-gap: exit %d, want 1: %s", code, w.stderr.String())
	}
	checkNamed("watch --until-complete", w.stderr.String())
	if last := w.eventsOf("api"); len(last) == 0 || last[len(last)-1].Status != deployment.Running {
		t.Errorf("the watch ended before api rolled out: %+v", last)
	}
}

// TestFailOnGapAfter: the write-up's "after" (maxSurge 1, maxUnavailable
// 0, a readiness probe, a preStop sleep): the same slow rollout passes both
// waits with --fail-on-gap, and the EndpointSlices agree it kept a ready
// endpoint throughout.
func TestFailOnGapAfter(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, fixedSpec)
	tr := watchTruth(t, ns, "api-svc")
	w := holdingWatch(t, ns)

	r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage, "--wait", "--fail-on-gap")
	if r.code != 0 {
		t.Fatalf("set-image --wait --fail-on-gap: exit %d, want 0: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `deployment "api" successfully rolled out`) {
		t.Errorf("set-image --wait does not say it rolled out: %q", r.stdout)
	}
	// The old pod's endpoint goes last: wait for the slices to hold the
	// new pod alone before the watch may settle.
	testutil.Eventually(t, time.Minute, "the slices to hold the new pod alone", func() bool {
		return readyEndpoints(t, ns, "api-svc") == 1 && endpointsOf(t, ns, "api-svc") == 1
	})
	if code := release(t, ns, w); code != 0 {
		t.Fatalf("watch --until-complete --fail-on-gap: exit %d, want 0: %s", code, w.stderr.String())
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, c := range tr.changes {
		if c.ready == 0 {
			t.Errorf("the EndpointSlices had no ready endpoint at %s: the test bed did not roll out as the spec says (%v)", c.at, tr.changes)
		}
	}
}

// TestFailOnGapCannotSee: unknown is not "no gap". An identity that may not
// list Services completes `watch --until-complete`, but with --fail-on-gap
// the wait exits 1, saying it could not see serving and why.
func TestFailOnGapCannotSee(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, nil)
	kubeconfig := rolloutKubeconfig(t, ns, "no-services",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}})
	if r := opsRun(t, "--kubeconfig", kubeconfig, "watch", ns, "--until-complete", "--timeout", "1m"); r.code != 0 {
		t.Fatalf("without --fail-on-gap: exit %d, want 0: %s", r.code, r.stderr)
	}
	r := opsRun(t, "--kubeconfig", kubeconfig, "watch", ns, "--until-complete", "--fail-on-gap", "--timeout", "1m")
	if r.code != 1 {
		t.Fatalf("with --fail-on-gap: exit %d, want 1: %s", r.code, r.stderr)
	}
	opsContains(t, "stderr", r.stderr, "could not see serving during the whole wait, so --fail-on-gap cannot pass",
		"serving of deployment "+ns+"/api unknown (cannot list services: forbidden)")
}
