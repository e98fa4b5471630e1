package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// slowStartDelay is how long slowImage's application loads before it is
// ready: the 6 s the test bed's notes measured a gap with.
const slowStartDelay = 6 * time.Second

// slowImage is an application that loads for slowStartDelay.
var slowImage = testbed.SlowStartImage(slowStartDelay)

// servingApp creates Deployment name (one replica, pod labels app=name
// plus labels) with edit applied, rolled out, and Service svc selecting
// app=name plus selector, and waits until the Service has a ready
// endpoint.
func servingApp(t *testing.T, ns, name, svc string, labels, selector map[string]string, edit func(*appsv1.Deployment)) {
	t.Helper()
	opsDeployment(t, ns, name, 1, true, func(d *appsv1.Deployment) {
		for k, v := range labels {
			d.Spec.Template.Labels[k] = v
		}
		d.Spec.Selector.MatchLabels = d.Spec.Template.Labels
		if edit != nil {
			edit(d)
		}
	})
	if svc == "" {
		return
	}
	createService(t, ns, svc, selector)
	testutil.Eventually(t, time.Minute, svc+" to have a ready endpoint", func() bool { return readyEndpoints(t, ns, svc) > 0 })
}

// fixedSpec is the write-up's "after" for d: maxSurge 1, maxUnavailable 0,
// a readiness probe on the serving port and a preStop sleep.
func fixedSpec(d *appsv1.Deployment) {
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero}
	web := &d.Spec.Template.Spec.Containers[0]
	web.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	web.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
	web.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
}

func createService(t *testing.T, ns, name string, selector map[string]string) {
	t.Helper()
	_, err := testbed.Clientset(t).CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
}

// readyEndpoints counts svc's ready endpoints as the API server has them.
func readyEndpoints(t *testing.T, ns, svc string) int {
	t.Helper()
	list, err := testbed.Clientset(t).DiscoveryV1().EndpointSlices(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range list.Items {
		n += countReady(&list.Items[i])
	}
	return n
}

func countReady(es *discoveryv1.EndpointSlice) int {
	n := 0
	for _, e := range es.Endpoints {
		if e.Conditions.Ready == nil || *e.Conditions.Ready {
			n++
		}
	}
	return n
}

// truth follows a Service's ready endpoints through the EndpointSlices'
// own watch (a client-go informer), recording each change of the count
// with when this test saw it.
type truth struct {
	mu      sync.Mutex
	changes []readyAt
}

type readyAt struct {
	at    time.Time
	ready int
}

func watchTruth(t *testing.T, ns, svc string) *truth {
	t.Helper()
	tr := &truth{}
	factory := informers.NewSharedInformerFactoryWithOptions(testbed.Clientset(t), 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName + "=" + svc }))
	inf := factory.Discovery().V1().EndpointSlices().Informer()
	record := func(any) {
		n := 0
		for _, o := range inf.GetStore().List() {
			n += countReady(o.(*discoveryv1.EndpointSlice))
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if len(tr.changes) == 0 || tr.changes[len(tr.changes)-1].ready != n {
			tr.changes = append(tr.changes, readyAt{time.Now(), n})
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, o any) { record(o) }, DeleteFunc: record,
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("the EndpointSlices' informer did not sync")
	}
	return tr
}

// zeroSpan is the first span during which the Service had no ready
// endpoint, once it ended.
func (tr *truth) zeroSpan() (from, to time.Time, ok bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, c := range tr.changes {
		if c.ready != 0 || i == 0 {
			continue
		}
		for _, next := range tr.changes[i+1:] {
			if next.ready > 0 {
				return c.at, next.at, true
			}
		}
		return c.at, time.Time{}, false
	}
	return time.Time{}, time.Time{}, false
}

func (tr *truth) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var parts []string
	for _, c := range tr.changes {
		parts = append(parts, fmt.Sprintf("%s %d", c.at.Format("15:04:05.000"), c.ready))
	}
	return strings.Join(parts, ", ")
}

func servingOf(e deployment.Event, svc string) *deployment.Serving {
	for i := range e.Serving {
		if e.Serving[i].Service == svc {
			return &e.Serving[i]
		}
	}
	return nil
}

