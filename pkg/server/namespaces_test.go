package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func TestListNamespaces(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), namespaceObj("bank"),
		newDeployment("shop", "web", 1), newDeployment("shop", "api", 0), newDeployment("bank", "ledger", 2))
	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	want := map[string]map[deployment.Status]int{
		"bank": {deployment.Running: 1},
		"shop": {deployment.Running: 1, deployment.ScaledToZero: 1},
	}
	if len(got.Namespaces) != 2 || got.Namespaces[0].Name != "bank" || got.Warning != "" {
		t.Fatalf("got %+v", got)
	}
	for _, ns := range got.Namespaces {
		if fmt.Sprint(ns.Deployments) != fmt.Sprint(want[ns.Name]) {
			t.Errorf("%s: counts %v, want %v", ns.Name, ns.Deployments, want[ns.Name])
		}
	}

	t.Run("forbidden to list namespaces", func(t *testing.T) {
		f.srv.nsList.forget("") // the list above is shared for a while
		f.client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
		})
		var got namespaceList
		getJSON(t, f, "/api/namespaces", &got)
		if len(got.Namespaces) != 1 || got.Namespaces[0].Name != "shop" || got.Namespaces[0].Total != 2 || !strings.Contains(got.Warning, "may not list namespaces") {
			t.Fatalf("got %+v, want the kubeconfig's namespace and a warning", got)
		}
	})
	t.Run("--namespaces", func(t *testing.T) {
		only := newFixture(t, func(o *Options) { o.Namespaces = []string{"bank"} }, namespaceObj("shop"), namespaceObj("bank"), newDeployment("bank", "ledger", 2))
		var got namespaceList
		getJSON(t, only, "/api/namespaces", &got)
		if len(got.Namespaces) != 1 || got.Namespaces[0].Name != "bank" || got.Namespaces[0].Total != 1 {
			t.Fatalf("got %+v", got)
		}
	})
}

// TestNamespaceListShared: many GET /api/namespaces cost one LIST.
func TestNamespaceListShared(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
	for range 20 {
		var got namespaceList
		getJSON(t, f, "/api/namespaces", &got)
	}
	lists := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "namespaces" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("20 requests made %d namespace lists, want 1", lists)
	}
}

