package tracker

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// fakeDiscovery is the fake clientset's DiscoveryV1, which cannot stream
// lists either.
type fakeDiscovery struct {
	discoveryv1client.DiscoveryV1Interface
}

func (fakeDiscovery) IsWatchListSemanticsUnSupported() bool { return true }

func fakeServing(c *fake.Clientset) *Diagnose {
	d := fakeDiagnose(c)
	d.Services, d.EndpointSlices = fakeCore{c.CoreV1()}, fakeDiscovery{c.DiscoveryV1()}
	return d
}

// clock is a settable time for gaps' starts and ends.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 12, 7, 14, 2, 11, 0, time.UTC)

// servedDeployment is name with pod labels app=name plus extra, replicas
// pods (name-1-0, ...) of ReplicaSet name-1, and maxSurge/maxUnavailable.
func servedDeployment(name string, replicas int32, surge, unavailable intstr.IntOrString, extra map[string]string) []runtime.Object {
	d := newDeployment(name, replicas, "nginx:1")
	d.Annotations = map[string]string{RevisionAnnotation: "12"}
	d.Spec.Template.Labels = map[string]string{"app": name}
	for k, v := range extra {
		d.Spec.Template.Labels[k] = v
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}}
	controller := true
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: "shop", Annotations: map[string]string{RevisionAnnotation: "12"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: name, UID: d.UID, Controller: &controller}}}}
	objs := []runtime.Object{d, rs}
	for i := range replicas {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-1-%d", name, i), Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, Controller: &controller}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	}
	return objs
}

func service(name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Spec: corev1.ServiceSpec{Selector: selector}}
}

// endpoint is a pod's endpoint: ready, or serving while terminating.
type endpoint struct {
	pod                         string
	ready, serving, terminating bool
}

func readyPods(pods ...string) []endpoint {
	var out []endpoint
	for _, p := range pods {
		out = append(out, endpoint{pod: p, ready: true, serving: true})
	}
	return out
}

func slice(name, svc string, eps []endpoint) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4}
	for i, e := range eps {
		ready, serving, terminating := e.ready, e.serving, e.terminating
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.0.0.%d", i+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: e.pod},
		})
	}
	return es
}

// servingRig runs a tracker with serving over a fake clientset.
type servingRig struct {
	t      *testing.T
	client *fake.Clientset
	tr     *Tracker
	rec    *recorder
	clock  *clock
	stop   func()

	mu      sync.Mutex
	svcGaps [][]deployment.ServiceGap
}

func startServing(t *testing.T, objs ...runtime.Object) *servingRig {
	t.Helper()
	return startServingWith(t, func(*fake.Clientset, *Diagnose) {}, []string{"services", "endpointslices", "deployments", "pods"}, objs...)
}

// startServingWith is startServing with more clients (set by more),
// waiting for the watches of resources.
func startServingWith(t *testing.T, more func(*fake.Clientset, *Diagnose), resources []string, objs ...runtime.Object) *servingRig {
	t.Helper()
	r := &servingRig{t: t, client: fake.NewClientset(objs...), rec: &recorder{}, clock: &clock{now: t0}}
	var watching sync.Map
	for _, res := range resources {
		r.client.PrependWatchReactor(res, func(k8stesting.Action) (bool, watch.Interface, error) {
			watching.Store(res, true)
			return false, nil, nil
		})
	}
	diag := fakeServing(r.client)
	more(r.client, diag)
	r.tr = New(fakeApps{r.client.AppsV1()}, Options{Namespace: "shop", Diagnose: diag, Now: r.clock.Now,
		OnServiceGaps: func(g []deployment.ServiceGap) {
			r.mu.Lock()
			r.svcGaps = append(r.svcGaps, g)
			r.mu.Unlock()
		}})
	stop, err := r.tr.Start(context.Background(), r.rec)
	if err != nil {
		t.Fatal(err)
	}
	r.stop = stop
	t.Cleanup(stop)
	// Writes between an informer's list and its watch are lost on fakes.
	testutil.Eventually(t, 10*time.Second, "every watch", func() bool {
		n := 0
		watching.Range(func(any, any) bool { n++; return true })
		return n == len(resources)
	})
	return r
}

// last is the latest event of Deployment name.
func (r *servingRig) last(name string) deployment.Event {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	for i := len(r.rec.events) - 1; i >= 0; i-- {
		if r.rec.events[i].Name == name {
			return r.rec.events[i]
		}
	}
	r.t.Fatalf("no event of %s", name)
	return deployment.Event{}
}

