package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// rolloutsOf are the ROLLOUT events among evs of Deployment name.
func rolloutsOf(evs []deployment.Event, name string) []deployment.Event {
	var out []deployment.Event
	for _, e := range evs {
		if e.Name == name && e.Type == deployment.Rollout {
			out = append(out, e)
		}
	}
	return out
}

// costLine waits for the one line on the piped watch's stderr that says
// what the rollout of ns/name to revision cost, and returns it.
func costLine(t *testing.T, p *watchProc, ns, name, revision string) string {
	t.Helper()
	prefix := fmt.Sprintf("deployment %s/%s: rollout to revision %s ", ns, name, revision)
	var line string
	testutil.Eventually(t, 90*time.Second, "the line of what the rollout cost on stderr", func() bool {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

var gapInAll = regexp.MustCompile(`; serving gap ([0-9.]+m?s) in all`)

// within says whether a and b are at most a second apart.
func within(a, b time.Duration) bool { return a-b <= time.Second && b-a <= time.Second }

// TestRolloutCostBefore: issue 26's case (a) (one replica, maxSurge 0, no
// readiness probe, a Service; the new image's application loads for 6 s).
// When the rollout completes, `watch -o ndjson` prints one ROLLOUT event
// and the piped table one line on stderr, saying the revision, api-svc's
// fewest ready endpoints (0) and the gap's time, within a second of the
// gap recorded and of what the EndpointSlices' own watch saw. Neither
// says it again. `watch --until-complete` closes with the warnings.
func TestRolloutCostBefore(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
	})
	tr := watchTruth(t, ns, "api-svc")
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	piped := startWatch(t, "watch", ns)
	w.waitEvent(t, "api", "serves api-svc", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return s != nil && s.Ready == 1
	})
	testutil.Eventually(t, time.Minute, "the piped table's first row", func() bool { return len(piped.output()) >= 2 })

	if r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage); r.code != 0 {
		t.Fatalf("set-image: exit %d: %s", r.code, r.stderr)
	}
	ro := w.waitEvent(t, "api", "ended its rollout", func(e deployment.Event) bool { return e.Type == deployment.Rollout })
	c := ro.LastRollout
	if c == nil || c.Revision != "2" || c.Outcome != deployment.RolloutComplete || c.OpenAtStart || c.Unseen || c.GapOpen ||
		len(c.Services) != 1 || c.Services[0].Service != "api-svc" || c.Services[0].Fewest != 0 || len(c.FailedPreStopHooks) != 0 {
		t.Fatalf("the rollout's cost %+v, want revision 2 complete, api-svc with 0 ready at the fewest", c)
	}
	if ro.LastGap == nil {
		t.Fatalf("the ROLLOUT event's summary has no gap recorded: %+v", ro.Summary)
	}
	gap := time.Duration(c.GapSeconds * float64(time.Second))
	recorded := ro.LastGap.Length(time.Time{})
	from, to, ok := tr.zeroSpan()
	if !ok {
		t.Fatalf("the EndpointSlices never show a gap that ended: %s", tr)
	}
	if !within(gap, recorded) || !within(gap, to.Sub(from)) || gap < slowStartDelay-time.Second {
		t.Errorf("the rollout's gap %s; recorded %s, the EndpointSlices %s (%s)", gap, recorded, to.Sub(from), tr)
	}
	if took := c.End.Sub(c.Start); took < gap || c.DurationSeconds != deployment.Seconds(took) {
		t.Errorf("the rollout took %s (%gs), less than its gap %s", took, c.DurationSeconds, gap)
	}

	line := costLine(t, piped, ns, "api", "2")
	m := gapInAll.FindStringSubmatch(line)
	if m == nil || !strings.Contains(line, " complete in ") || !strings.Contains(line, "; ready endpoints at the fewest: api-svc 0;") {
		t.Fatalf("the piped table's line %q", line)
	}
	said, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !within(said, recorded) {
		t.Errorf("the line says the gap lasted %s, the gap recorded %s", said, recorded)
	}
	for _, l := range piped.output() {
		if strings.Contains(l, "/api: rollout to revision") {
			t.Errorf("the line of what it cost is on stdout, among the rows: %q", l)
		}
	}

	// Told once: a Deployment made afterwards shows in both, so every
	// event before it was seen.
	opsDeployment(t, ns, "later", 0, false, nil)
	w.waitEvent(t, "later", "is added", func(e deployment.Event) bool { return e.Type == deployment.Added })
	testutil.Eventually(t, time.Minute, "the piped table's row of later", func() bool {
		return strings.Contains(strings.Join(piped.output(), "\n"), "\nlater ")
	})
	if n := len(rolloutsOf(w.allEvents(), "api")); n != 1 {
		t.Errorf("%d ROLLOUT events of api, want one", n)
	}
	if n := strings.Count(piped.stderr.String(), "/api: rollout to revision"); n != 1 {
		t.Errorf("%d lines of what the rollout cost, want one:\n%s", n, piped.stderr.String())
	}

	// The closing summary of --until-complete names api's warnings.
	last := w.eventsOf("api")
	ids := make([]string, 0, len(last[len(last)-1].Warnings))
	for _, wn := range last[len(last)-1].Warnings {
		ids = append(ids, wn.ID)
	}
	if !strings.Contains(strings.Join(ids, ","), "rollout-drops-all-pods") {
		t.Fatalf("api's warnings %v, want rollout-drops-all-pods among them", ids)
	}
	r := opsRun(t, "watch", ns, "--until-complete", "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("watch --until-complete: exit %d: %s", r.code, r.stderr)
	}
	want := fmt.Sprintf("warning: rollout-safety warnings on 1 deployment: %s/api %d (%s); 'kubectl deploywatch check' says how to fix each\n",
		ns, len(ids), strings.Join(ids, ", "))
	if !strings.HasSuffix(r.stderr, want) {
		t.Errorf("watch --until-complete closed with %q, want %q", r.stderr, want)
	}
}