func TestListNamespacesFromClusterWideWatches(t *testing.T) {
	client := newClient(namespaceObj("shop"), namespaceObj("bank"), namespaceObj("quiet"),
		newDeployment("shop", "web", 1), newDeployment("shop", "api", 0), newDeployment("bank", "ledger", 2))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{ClusterWide: &hub.ClusterWide{Namespaces: fakeCore{client.CoreV1()}}})
	ts := httptest.NewUnstartedServer(nil)
	srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ts.Listener.Addr(), DefaultNamespace: "shop", Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	startTest(t, ts, srv.Handler())
	f := &fixture{client: client, hub: h, srv: srv, ts: ts}

	// The first check of a namespace, with no watch running, asks whether
	// it exists, not whether serve may watch it: that was asked at start.
	var items []deployment.Summary
	getJSON(t, f, "/api/namespaces/shop/deployments", &items)
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "selfsubjectaccessreviews" {
			t.Fatalf("the check of shop asked %v: serve may watch everywhere", a)
		}
	}
	if !slices.ContainsFunc(client.Actions(), func(a k8stesting.Action) bool { return a.Matches("get", "namespaces") }) {
		t.Fatalf("the check of shop did not ask whether it exists: %v", client.Actions())
	}
	// A viewer of one namespace keeps the cluster-wide watches running.
	sub, err := h.Subscribe(context.Background(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	before := lists(client)
	calls := len(client.Actions())
	// A namespace's check and snapshot come from the watches too.
	getJSON(t, f, "/api/namespaces/bank/deployments", &items)
	if len(items) != 1 || items[0].Name != "ledger" {
		t.Fatalf("bank's deployments = %+v, want ledger", items)
	}
	if n := len(client.Actions()) - calls; n != 0 {
		t.Fatalf("GET /api/namespaces/bank/deployments made %d API requests (%v), want 0", n, client.Actions()[calls:])
	}
	if resp, e := f.do(t, "GET", "/api/namespaces/nosuch/deployments", "", nil); resp.StatusCode != 404 {
		t.Fatalf("a missing namespace: %d %+v, want 404", resp.StatusCode, e)
	}
	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	if n := lists(client) - before; n != 0 {
		t.Fatalf("GET /api/namespaces made %d LIST requests while the cluster-wide watches run, want 0", n)
	}
	want := []namespaceInfo{
		{Name: "bank", Deployments: map[deployment.Status]int{deployment.Running: 1}, Total: 1},
		{Name: "quiet", Deployments: map[deployment.Status]int{}, Total: 0},
		{Name: "shop", Deployments: map[deployment.Status]int{deployment.Running: 1, deployment.ScaledToZero: 1}, Total: 2},
	}
	if fmtJSON(got.Namespaces) != fmtJSON(want) {
		t.Fatalf("got %s, want %s", fmtJSON(got.Namespaces), fmtJSON(want))
	}

	// A namespace created later is listed at once: no list kept for a while.
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), namespaceObj("later"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got namespaceList
		getJSON(t, f, "/api/namespaces", &got)
		if slices.ContainsFunc(got.Namespaces, func(i namespaceInfo) bool { return i.Name == "later" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace later not listed: %s", fmtJSON(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := lists(client) - before; n != 0 {
		t.Fatalf("%d LIST requests, want 0", n)
	}
}

// fakeCore is fakeApps for the namespaces.
type fakeCore struct{ corev1client.NamespacesGetter }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

// lists counts the LIST requests the fake has answered.
func lists(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" {
			n++
		}
	}
	return n
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestListNamespacesStartsClusterWideWatches: with nobody viewing any
// namespace, the list starts the cluster-wide watches and answers from
// them (their counts carry the diagnosis), and they keep running for the
// next poll.
func TestListNamespacesStartsClusterWideWatches(t *testing.T) {
	client := newClient(namespaceObj("shop"), namespaceObj("quiet"), newDeployment("shop", "web", 1))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{Linger: time.Hour, ClusterWide: &hub.ClusterWide{Namespaces: fakeCore{client.CoreV1()}}})
	f := newFixture(t, func(o *Options) { o.Hub = h }, namespaceObj("shop"))
	t.Cleanup(h.Close)
	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	want := []namespaceInfo{
		{Name: "quiet", Deployments: map[deployment.Status]int{}, Total: 0},
		{Name: "shop", Deployments: map[deployment.Status]int{deployment.Running: 1}, Total: 1},
	}
	if fmtJSON(got.Namespaces) != fmtJSON(want) {
		t.Fatalf("got %s, want %s", fmtJSON(got.Namespaces), fmtJSON(want))
	}
	if n := h.Stats().Informers; n != 1 {
		t.Fatalf("%d trackers run after the list, want the cluster-wide one", n)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "deployments" {
			t.Fatalf("the list asked the fixture's own client: %v", a)
		}
	}
	before := lists(client)
	getJSON(t, f, "/api/namespaces", &got)
	if n := lists(client) - before; n != 0 {
		t.Fatalf("the next poll made %d LIST requests, want 0: the watches run", n)
	}
}