func (r *servingRig) count() int {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	return len(r.rec.events)
}

// setSlice writes es, created or updated, at time at.
func (r *servingRig) setSlice(at time.Time, es *discoveryv1.EndpointSlice) {
	r.t.Helper()
	r.clock.set(at)
	c := r.client.DiscoveryV1().EndpointSlices("shop")
	if _, err := c.Update(context.Background(), es, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = c.Create(context.Background(), es, metav1.CreateOptions{})
		if err != nil {
			r.t.Fatal(err)
		}
	} else if err != nil {
		r.t.Fatal(err)
	}
}

// settle writes a Deployment the tracker must report, and waits for it:
// the informers deliver in order, so every write before was seen.
func (r *servingRig) settle() {
	r.t.Helper()
	name := fmt.Sprintf("marker-%d", r.count())
	if _, err := r.client.AppsV1().Deployments("shop").Create(context.Background(), newDeployment(name, 0, "x"), metav1.CreateOptions{}); err != nil {
		r.t.Fatal(err)
	}
	testutil.Eventually(r.t, 10*time.Second, name, func() bool {
		r.rec.mu.Lock()
		defer r.rec.mu.Unlock()
		return slices.ContainsFunc(r.rec.events, func(e deployment.Event) bool { return e.Name == name })
	})
}