// TestRolloutCostAfter: issue 26's case (b), the fixed spec (maxSurge 1,
// maxUnavailable 0, a readiness probe, a preStop sleep): the same slow
// rollout ends with a line that says there was no serving gap, api-svc
// keeping a ready endpoint at the fewest.
func TestRolloutCostAfter(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, fixedSpec)
	tr := watchTruth(t, ns, "api-svc")
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	piped := startWatch(t, "watch", ns)
	w.waitEvent(t, "api", "serves api-svc", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return s != nil && s.Ready == 1
	})
	testutil.Eventually(t, time.Minute, "the piped table's first row", func() bool { return len(piped.output()) >= 2 })

	if r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage); r.code != 0 {
		t.Fatalf("set-image: exit %d: %s", r.code, r.stderr)
	}
	ro := w.waitEvent(t, "api", "ended its rollout", func(e deployment.Event) bool { return e.Type == deployment.Rollout })
	c := ro.LastRollout
	if c == nil || c.Revision != "2" || c.Outcome != deployment.RolloutComplete || c.GapSeconds != 0 || c.GapOpen || c.Unseen ||
		len(c.Services) != 1 || c.Services[0].Fewest < 1 || c.Services[0].GapSeconds != 0 {
		t.Errorf("the rollout's cost %+v, want revision 2 complete, no gap, api-svc never below 1 ready", c)
	}
	// The rollout waited for the application to load.
	if took := c.End.Sub(c.Start); took < slowStartDelay-time.Second {
		t.Errorf("the rollout took %s, less than the application's load", took)
	}
	line := costLine(t, piped, ns, "api", "2")
	if !strings.HasSuffix(line, fmt.Sprintf("; ready endpoints at the fewest: api-svc %d; no serving gap", c.Services[0].Fewest)) {
		t.Errorf("the piped table's line %q", line)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, ch := range tr.changes {
		if ch.ready == 0 {
			t.Errorf("the EndpointSlices had no ready endpoint at %s: the test bed did not roll out as the spec says (%v)", ch.at, tr.changes)
		}
	}
}

// TestRolloutCostNamesFailedPreStopHook: the old pod's image has no
// `sleep`, so its exec preStop hook fails as it goes (the kubelet's
// Warning FailedPreStopHook event, which the test bed makes) while the
// new one starts: the line of `set-image --wait` and the ROLLOUT event of
// `watch` name that pod.
func TestRolloutCostNamesFailedPreStopHook(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "api", 1, true, func(d *appsv1.Deployment) {
		// The old pod goes first, so its hook fails while the new one starts.
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
		web := &d.Spec.Template.Spec.Containers[0]
		web.Image = testbed.NoShellImage
		web.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "5"}}}}
	})
	pods, err := testbed.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("api's pods: %v, %v", pods, err)
	}
	old := pods.Items[0].Name
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "api", "is listed", func(e deployment.Event) bool { return e.Status == deployment.Running })

	r := opsRun(t, "-n", ns, "set-image", "api", "web="+testbed.SlowStartImage(3*time.Second), "--wait")
	if r.code != 0 {
		t.Fatalf("set-image --wait: exit %d: %s", r.code, r.stderr)
	}
	ro := w.waitEvent(t, "api", "ended its rollout", func(e deployment.Event) bool { return e.Type == deployment.Rollout })
	// The count is the events' own (kwok may record one twice, as it
	// plays its Stage on two updates of the pod going).
	events, err := testbed.Clientset(t).CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + old})
	if err != nil {
		t.Fatal(err)
	}
	var count int32
	for _, e := range events.Items {
		if e.Reason == "FailedPreStopHook" {
			count += max(e.Count, 1)
		}
	}
	want := deployment.PreStopFailure{Pod: old, Message: "PreStopHook failed", Count: count}
	if c := ro.LastRollout; c == nil || len(c.FailedPreStopHooks) != 1 || c.FailedPreStopHooks[0] != want || count < 1 {
		t.Errorf("the rollout's cost %+v, want the FailedPreStopHook of %s (%d in the API server)", c, old, count)
	}
	suffix := "; no Service selects its pods; FailedPreStopHook on old pod " + old + "\n"
	if !strings.Contains(r.stderr, fmt.Sprintf("deployment %s/api: rollout to revision 2 complete in ", ns)) || !strings.HasSuffix(r.stderr, suffix) {
		t.Errorf("set-image --wait's stderr %q, want the line of what the rollout cost ending %q", r.stderr, suffix)
	}
	if strings.Contains(r.stderr, "under way when deploywatch started") {
		t.Errorf("set-image --wait's stderr %q says its own rollout was under way when it started", r.stderr)
	}
}

