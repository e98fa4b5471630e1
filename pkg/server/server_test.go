package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// The fixtures of this package's tests: a Server on a fake clientset,
// served with httptest, and the requests clients make of it.

const testToken = "s3cret"

// fakeApps tells the reflector that the fake cannot stream lists.
type fakeApps struct{ appsv1client.DeploymentsGetter }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// newDeployment is a rolled-out Deployment whose container web runs nginx:1.
func newDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	return testutil.Deployment(name, testutil.Namespace(ns), testutil.Replicas(replicas),
		testutil.Containers(corev1.Container{Name: "web", Image: "nginx:1"}), testutil.Observed(1))
}

func namespaceObj(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// newClient is a fake clientset whose identity may do everything; the fake
// cannot answer access reviews by itself.
func newClient(objects ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objects...)
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = true
		return true, review, nil
	})
	return client
}

type fixture struct {
	client *fake.Clientset
	hub    *hub.Hub
	srv    *Server
	ts     *httptest.Server
	// contexts is set by newContextsFixture.
	contexts *Contexts
}

func newFixture(t testing.TB, mutate func(*Options), objects ...runtime.Object) *fixture {
	t.Helper()
	client := newClient(objects...)
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	ts := httptest.NewUnstartedServer(nil)
	opts := Options{Client: client, Hub: h, Token: testToken, Addr: ts.Listener.Addr(), DefaultNamespace: "shop", Heartbeat: time.Hour}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close) // after the server's cleanup, which startTest registers next
	startTest(t, ts, srv.Handler())
	return &fixture{client: client, hub: h, srv: srv, ts: ts}
}

// startTest serves handler on ts until the test ends.
func startTest(t testing.TB, ts *httptest.Server, handler http.Handler) {
	ts.Config.Handler = handler
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
}

// do sends a request and decodes a JSON error body, if any.
func (f *fixture) do(t *testing.T, method, path, body string, header map[string]string) (*http.Response, apiError) {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	withToken(req, header)
	for k, v := range header {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s: status %d with a body that is not JSON: %q", method, path, resp.StatusCode, b)
		}
		if e.Message == "" || e.Reason == "" {
			t.Fatalf("%s %s: error body %q lacks error or reason", method, path, b)
		}
	}
	return resp, e
}

var bearer = map[string]string{"Authorization": "Bearer " + testToken}

// noAuth leaves the token out of a request.
var noAuth = map[string]string{"Authorization": ""}

// withToken gives an API request the token, as every client of the API
// has it, unless header says otherwise.
func withToken(req *http.Request, header map[string]string) {
	if _, ok := header["Authorization"]; !ok && strings.HasPrefix(req.URL.Path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
}

func getJSON(t *testing.T, f *fixture, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.ts.URL+path, nil)
	withToken(req, nil)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func mustRequest(t *testing.T, method, url, body string, header map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func scaleTo(f *fixture, t *testing.T, replicas int32) {
	t.Helper()
	d, err := f.client.AppsV1().Deployments("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = ptr.To(replicas)
	if _, err := f.client.AppsV1().Deployments("shop").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// serving serves a Server of objects on a listener of its own, as Serve
// does in serve: cancel begins its shutdown, served gives Serve's answer.
func serving(t *testing.T, objects ...runtime.Object) (base string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	_, _, base, cancel, served = servingServer(t, objects...)
	return base, cancel, served
}

// servingServer is serving that also returns the Server and its hub.
func servingServer(t *testing.T, objects ...runtime.Object) (srv *Server, h *hub.Hub, base string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	client := newClient(objects...)
	h = hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	t.Cleanup(h.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err = New(Options{Client: client, Hub: h, Token: testToken, Addr: ln.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 10*time.Second) }()
	return srv, h, "http://" + ln.Addr().String(), cancel, done
}

// TestPageReconnectAsksTheAPIServerNothing: what a page asks when it
// reconnects or reloads (info, permissions, a ticket, the Deployments
// list, the stream resumed) is answered from the namespace's shared watch
// and serve's caches while someone views the namespace: the API server
// sees no request, however many pages come back.
func TestPageReconnectAsksTheAPIServerNothing(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	_, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	snap, err := s.next()
	if err != nil || snap.event != "snapshot" {
		t.Fatalf("first event: %+v %v", snap, err)
	}
	var p Permissions
	getJSON(t, f, "/api/namespaces/shop/permissions", &p) // kept for permissionsTTL
	before := len(f.client.Actions())

	const pages = 20
	for range pages {
		var info map[string]any
		getJSON(t, f, "/api/info", &info)
		getJSON(t, f, "/api/namespaces/shop/permissions", &p)
		var list []map[string]any
		getJSON(t, f, "/api/namespaces/shop/deployments", &list)
		if len(list) != 1 {
			t.Fatalf("the list: %v", list)
		}
		ticket := ticketOf(t, f, testToken)
		resp, _ := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream?ticket="+url.QueryEscape(ticket)+"&lastEventId="+url.QueryEscape(snap.id), map[string]string{"Authorization": ""})
		resp.Body.Close()
	}
	if after := f.client.Actions(); len(after) != before {
		for _, a := range after[before:] {
			t.Errorf("%d pages reconnecting asked the API server: %s %s", pages, a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestMetricsAndPage(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"deploywatch_sse_clients 0", "deploywatch_informers_running 0", "deploywatch_sse_events_coalesced_total 0",
		"deploywatch_upstream_relists_total 0", `deploywatch_sse_events_sent_total{event="snapshot"} 0`, "go_goroutines"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	for path, want := range map[string]string{"/": "<script src=\"app.js\"", "/app.js": "import { route", "/stream.js": "new EventSource(", "/style.css": ".status"} {
		resp, err := f.ts.Client().Get(f.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: no Content-Security-Policy", path)
		}
	}
}