// waitServing waits for an event of name whose serving of svc satisfies cond.
func (r *servingRig) waitEvent(name, what string, cond func(deployment.Event) bool) deployment.Event {
	r.t.Helper()
	var found deployment.Event
	testutil.Eventually(r.t, 10*time.Second, name+" "+what, func() bool {
		r.rec.mu.Lock()
		defer r.rec.mu.Unlock()
		for i := len(r.rec.events) - 1; i >= 0; i-- {
			if e := r.rec.events[i]; e.Name == name && cond(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// TestServingMapsServicesToDeployments: a Service selects a Deployment
// when its whole selector is in the pod template's labels; its ready
// endpoints count whoever's they are, own only the Deployment's, each pod
// once over dual-stack slices, terminating ones apart.
func TestServingMapsServicesToDeployments(t *testing.T) {
	objs := servedDeployment("web", 3, intstr.FromInt32(1), intstr.FromInt32(0), map[string]string{"tier": "front"})
	objs = append(objs, servedDeployment("canary", 1, intstr.FromInt32(1), intstr.FromInt32(0), map[string]string{"tier": "front"})...)
	ext := service("ext", map[string]string{"app": "web"})
	ext.Spec.Type = corev1.ServiceTypeExternalName
	other := service("other-ns", map[string]string{"app": "web"})
	other.Namespace = "elsewhere"
	front := append(readyPods("web-1-0", "web-1-1", "canary-1-0"),
		endpoint{pod: "web-1-2", ready: false, serving: false},
		endpoint{pod: "web-1-9", ready: false, serving: true, terminating: true})
	v6 := slice("front-v6", "front", front)
	v6.AddressType = discoveryv1.AddressTypeIPv6
	objs = append(objs,
		service("web", map[string]string{"app": "web"}),
		service("front", map[string]string{"tier": "front"}),
		service("both", map[string]string{"app": "web", "tier": "front"}),
		service("back", map[string]string{"app": "web", "tier": "back"}),
		service("none", nil), ext, other,
		slice("web-a", "web", readyPods("web-1-0", "web-1-1", "web-1-2")),
		slice("front-v4", "front", front), v6,
		slice("both-a", "both", readyPods("web-1-0")),
	)
	r := startServing(t, objs...)
	web := r.last("web")
	want := []deployment.Serving{
		{Service: "both", Ready: 1, Endpoints: 1, Own: 1, Floor: 3},
		{Service: "front", Ready: 3, Endpoints: 5, Terminating: 1, Own: 2, Floor: 3},
		{Service: "web", Ready: 3, Endpoints: 3, Own: 3, Floor: 3},
	}
	if !slices.Equal(web.Serving, want) {
		t.Errorf("web's serving\n %+v, want\n %+v", web.Serving, want)
	}
	canary := r.last("canary")
	if want := []deployment.Serving{{Service: "front", Ready: 3, Endpoints: 5, Terminating: 1, Own: 1, Floor: 1}}; !slices.Equal(canary.Serving, want) {
		t.Errorf("canary's serving %+v, want %+v", canary.Serving, want)
	}
	// web's own endpoints under "both" and "front" fell below nothing: the
	// tracker started with them so, and a floor counts only a fall.
	if len(web.Gaps) != 0 || len(canary.Gaps) != 0 {
		t.Errorf("gaps at start %+v %+v, want none", web.Gaps, canary.Gaps)
	}
	// "back" selects no pod, and no Deployment it ever selected can show
	// it: a gap of its own, which began before the tracker started.
	if gaps := r.tr.ServiceGaps(); len(gaps) != 1 || gaps[0].Service != "back" || !gaps[0].OpenAtStart || gaps[0].Kind != deployment.GapSelectsNoPod {
		t.Errorf("Service gaps %+v, want back's alone", gaps)
	}
}

// TestServingChangesOnlyAcrossZeroOrTheFloor: endpoints that come and go
// inside the safe band print nothing; falling below the floor, to zero,
// and back are changes, and the gap is recorded with its start, end,
// revision and fewest endpoints.
func TestServingChangesOnlyAcrossZeroOrTheFloor(t *testing.T) {
	objs := servedDeployment("web", 3, intstr.FromInt32(0), intstr.FromInt32(1), nil) // floor 2
	objs = append(objs, service("api-svc", map[string]string{"app": "web"}), slice("api-a", "api-svc", readyPods("web-1-0", "web-1-1", "web-1-2")))
	r := startServing(t, objs...)
	if s := r.last("web").Serving; len(s) != 1 || s[0].Ready != 3 || s[0].Floor != 2 {
		t.Fatalf("serving at start %+v", s)
	}
	before := r.count()
	r.setSlice(t0.Add(time.Second), slice("api-a", "api-svc", readyPods("web-1-0", "web-1-1")))
	r.setSlice(t0.Add(2*time.Second), slice("api-a", "api-svc", readyPods("web-1-0", "web-1-1", "web-1-2")))
	r.settle()
	if n := r.count() - before; n != 1 { // the marker alone
		t.Errorf("%d events for flaps inside the band, want none", n-1)
	}

	r.setSlice(t0.Add(3*time.Second), slice("api-a", "api-svc", readyPods("web-1-0")))
	below := r.waitEvent("web", "below the floor", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if g := below.Gaps[0]; g.Kind != deployment.GapBelowFloor || !g.Start.Equal(t0.Add(3*time.Second)) || g.Revision != "12" || g.Own != 1 || g.Floor != 2 {
		t.Errorf("gap below the floor %+v", g)
	}
	if !slices.Equal(below.Changed, []string{"serving", "gaps"}) {
		t.Errorf("changed %v, want serving and gaps", below.Changed)
	}
	r.setSlice(t0.Add(4*time.Second), slice("api-a", "api-svc", nil))
	zero := r.waitEvent("web", "at zero", func(e deployment.Event) bool {
		return len(e.Gaps) == 1 && e.Gaps[0].Kind == deployment.GapNoReadyEndpoint
	})
	if g := zero.Gaps[0]; !g.Start.Equal(t0.Add(3*time.Second)) || g.Fewest != 0 || g.Ready != 0 || g.Endpoints != 0 {
		t.Errorf("gap at zero %+v: the same gap, started below the floor", g)
	}
	if d := zero.Gaps[0].Describe(true, func(at time.Time) string { return at.Format(time.TimeOnly) }); d != "api-svc: 0 of 0 endpoints ready since 14:02:14, during the rollout to revision 12" {
		t.Errorf("described %q", d)
	}
	r.setSlice(t0.Add(7*time.Second), slice("api-a", "api-svc", readyPods("web-1-0", "web-1-1")))
	back := r.waitEvent("web", "back at the floor", func(e deployment.Event) bool { return e.LastGap != nil })
	if len(back.Gaps) != 0 || !slices.Equal(back.Changed, []string{"serving", "gaps", "lastGap"}) {
		t.Errorf("back at the floor: gaps %+v, changed %v", back.Gaps, back.Changed)
	}
	g := back.LastGap
	if g.Length(time.Time{}) != 4*time.Second || g.Fewest != 0 || g.FewestOwn != 0 || g.Unseen || g.OpenAtStart {
		t.Errorf("last gap %+v, want 4s from 14:02:14 with 0 ready at the fewest", g)
	}
	if d := g.DescribeEnded(); d != "last gap 4s during revision 12 (api-svc, 0 ready at the fewest)" {
		t.Errorf("described %q", d)
	}
	if h := r.tr.Gaps("shop/web"); len(h) != 1 || *g != h[0] {
		t.Errorf("history %+v, want the one gap", h)
	}
}

// TestGapWhenNoEndpointIsReadyDuringARollout is the write-up's case: one
// replica, maxSurge 0, the old pod gone before the new one is ready.
func TestGapWhenNoEndpointIsReadyDuringARollout(t *testing.T) {
	objs := servedDeployment("api", 1, intstr.FromInt32(0), intstr.FromInt32(1), nil) // floor 0
	objs = append(objs, service("api-svc", map[string]string{"app": "api"}), slice("api-a", "api-svc", readyPods("api-1-0")))
	r := startServing(t, objs...)
	r.setSlice(t0.Add(time.Second), slice("api-a", "api-svc", []endpoint{{pod: "api-1-0", serving: true, terminating: true}}))
	open := r.waitEvent("api", "in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if g := open.Gaps[0]; g.Kind != deployment.GapNoReadyEndpoint || g.Endpoints != 1 || g.Ready != 0 {
		t.Errorf("gap %+v", g)
	}
	if s := open.Serving[0]; s.Terminating != 1 || s.Ready != 0 {
		t.Errorf("serving %+v: the terminating endpoint counts apart", s)
	}
	r.setSlice(t0.Add(7*time.Second), slice("api-a", "api-svc", []endpoint{{pod: "api-2-0"}}))
	r.setSlice(t0.Add(8*time.Second), slice("api-a", "api-svc", readyPods("api-2-0")))
	ended := r.waitEvent("api", "after the gap", func(e deployment.Event) bool { return e.LastGap != nil })
	if l := ended.LastGap.Length(time.Time{}); l != 7*time.Second {
		t.Errorf("gap of %s, want 7s", l)
	}
}

// TestServingUnknownWhileTheWatchIsLost: while the EndpointSlices' watch
// is lost the health says serving is unknown, and a gap that ends after
// such an outage says it may have ended unseen.
func TestServingUnknownWhileTheWatchIsLost(t *testing.T) {
	objs := servedDeployment("api", 1, intstr.FromInt32(0), intstr.FromInt32(1), nil)
	objs = append(objs, service("api-svc", map[string]string{"app": "api"}), slice("api-a", "api-svc", readyPods("api-1-0")))
	r := startServing(t, objs...)
	r.setSlice(t0.Add(time.Second), slice("api-a", "api-svc", nil))
	r.waitEvent("api", "in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if r.tr.Health().ServingLost() {
		t.Fatalf("serving lost before any outage: %+v", r.tr.Health())
	}

	r.tr.health.set("endpointslices", Reconnecting, errors.New("connection refused"), false)
	if h := r.tr.Health(); !h.ServingLost() || !slices.Equal(h.Lost, []string{"endpointslices"}) {
		t.Errorf("health %+v, want serving lost", h)
	}
	r.tr.health.set("endpointslices", Live, nil, true)
	if h := r.tr.Health(); h.ServingLost() || len(h.Lost) != 0 {
		t.Errorf("health %+v once back, want live", h)
	}
	r.setSlice(t0.Add(5*time.Second), slice("api-a", "api-svc", readyPods("api-2-0")))
	ended := r.waitEvent("api", "after the gap", func(e deployment.Event) bool { return e.LastGap != nil })
	if !ended.LastGap.Unseen {
		t.Errorf("a gap across an outage %+v, want unseen", ended.LastGap)
	}
	if d := ended.LastGap.DescribeEnded(); d != "last gap at most 4s during revision 12 (api-svc, 0 ready at the fewest)" {
		t.Errorf("described %q", d)
	}
}

// TestServingOffWithoutPermission: an identity that may not list
// EndpointSlices still watches, told once; every summary says serving is
// unknown, never that there is no gap.
func TestServingOffWithoutPermission(t *testing.T) {
	client := fake.NewClientset(servedDeployment("api", 1, intstr.FromInt32(0), intstr.FromInt32(1), nil)...)
	client.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "", errors.New("no"))
	})
	var off atomic.Int32
	rec := &recorder{}
	tr := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop", Diagnose: fakeServing(client), OnServingOff: func(err error) {
		off.Add(1)
		if !apierrors.IsForbidden(err) {
			t.Errorf("told %v, want the Forbidden", err)
		}
	}})
	stop, err := tr.Start(context.Background(), rec)
	if err != nil {
		t.Fatalf("start: %v; a missing right to serving is no error", err)
	}
	defer stop()
	if off.Load() != 1 {
		t.Errorf("told %d times, want once", off.Load())
	}
	if s := rec.snapshot; len(s) != 1 || s[0].ServingUnknown != "cannot list endpointslices: forbidden" || s[0].Serving != nil {
		t.Errorf("snapshot %+v, want serving unknown", s)
	}
	if s := rec.snapshot[0]; s.Status != deployment.Running {
		t.Errorf("status %s: the diagnosis goes on", s.Status)
	}
}