// TestRolloutCostToldOnceAcrossARelist: a rollout's end is told once by
// `watch -o ndjson`, the piped table and serve's stream; their watches
// then expire for real (cut off while etcd is compacted past them) and
// list everything again, and none tells it again.
func TestRolloutCostToldOnceAcrossARelist(t *testing.T) {
	b := newFaultBed(t, testbed.Options{APIServerArgs: map[string]string{"watch-cache-sizes": "deployments.apps#0"}}, true)
	b.create(t, "web", 1)
	truth := b.waitSettled(t)
	w := startWatchEnv(t, append(b.env, "DEPLOYWATCH_KLOG_V=4"), "watch", b.ns, "-o", "ndjson")
	piped := startWatchEnv(t, b.env, "watch", b.ns)
	srv := startServeEnv(t, b.env, "--linger", "0")
	f := follow(t, srv.openStream(t, b.ns, nil))
	testutil.Eventually(t, time.Minute, "watch and serve to show web", func() bool {
		return matchesAll(lastByName(w.allEvents()), truth) == "" && matchesAll(f.view(), truth) == "" && len(piped.output()) >= 2
	})

	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.k8s.io/pause:3.9"}]`
	if _, err := b.cs.AppsV1().Deployments(b.ns).Patch(context.Background(), "web", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, "web", "ended its rollout", func(e deployment.Event) bool { return e.Type == deployment.Rollout })
	testutil.Eventually(t, time.Minute, "serve to stream the ROLLOUT event", func() bool { return len(rolloutsOf(f.all(), "web")) == 1 })
	costLine(t, piped, b.ns, "web", "2")
	// A watch cut within a second of its start is relisted, not resumed.
	time.Sleep(3 * time.Second)
	relists := srv.metric(t, "deploywatch_upstream_relists_total")
	watchLists := strings.Count(w.stderr.String(), "Listing and watching")

	b.proxy.Cut()
	for i := range 5 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%d", i)}, Data: map[string]string{"i": strconv.Itoa(i)}}
		if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rev := etcdRevision(t, b)
	if _, stderr, err := b.c.Etcdctl("compaction", strconv.FormatInt(rev, 10)); err != nil {
		t.Fatalf("compact etcd at %d: %v: %s", rev, err, stderr)
	}
	b.proxy.Restore()
	testutil.Eventually(t, time.Minute, "serve's informer to list again", func() bool {
		return srv.metric(t, "deploywatch_upstream_relists_total") > relists
	})
	testutil.Eventually(t, time.Minute, "watch's informer to list again", func() bool {
		return strings.Count(w.stderr.String(), "Listing and watching") > watchLists
	})
	proveSilence(t, b, w, f, "later")
	testutil.Eventually(t, time.Minute, "the piped table's row of later", func() bool {
		return strings.Contains(strings.Join(piped.output(), "\n"), "\nlater ")
	})
	if n := len(rolloutsOf(w.allEvents(), "web")); n != 1 {
		t.Errorf("watch -o ndjson told web's rollout %d times, want once", n)
	}
	if n := len(rolloutsOf(f.all(), "web")); n != 1 {
		t.Errorf("serve streamed web's rollout %d times, want once", n)
	}
	if n := strings.Count(piped.stderr.String(), "/web: rollout to revision"); n != 1 {
		t.Errorf("the piped table told web's rollout %d times, want once:\n%s", n, piped.stderr.String())
	}
}