// TestServingGapDuringARollout is the zero-downtime write-up's "before":
// one replica, maxSurge 0, no readiness probe, no preStop, a Service; the
// new image's application loads for 6 s. `watch -o ndjson` shows the gap
// while it lasts, and records its length within a second of the truth the
// EndpointSlices' own watch tells; the piped wide table names the Service.
func TestServingGapDuringARollout(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
	})
	tr := watchTruth(t, ns, "api-svc")
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	wide := startWatch(t, "watch", ns, "-o", "wide")
	w.waitEvent(t, "api", "serves api-svc with 1 ready endpoint", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return s != nil && s.Ready == 1 && s.Own == 1 && s.Floor == 0 && len(e.Gaps) == 0
	})
	testutil.Eventually(t, time.Minute, "the wide table's first row", func() bool { return len(wide.output()) >= 2 })

	if r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage); r.code != 0 {
		t.Fatalf("set-image: exit %d: %s", r.code, r.stderr)
	}
	open := w.waitEvent(t, "api", "is in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	seen := time.Now()
	g := open.Gaps[0]
	if g.Service != "api-svc" || g.Kind != deployment.GapNoReadyEndpoint || g.Revision != "2" || g.Ready != 0 || g.OpenAtStart {
		t.Errorf("the open gap %+v, want api-svc with no ready endpoint during revision 2", g)
	}
	if !slices.Contains(open.Changed, "gaps") || open.Status == deployment.Failing {
		t.Errorf("the gap's event: status %s, changed %v; want gaps changed and no Failing", open.Status, open.Changed)
	}
	ended := w.waitEvent(t, "api", "recorded the gap", func(e deployment.Event) bool { return e.LastGap != nil })
	from, to, ok := tr.zeroSpan()
	if !ok {
		t.Fatalf("the EndpointSlices never show a gap that ended: %s", tr)
	}
	if seen.After(to) {
		t.Errorf("the gap was shown at %s, after it ended at %s (truth: %s)", seen.Format("15:04:05.000"), to.Format("15:04:05.000"), tr)
	}
	length, want := ended.LastGap.End.Sub(ended.LastGap.Start), to.Sub(from)
	if d := length - want; d > time.Second || d < -time.Second {
		t.Errorf("recorded gap %s, the EndpointSlices' %s (%s)", length, want, tr)
	}
	if want < slowStartDelay-time.Second {
		t.Errorf("the truth's gap %s is shorter than the application's load: %s", want, tr)
	}
	if lg := ended.LastGap; lg.Service != "api-svc" || lg.Revision != "2" || lg.Fewest != 0 || lg.Unseen || len(ended.Gaps) != 0 {
		t.Errorf("the recorded gap %+v (open %+v)", lg, ended.Gaps)
	}
	w.waitEvent(t, "api", "is Running on the new image, served again", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return e.Status == deployment.Running && strings.Contains(images(e), slowImage) && s != nil && s.Ready == 1
	})
	t.Logf("gap recorded %s, EndpointSlices %s: %s", length, want, tr)

	// The piped wide table: a SERVING column naming the Service, the gap
	// first in MESSAGE while it lasts, its cost once it ended.
	testutil.Eventually(t, time.Minute, "the wide table's rows of the gap", func() bool {
		out := strings.Join(wide.output(), "\n")
		return strings.Contains(out, "last gap ") && strings.Contains(out, "api-svc: 0 of ")
	})
	out := wide.output()
	if !strings.Contains(out[0], " SERVING ") {
		t.Errorf("the wide table's header %q has no SERVING", out[0])
	}
	var during, after string
	for _, l := range out[1:] {
		if strings.Contains(l, "api-svc: 0 of ") && during == "" {
			during = l
		}
		if strings.Contains(l, "last gap ") {
			after = l
		}
	}
	if !strings.Contains(during, " api-svc=0/") || !strings.Contains(during, "during the rollout to revision 2") {
		t.Errorf("the row during the gap %q: want api-svc=0/N and the revision", during)
	}
	if !strings.Contains(after, " api-svc=1/1 ") || !strings.Contains(after, "during revision 2 (api-svc, 0 ready at the fewest)") {
		t.Errorf("the row after the gap %q", after)
	}
}