// TestBlueGreenSwitchToNoPod: a Service moved to a colour scaled to zero
// selects no pod: a gap on the Deployment it selected, ended when it is
// moved back; a Service that never selected one has a gap of its own.
func TestBlueGreenSwitchToNoPod(t *testing.T) {
	objs := servedDeployment("blue", 2, intstr.FromInt32(1), intstr.FromInt32(0), map[string]string{"color": "blue", "role": "shop"})
	green := servedDeployment("green", 0, intstr.FromInt32(1), intstr.FromInt32(0), map[string]string{"color": "green", "role": "shop"})
	objs = append(objs, green[:2]...)
	objs = append(objs, service("shop", map[string]string{"role": "shop", "color": "blue"}), slice("shop-a", "shop", readyPods("blue-1-0", "blue-1-1")))
	r := startServing(t, objs...)

	svcs := r.client.CoreV1().Services("shop")
	move := func(at time.Time, color string) {
		r.clock.set(at)
		svc, _ := svcs.Get(context.Background(), "shop", metav1.GetOptions{})
		svc.Spec.Selector["color"] = color
		if _, err := svcs.Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	move(t0.Add(time.Second), "green")
	r.waitEvent("blue", "no longer selected", func(e deployment.Event) bool { return len(e.Serving) == 0 })
	r.setSlice(t0.Add(2*time.Second), slice("shop-a", "shop", nil)) // the endpointslice controller follows
	gap := r.waitEvent("blue", "in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if g := gap.Gaps[0]; g.Service != "shop" || g.Kind != deployment.GapSelectsNoPod || !g.Start.Equal(t0.Add(2*time.Second)) {
		t.Errorf("gap %+v, want shop selecting no pod since 2s", g)
	}
	if g := r.last("green"); len(g.Gaps) != 0 {
		t.Errorf("green, scaled to zero, has gaps %+v", g.Gaps)
	}

	move(t0.Add(5*time.Second), "blue")
	r.setSlice(t0.Add(6*time.Second), slice("shop-a", "shop", readyPods("blue-1-0", "blue-1-1")))
	ended := r.waitEvent("blue", "after the gap", func(e deployment.Event) bool { return e.LastGap != nil })
	if l := ended.LastGap.Length(time.Time{}); l != 4*time.Second || len(ended.Gaps) != 0 {
		t.Errorf("last gap %+v (%s), open %+v: want one of 4s", ended.LastGap, l, ended.Gaps)
	}

	// A Service that never selected a Deployment, with no pod: its own gap.
	r.clock.set(t0.Add(10 * time.Second))
	if _, err := svcs.Create(context.Background(), service("typo", map[string]string{"app": "shpo"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the Service's own gap", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.svcGaps) > 0 && len(r.svcGaps[len(r.svcGaps)-1]) == 1
	})
	if g := r.tr.ServiceGaps(); len(g) != 1 || g[0].Service != "typo" || g[0].Namespace != "shop" || !g[0].Start.Equal(t0.Add(10*time.Second)) {
		t.Errorf("Service gaps %+v", g)
	}
	if err := svcs.Delete(context.Background(), "typo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the Service's gap to end", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.svcGaps[len(r.svcGaps)-1]) == 0
	})
}

// TestNewerRevision: an open gap's revision moves forward to the rollout's
// (seen after the gap began), never back, and never to what is no number.
func TestNewerRevision(t *testing.T) {
	for _, tc := range []struct {
		r, old string
		want   bool
	}{{"2", "1", true}, {"10", "9", true}, {"1", "2", false}, {"2", "2", false}, {"2", "", true}, {"", "1", false}, {"x", "1", false}} {
		if got := newerRevision(tc.r, tc.old); got != tc.want {
			t.Errorf("newerRevision(%q, %q) = %v, want %v", tc.r, tc.old, got, tc.want)
		}
	}
}