// TestListNamespacesWithViewedNamespaceDiagnosis: with a watch per
// namespace, a viewed namespace's counts take its watch's statuses, which
// carry the diagnosis: Failing, where the Deployment's own status says
// Progressing.
func TestListNamespacesWithViewedNamespaceDiagnosis(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Hub = hub.New(nil, hub.Options{NewSource: func(ns string) hub.Source { return diagnosedSource{} }})
	}, namespaceObj("shop"), namespaceObj("bank"), newDeployment("shop", "web", 1), newDeployment("bank", "ledger", 1))
	t.Cleanup(f.srv.opts.Hub.Close)
	sub, err := f.srv.opts.Hub.Subscribe(context.Background(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(context.Background()); err != nil { // the snapshot: synced
		t.Fatal(err)
	}
	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	want := []namespaceInfo{
		{Name: "bank", Deployments: map[deployment.Status]int{deployment.Running: 1}, Total: 1},
		{Name: "shop", Deployments: map[deployment.Status]int{deployment.Failing: 1}, Total: 1},
	}
	if fmtJSON(got.Namespaces) != fmtJSON(want) {
		t.Fatalf("got %s, want %s", fmtJSON(got.Namespaces), fmtJSON(want))
	}
}

// diagnosedSource is a namespace's watch that diagnosed its one Deployment,
// web, as Failing.
type diagnosedSource struct{}

func (diagnosedSource) Start(_ context.Context, sink tracker.Sink) (func(), error) {
	sink.OnEvent(deployment.Event{Type: deployment.Added, Summary: deployment.Summary{Namespace: "shop", Name: "web", Status: deployment.Failing}})
	sink.OnSynced(nil)
	return func() {}, nil
}

func (diagnosedSource) Relists() int64 { return 0 }

// rollingOut is a Deployment whose own status says Progressing (an old pod
// still there), which its pods' diagnosis could make Failing.
func rollingOut(ns, name string) runtime.Object {
	d := newDeployment(ns, name, 1)
	d.Status.Replicas = 2
	if st := deployment.Summarize(d, nil).Status; st != deployment.Progressing {
		panic("rollingOut classifies as " + string(st))
	}
	return d
}

// failingWatches are namespace watches that diagnose every Deployment the
// list has in their namespace as Failing, counting the watches started.
type failingWatches struct {
	client  *fake.Clientset
	started sync.Map // namespace -> true
}

func (f *failingWatches) new(ns string) hub.Source { return failingWatch{f, ns} }

type failingWatch struct {
	f  *failingWatches
	ns string
}

func (s failingWatch) Start(ctx context.Context, sink tracker.Sink) (func(), error) {
	s.f.started.Store(s.ns, true)
	list, err := s.f.client.AppsV1().Deployments(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range list.Items {
		sink.OnEvent(deployment.Event{Type: deployment.Added, Summary: deployment.Summary{Namespace: s.ns, Name: d.Name, Status: deployment.Failing}})
	}
	sink.OnSynced(nil)
	return func() {}, nil
}

func (failingWatch) Relists() int64 { return 0 }

// TestListNamespacesDiagnosesUnviewedRollouts: with a watch per namespace
// and nobody viewing, a namespace whose list shows a rollout under way
// gets its watch started by the list, so that its counts carry the
// diagnosis (Failing, not Progressing); a namespace of settled Deployments
// gets none. Beyond maxDiagnosedNamespaces such namespaces, the rest are
// counted from the list and say how many of their counts are undiagnosed.
func TestListNamespacesDiagnosesUnviewedRollouts(t *testing.T) {
	objs := []runtime.Object{namespaceObj("bank"), newDeployment("bank", "ledger", 1)}
	var rolling []string
	for i := range maxDiagnosedNamespaces + 1 {
		ns := fmt.Sprintf("shop-%d", i)
		rolling = append(rolling, ns)
		objs = append(objs, namespaceObj(ns), rollingOut(ns, "web"), rollingOut(ns, "api"), newDeployment(ns, "db", 1))
	}
	sources := &failingWatches{}
	f := newFixture(t, func(o *Options) {
		o.Hub = hub.New(nil, hub.Options{Linger: time.Hour, NewSource: sources.new})
	}, objs...)
	sources.client = f.client
	t.Cleanup(f.srv.opts.Hub.Close)

	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	byName := map[string]namespaceInfo{}
	for _, ns := range got.Namespaces {
		byName[ns.Name] = ns
	}
	if b := byName["bank"]; fmtJSON(b.Deployments) != `{"Running":1}` || b.Undiagnosed != 0 {
		t.Errorf("bank %s; want Running 1, nothing undiagnosed", fmtJSON(b))
	}
	if _, ok := sources.started.Load("bank"); ok {
		t.Error("the list started a watch of bank, whose Deployments are all settled")
	}
	for i, ns := range rolling {
		info := byName[ns]
		if i < maxDiagnosedNamespaces {
			if fmtJSON(info.Deployments) != `{"Failing":3}` || info.Undiagnosed != 0 || info.Total != 3 {
				t.Errorf("%s %s; want its watch's statuses (Failing 3), nothing undiagnosed", ns, fmtJSON(info))
			}
			continue
		}
		if fmtJSON(info.Deployments) != `{"Progressing":2,"Running":1}` || info.Undiagnosed != 2 || info.Total != 3 {
			t.Errorf("%s %s; want the list's statuses with 2 of them undiagnosed (beyond %d namespaces diagnosed)", ns, fmtJSON(info), maxDiagnosedNamespaces)
		}
	}
	if n := f.srv.opts.Hub.Stats().Clients; n != 0 {
		t.Errorf("%d hub subscriptions left open by the list", n)
	}

	// The watches linger: the next list reads them and starts no more.
	before := 0
	sources.started.Range(func(any, any) bool { before++; return true })
	getJSON(t, f, "/api/namespaces", &got)
	after := 0
	sources.started.Range(func(any, any) bool { after++; return true })
	if before != maxDiagnosedNamespaces || after != before {
		t.Errorf("%d watches started by the first list, %d after the second; want %d, then no more", before, after, maxDiagnosedNamespaces)
	}
}