// TestServingNoGapWithTheFixedSpec is the write-up's "after": maxSurge 1,
// maxUnavailable 0, a readiness probe and a preStop sleep: the same slow
// application rolls out with a ready endpoint throughout, and deploywatch
// shows no gap.
func TestServingNoGapWithTheFixedSpec(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, fixedSpec)
	tr := watchTruth(t, ns, "api-svc")
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "api", "serves api-svc", func(e deployment.Event) bool {
		s := servingOf(e, "api-svc")
		return s != nil && s.Ready == 1 && s.Floor == 1
	})
	if r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage); r.code != 0 {
		t.Fatalf("set-image: exit %d: %s", r.code, r.stderr)
	}
	w.waitEvent(t, "api", "is Running on the new image", func(e deployment.Event) bool {
		return e.Status == deployment.Running && strings.Contains(images(e), slowImage)
	})
	// The old pod's endpoint goes last: once the slices hold the new pod
	// alone, ready, and a Deployment made afterwards is printed, every
	// change before was seen.
	testutil.Eventually(t, time.Minute, "the slices to hold the new pod alone", func() bool {
		return readyEndpoints(t, ns, "api-svc") == 1 && endpointsOf(t, ns, "api-svc") == 1
	})
	opsDeployment(t, ns, "later", 0, false, nil)
	w.waitEvent(t, "later", "is added", func(e deployment.Event) bool { return e.Type == deployment.Added })
	for _, e := range w.eventsOf("api") {
		if len(e.Gaps) > 0 || e.LastGap != nil {
			t.Errorf("a gap with the fixed spec: %+v %+v", e.Gaps, e.LastGap)
		}
	}
	tr.mu.Lock()
	for _, c := range tr.changes {
		if c.ready == 0 {
			t.Errorf("the EndpointSlices had no ready endpoint at %s: the test bed did not roll out as the spec says (%v)", c.at, tr.changes)
		}
	}
	tr.mu.Unlock()
}

func endpointsOf(t *testing.T, ns, svc string) int {
	list, err := testbed.Clientset(t).DiscoveryV1().EndpointSlices(ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, es := range list.Items {
		n += len(es.Endpoints)
	}
	return n
}

// TestServingBlueGreenSwitch moves a Service's selector: to a colour whose
// pod is never ready, a gap on that colour at once, ended by moving back;
// to a colour scaled to zero, the Service selects no pod: a gap on the
// colour it selected before.
func TestServingBlueGreenSwitch(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "blue", "shop", map[string]string{"role": "shop", "color": "blue"}, map[string]string{"role": "shop", "color": "blue"}, nil)
	opsDeployment(t, ns, "green", 1, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Labels["role"], d.Spec.Template.Labels["color"] = "shop", "green"
		d.Spec.Selector.MatchLabels = d.Spec.Template.Labels
		d.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultNotReady)
	})
	w := startWatch(t, "watch", ns, "-o", "ndjson")
	w.waitEvent(t, "blue", "serves shop", func(e deployment.Event) bool {
		s := servingOf(e, "shop")
		return s != nil && s.Ready == 1
	})
	testutil.Eventually(t, time.Minute, "green's pod to have an endpoint address", func() bool {
		pods, _ := testbed.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "color=green"})
		return len(pods.Items) == 1 && pods.Items[0].Status.PodIP != ""
	})
	svcs := testbed.Clientset(t).CoreV1().Services(ns)
	move := func(color string) time.Time {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"selector":{"color":%q}}}`, color)
		if _, err := svcs.Patch(context.Background(), "shop", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}

	// after waits for an event of name, after the first n of them, that
	// satisfies cond.
	after := func(name string, n int, what string, cond func(deployment.Event) bool) deployment.Event {
		t.Helper()
		var found deployment.Event
		testutil.Eventually(t, 90*time.Second, name+" "+what, func() bool {
			evs := w.eventsOf(name)
			for _, e := range evs[min(n, len(evs)):] {
				if cond(e) {
					found = e
					return true
				}
			}
			return false
		})
		return found
	}
	count := func(name string) int { return len(w.eventsOf(name)) }

	green, blue := count("green"), count("blue")
	movedAt := move("green")
	open := after("green", green, "is in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if g := open.Gaps[0]; g.Service != "shop" || g.Kind != deployment.GapNoReadyEndpoint {
		t.Errorf("green's gap %+v", g)
	}
	if lag := time.Since(movedAt); lag > 5*time.Second {
		t.Errorf("the gap showed %s after the switch", lag)
	}
	after("blue", blue, "is no longer selected", func(e deployment.Event) bool { return servingOf(e, "shop") == nil })
	green, blue = count("green"), count("blue")
	move("blue")
	ended := after("green", green, "is out of its gap", func(e deployment.Event) bool { return e.LastGap != nil && len(e.Gaps) == 0 })
	if ended.LastGap.Service != "shop" || ended.LastGap.Unseen {
		t.Errorf("green's last gap %+v", ended.LastGap)
	}
	// Until the endpointslice controller swaps green's unready pod for
	// blue's, the Service still has no ready endpoint: a gap on blue, if
	// short.
	served := after("blue", blue, "serves shop again", func(e deployment.Event) bool {
		s := servingOf(e, "shop")
		return s != nil && s.Ready == 1 && len(e.Gaps) == 0
	})
	t.Logf("switching back: blue's last gap %+v", served.LastGap)

	// Green scaled to zero: the switch leaves the Service with no pod.
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/green", "--replicas=0")
	testutil.Eventually(t, time.Minute, "green's pod to go", func() bool {
		pods, _ := testbed.Clientset(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "color=green"})
		return len(pods.Items) == 0
	})
	blue = count("blue")
	move("green")
	orphan := after("blue", blue, "shows the Service selecting no pod", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if g := orphan.Gaps[0]; g.Service != "shop" || g.Kind != deployment.GapSelectsNoPod {
		t.Errorf("blue's gap %+v, want shop selecting no pod", g)
	}
	blue = count("blue")
	move("blue")
	back := after("blue", blue, "is out of the gap", func(e deployment.Event) bool { return e.LastGap != nil && len(e.Gaps) == 0 })
	if back.LastGap.Service != "shop" || !back.LastGap.Start.Equal(orphan.Gaps[0].Start) {
		t.Errorf("blue's last gap %+v, want the one that began %s", back.LastGap, orphan.Gaps[0].Start)
	}
	for _, e := range w.eventsOf("green") {
		if e.Replicas.Desired == 0 && len(e.Gaps) > 0 {
			t.Errorf("green, scaled to zero, in a gap: %+v", e.Gaps)
		}
	}
}

// TestServingUnknownWithoutTheRight: an identity that may read Deployments
// and the diagnosis's resources but not Services is told once that serving
// is unknown, and every line says so; it is no error.
func TestServingUnknownWithoutTheRight(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, nil)
	kubeconfig := rolloutKubeconfig(t, ns, "no-services",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}})
	r := opsRun(t, "--kubeconfig", kubeconfig, "watch", ns, "-o", "ndjson", "--until-complete", "--timeout", "1m")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: %s", r.code, r.stderr)
	}
	if want := "warning: serving unknown: cannot read services: "; strings.Count(r.stderr, "warning: serving unknown") != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr %q, want one line starting %q", r.stderr, want)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines {
		var e deployment.Event
		if err := json.NewDecoder(bytes.NewBufferString(l)).Decode(&e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if e.ServingUnknown != "cannot list services: forbidden" || e.Serving != nil || e.Gaps != nil {
			t.Errorf("line %q: want serving unknown, no serving, no gaps", l)
		}
	}
	if len(lines) != 1 {
		t.Errorf("%d lines, want api's alone", len(lines))
	}
}

// TestServingLiveTable: on a terminal, SERVING counts the Service's ready
// endpoints, a gap is shown at once in the row and counted in the title,
// its cost stays once it ended, and a Service that selects no pod has its
// own line under the title.
func TestServingLiveTable(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
	})
	createService(t, ns, "typo", map[string]string{"app": "apj"})
	tmux, waitPane, rowOf := newTmux(t, 200, 30)
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns, "Enter")
	screen := waitPane("api serving 1/1", func(s string) bool {
		r := rowOf(s, "api")
		return len(r) == 1 && strings.Contains(r[0], "Running") && strings.Contains(s, "SERVING") && strings.Contains(r[0], " 1/1 ")
	})
	opsContains(t, "the live table", screen, "  "+ns+"/typo: selects no pod since before ", " · 1 serving gap")

	if r := opsRun(t, "-n", ns, "set-image", "api", "web="+slowImage); r.code != 0 {
		t.Fatalf("set-image: exit %d: %s", r.code, r.stderr)
	}
	screen = waitPane("api in a gap", func(s string) bool {
		r := rowOf(s, "api")
		return len(r) == 1 && strings.Contains(r[0], "api-svc: 0 of ") && strings.Contains(s, " · 2 serving gaps")
	})
	// The old pod's endpoint goes before the new pod has one: 0/0 or 0/1.
	if r := rowOf(screen, "api")[0]; !strings.Contains(r, " 0/") || !strings.Contains(r, "during the rollout to revision 2") || strings.Contains(r, "Failing") {
		t.Errorf("the row during the gap %q: want 0/1, the revision, and not Failing", r)
	}
	screen = waitPane("api's last gap", func(s string) bool {
		r := rowOf(s, "api")
		return len(r) == 1 && strings.Contains(r[0], "Running") && strings.Contains(r[0], "last gap ") && strings.Contains(s, " · 1 serving gap")
	})
	if r := rowOf(screen, "api")[0]; !strings.Contains(r, " 1/1 ") || !strings.Contains(r, "during revision 2 (api-svc, 0 ready at the fewest)") {
		t.Errorf("the row after the gap %q", r)
	}
	tmux("send-keys", "-t", "e2e", "C-c")
}
