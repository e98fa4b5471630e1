package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

const testToken = "s3cret"

// fakeApps tells the reflector that the fake cannot stream lists.
type fakeApps struct{ appsv1client.DeploymentsGetter }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

func newDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "uid-" + "name", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
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

func TestAllowedHosts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AllowedHosts = []string{"Deploywatch.Example"} }, namespaceObj("shop"))
	for host, want := range map[string]int{
		"deploywatch.example":      200,
		"deploywatch.example:8443": 200,
		"evil.example":             403,
		"example":                  403,
	} {
		resp, e := f.do(t, "GET", "/api/namespaces", "", map[string]string{"Host": host})
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d (%s), want %d", host, resp.StatusCode, e.Reason, want)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
	ro := newFixture(t, func(o *Options) { o.ReadOnly = true }, namespaceObj("shop"))
	only := newFixture(t, func(o *Options) { o.Namespaces = []string{"bank"} }, namespaceObj("shop"))
	big := `{"replicas": 1, "resourceVersion": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name         string
		f            *fixture
		method, path string
		body         string
		header       map[string]string
		status       int
		reason       string
	}{
		{"no token", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, noAuth, 401, "Unauthorized"},
		{"no token to read", f, "GET", "/api/namespaces", "", noAuth, 401, "Unauthorized"},
		{"no token to stream", f, "GET", "/api/namespaces/shop/deployments/stream", "", noAuth, 401, "Unauthorized"},
		{"wrong ticket", f, "GET", "/api/namespaces/shop/deployments/stream?ticket=AAAA", "", noAuth, 401, "Unauthorized"},
		{"no token for a ticket", f, "POST", "/api/tickets", "", noAuth, 401, "Unauthorized"},
		{"wrong token", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Authorization": "Bearer nope"}, 401, "Unauthorized"},
		{"not bearer", f, "PUT", "/api/namespaces/shop/deployments/web/image", `{}`, map[string]string{"Authorization": "Basic " + testToken}, 401, "Unauthorized"},
		{"read-only", ro, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, nil, 403, "ReadOnly"},
		{"read-only even with a token", ro, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, bearer, 403, "ReadOnly"},
		{"foreign host (DNS rebinding)", f, "GET", "/api/namespaces", "", map[string]string{"Host": "evil.example:8080"}, 403, "ForeignHost"},
		{"foreign host on the page", f, "GET", "/", "", map[string]string{"Host": "evil.example"}, 403, "ForeignHost"},
		{"foreign origin", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Origin": "http://evil.example", "Authorization": "Bearer " + testToken}, 403, "ForeignOrigin"},
		{"other local origin", f, "GET", "/api/namespaces", "", map[string]string{"Origin": "http://localhost:3000"}, 403, "ForeignOrigin"},
		{"null origin", f, "GET", "/api/namespaces", "", map[string]string{"Origin": "null"}, 403, "ForeignOrigin"},
		{"cross-site fetch", f, "GET", "/api/namespaces", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "ForeignOrigin"},
		{"cross-site navigation to the API", f, "GET", "/api/namespaces", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 403, "ForeignOrigin"},
		{"cross-site script of the page", f, "GET", "/app.js", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, 403, "ForeignOrigin"},
		{"cross-site frame of the page", f, "GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403, "ForeignOrigin"},
		{"cross-site form post to the page", f, "POST", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 403, "ForeignOrigin"},
		{"body too large", f, "PUT", "/api/namespaces/shop/deployments/web/scale", big, bearer, 413, "RequestEntityTooLarge"},
		{"bad JSON", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": `, bearer, 400, "BadRequest"},
		{"wrong type", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": "two"}`, bearer, 400, "BadRequest"},
		{"unknown field", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replica": 2}`, bearer, 400, "BadRequest"},
		{"field in another case", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"REPLICAS": 2}`, bearer, 400, "BadRequest"},
		{"duplicate field", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2, "replicas": 9}`, bearer, 400, "BadRequest"},
		{"content type by prefix", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Content-Type": "application/jsonfoo"}, 415, "UnsupportedMediaType"},
		{"content type in another charset", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Content-Type": "application/json; charset=latin1"}, 415, "UnsupportedMediaType"},
		{"namespace with a slash", f, "GET", "/api/namespaces/..%2fb/deployments", "", nil, 400, "BadRequest"},
		{"namespace with a slash, stream", f, "GET", "/api/namespaces/..%2fb/deployments/stream", "", nil, 400, "BadRequest"},
		{"deployment name with a slash", f, "PUT", "/api/namespaces/shop/deployments/..%2fweb/scale", `{"replicas": 2}`, bearer, 400, "BadRequest"},
		{"two values", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}{}`, bearer, 400, "BadRequest"},
		{"empty body", f, "PUT", "/api/namespaces/shop/deployments/web/scale", ``, bearer, 400, "BadRequest"},
		{"missing replicas", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{}`, bearer, 400, "BadRequest"},
		{"negative replicas", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": -1}`, bearer, 400, "BadRequest"},
		{"missing container", f, "PUT", "/api/namespaces/shop/deployments/web/image", `{"image": "nginx:2"}`, bearer, 400, "BadRequest"},
		{"invalid image", f, "PUT", "/api/namespaces/shop/deployments/web/image", `{"container": "web", "image": "Not An Image"}`, bearer, 400, "BadRequest"},
		{"not JSON content type", f, "PUT", "/api/namespaces/shop/deployments/web/scale", `replicas=2`, map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"},
		{"method not allowed", f, "POST", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, bearer, 405, "MethodNotAllowed"},
		{"method not allowed on a GET route", f, "DELETE", "/api/namespaces", "", nil, 405, "MethodNotAllowed"},
		{"no such API", f, "GET", "/api/nothing", "", nil, 404, "NotFound"},
		{"no such namespace", f, "GET", "/api/namespaces/nope/deployments", "", nil, 404, "NotFound"},
		{"no such namespace stream", f, "GET", "/api/namespaces/nope/deployments/stream", "", nil, 404, "NotFound"},
		{"namespace not served", only, "GET", "/api/namespaces/shop/deployments", "", nil, 403, "NamespaceNotServed"},
		{"namespace not served stream", only, "GET", "/api/namespaces/shop/deployments/stream", "", nil, 403, "NamespaceNotServed"},
		{"namespace not served change", only, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, bearer, 403, "NamespaceNotServed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, e := tt.f.do(t, tt.method, tt.path, tt.body, tt.header)
			if resp.StatusCode != tt.status || e.Reason != tt.reason {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, e.Reason, e.Message, tt.status, tt.reason)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
	// None of it changed anything.
	for _, a := range f.client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("a refused request reached the API server: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestSameOriginAllowed(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"))
	_, port, _ := net.SplitHostPort(f.ts.Listener.Addr().String())
	for _, h := range []map[string]string{
		nil,
		{"Host": "localhost:" + port},
		{"Host": "localhost:9999"}, // a port-forward may change the port
		{"Host": "[::1]:" + port},
		{"Origin": f.ts.URL},
		{"Sec-Fetch-Site": "same-origin"},
	} {
		if resp, e := f.do(t, "GET", "/api/namespaces", "", h); resp.StatusCode != 200 {
			t.Errorf("headers %v: got %d %s", h, resp.StatusCode, e.Message)
		}
	}
}

func TestFromError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		err    error
		status int
		reason string
	}{
		{&operations.Error{Reason: operations.BadRequest, Problems: []operations.Problem{{Field: "replicas", Message: "bad"}}}, 400, "BadRequest"},
		{&operations.Error{Reason: operations.NotFound, Message: "no"}, 404, "NotFound"},
		{&operations.Error{Reason: operations.Forbidden, Message: "no"}, 403, "Forbidden"},
		{&operations.Error{Reason: operations.Conflict, Message: "no"}, 409, "Conflict"},
		{&operations.Error{Reason: operations.Invalid, Message: "no"}, 422, "Invalid"},
		{fmt.Errorf("watching: %w", apierrors.NewForbidden(gr, "", errors.New("no"))), 403, "Forbidden"},
		{apierrors.NewNotFound(gr, "web"), 404, "NotFound"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, 503, "APIServerUnreachable"},
		{errors.New("odd"), 500, "InternalError"},
	}
	for _, tt := range tests {
		e := fromError(tt.err)
		if e.Status != tt.status || e.Reason != tt.reason || e.Message == "" {
			t.Errorf("fromError(%v) = %d %q %q, want %d %q", tt.err, e.Status, e.Reason, e.Message, tt.status, tt.reason)
		}
	}
	if e := fromError(&operations.Error{Reason: operations.BadRequest, Problems: []operations.Problem{{Field: "replicas", Message: "bad"}}}); len(e.Problems) != 1 || e.Problems[0].Field != "replicas" {
		t.Errorf("problems lost: %+v", e)
	}
}

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

func TestListDeployments(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	var got []deployment.Summary
	getJSON(t, f, "/api/namespaces/shop/deployments", &got)
	if len(got) != 1 || got[0].Name != "web" || got[0].Replicas.Desired != 3 || got[0].Status != deployment.Running {
		t.Fatalf("got %+v", got)
	}
}

// sse reads Server-Sent Events.
type sse struct {
	r        *bufio.Reader
	retry    string
	comments int
}

type sseEvent struct{ id, event, data string }

func (s *sse) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "retry: "):
			s.retry = strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func openStream(t *testing.T, url string, header map[string]string) (*http.Response, *sse) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip") // must be ignored
	withToken(req, header)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	return resp, &sse{r: bufio.NewReader(resp.Body)}
}

func TestStream(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Heartbeat = 20 * time.Millisecond }, namespaceObj("shop"), newDeployment("shop", "web", 3))
	resp, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "X-Accel-Buffering": "no", "Content-Encoding": "", "Cache-Control": "no-cache, no-transform"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	ev, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.event != "snapshot" || ev.id == "" || s.retry != "2000" {
		t.Fatalf("first event %+v (retry %q), want a snapshot with an id after retry: 2000", ev, s.retry)
	}
	var events []deployment.Event
	if err := json.Unmarshal([]byte(ev.data), &events); err != nil || len(events) != 1 || events[0].Name != "web" || events[0].Type != deployment.Added {
		t.Fatalf("snapshot data %s: %v", ev.data, err)
	}
	// Idle, the stream gets heartbeats.
	beats := make(chan error, 1)
	go func() {
		for n := 0; n < 2; {
			line, err := s.r.ReadString('\n')
			if err != nil {
				beats <- err
				return
			}
			if line == ": heartbeat\n" {
				n++
			}
		}
		beats <- nil
	}()
	select {
	case err := <-beats:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no two heartbeats in 10s with a 20ms heartbeat")
	}
	if got := f.hub.Stats().Clients; got != 1 {
		t.Fatalf("hub counts %d clients, want 1", got)
	}
}

func TestShutdownSendsReconnect(t *testing.T) {
	base, cancel, served := serving(t, namespaceObj("shop"), newDeployment("shop", "web", 1))

	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz before shutdown: %v %v", resp, err)
	}
	_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
	first, err := s.next()
	if err != nil || first.event != "snapshot" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	cancel()
	ev, err := s.next()
	if err != nil || ev.event != "reconnect" || ev.id != first.id {
		t.Fatalf("after shutdown got %+v, %v; want a reconnect event with the last id %s", ev, err, first.id)
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream not closed after the reconnect event: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(base + "/readyz"); err == nil {
		t.Fatalf("still answering after shutdown")
	}
}

// TestShutdownDelayFailsReadinessFirst: with a ShutdownDelay, /readyz
// answers 503 and new streams are refused while open streams still get
// events, and only then does the listener close.
func TestShutdownDelayFailsReadinessFirst(t *testing.T) {
	client := newClient(namespaceObj("shop"), newDeployment("shop", "web", 1))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ln.Addr(), ShutdownDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	const timeout = 2 * time.Second // cuts the hour-long delay to half of it
	go func() { served <- srv.Serve(ctx, ln, timeout) }()
	base := "http://" + ln.Addr().String()
	_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
	if first, err := s.next(); err != nil || first.event != "snapshot" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	cancel()
	client503 := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(time.Second)
	var saw int
	for saw == 0 && time.Now().Before(deadline) {
		resp, err := client503.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("readyz during the delay: %v; want 503 while the listener is open", err)
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			saw = resp.StatusCode
		}
		resp.Body.Close()
	}
	if saw != http.StatusServiceUnavailable {
		t.Fatal("readyz never failed during the shutdown delay")
	}
	// A new stream during the delay is told to come back, in a way every
	// EventSource follows: 200, a retry delay, a reconnect event, the end.
	_, late := openStream(t, base+"/api/namespaces/shop/deployments/stream", map[string]string{"Connection": "close"})
	if ev, err := late.next(); err != nil || ev.event != "reconnect" || late.retry == "" || !strings.Contains(ev.data, `"shutdown"`) {
		t.Fatalf("a new stream during the delay got %+v (retry %q), %v; want a reconnect event with a retry delay", ev, late.retry, err)
	}
	if ev, err := late.next(); err != io.EOF {
		t.Fatalf("after the reconnect event got %+v, %v; want the end of the stream", ev, err)
	}
	// The open stream is told to reconnect once the delay (cut to half the
	// timeout) ends and the listener closes.
	if ev, err := s.next(); err != nil || ev.event != "reconnect" {
		t.Fatalf("after the delay got %+v, %v; want reconnect", ev, err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestReadyzFailsWhenDraining(t *testing.T) {
	f := newFixture(t, nil)
	if resp, e := f.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d %s", resp.StatusCode, e.Message)
	}
	f.srv.draining.Store(true)
	if resp, e := f.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 503 || e.Reason != "ShuttingDown" {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, e.Reason)
	}
	if resp, _ := f.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz while draining: %d", resp.StatusCode)
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
	for path, want := range map[string]string{"/": "<script src=\"app.js\"", "/app.js": "EventSource", "/style.css": ".status"} {
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

// TestLinkFromAnotherSiteOpensThePage: a click on a link to the page in a
// wiki or a chat is a cross-site top-level navigation; it gets the page.
func TestLinkFromAnotherSiteOpensThePage(t *testing.T) {
	f := newFixture(t, nil)
	resp, e := f.do(t, "GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("a link from another site: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), e.Message)
	}
}

// TestContentTypeIsAMediaType: the media type is compared, not the text.
func TestContentTypeIsAMediaType(t *testing.T) {
	for _, ct := range []string{"APPLICATION/JSON", "application/json; charset=UTF-8", "Application/Json ; charset=\"utf-8\""} {
		f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
		serveScale(f.client)
		if resp, e := f.do(t, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Content-Type": ct}); resp.StatusCode != 200 {
			t.Errorf("Content-Type %q: %d %s", ct, resp.StatusCode, e.Message)
		}
	}
}

// TestStreamCap: beyond MaxStreams, a stream is told to reconnect later in
// a way a standard EventSource follows (200, retry:, reconnect, the end).
func TestStreamCap(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxStreams = 1 }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	_, first := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	if ev, err := first.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("first stream: %+v %v", ev, err)
	}
	resp, second := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	if ev, err := second.next(); err != nil || ev.event != "reconnect" || !strings.Contains(ev.data, "TooManyStreams") || second.retry == "" {
		t.Fatalf("second stream: %+v %v (retry %q), want a reconnect event", ev, err, second.retry)
	}
	if _, err := second.next(); err != io.EOF {
		t.Fatalf("after the reconnect event: %v, want the end", err)
	}
	if !resp.Close {
		t.Errorf("a refused stream keeps its connection")
	}
	if resp, _ := f.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("/healthz at the cap: %d", resp.StatusCode)
	}
}

// TestNoInformerForUncheckedNamespaces: a namespace that does not exist,
// that the identity may not watch, or (without the right to get namespaces)
// that the user did not name, starts no informer.
func TestNoInformerForUncheckedNamespaces(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), namespaceObj("bank"))
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = review.Spec.ResourceAttributes.Namespace != "bank"
		return true, review, nil
	})
	for path, reason := range map[string]string{
		"/api/namespaces/nope/deployments/stream": "NotFound",
		"/api/namespaces/bank/deployments/stream": "Forbidden",
	} {
		if resp, e := f.do(t, "GET", path, "", nil); resp.StatusCode/100 != 4 || e.Reason != reason {
			t.Errorf("%s: %d %s, want %s", path, resp.StatusCode, e.Reason, reason)
		}
	}
	noGet := newFixture(t, nil, namespaceObj("shop"))
	noGet.client.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
	})
	if resp, e := noGet.do(t, "GET", "/api/namespaces/made-up/deployments/stream", "", nil); resp.StatusCode != 403 || e.Reason != "NamespaceUnverified" {
		t.Errorf("a made-up namespace without the right to get namespaces: %d %s", resp.StatusCode, e.Reason)
	}
	_, s := openStream(t, noGet.ts.URL+"/api/namespaces/shop/deployments/stream", nil) // the kubeconfig's
	if ev, err := s.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("the kubeconfig's namespace: %+v %v", ev, err)
	}
	if n := f.hub.Stats().Informers; n != 0 {
		t.Errorf("%d informers for refused namespaces", n)
	}
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

// TestListDeploymentsEncodedOncePerState: pages asking for a namespace's
// list together get one encoding of it, and a change makes a new one: the
// list is never served stale.
func TestListDeploymentsEncodedOncePerState(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	ctx := context.Background()
	// A page's stream keeps the namespace's tracker, and its IDs, running.
	viewer, err := f.hub.Subscribe(ctx, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	first, err := f.srv.listBody(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.srv.listBody(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if &first[0] != &again[0] {
		t.Fatal("the list was encoded twice with no change between")
	}
	scaleTo(f, t, 5)
	waitUntil(t, "the list to show the scale", func() bool {
		var got []deployment.Summary
		getJSON(t, f, "/api/namespaces/shop/deployments", &got)
		return len(got) == 1 && got[0].Replicas.Desired == 5
	})
}

func TestListCacheBounded(t *testing.T) {
	var c listCache
	for i := range maxCachedLists + 10 {
		c.put(fmt.Sprint("ns", i), "e-1", []byte("[]\n"))
	}
	if n := len(c.m); n != maxCachedLists {
		t.Fatalf("%d lists kept, want at most %d", n, maxCachedLists)
	}
	c.put("shop", "e-1", []byte("[1]\n"))
	if c.get("shop", "e-2") != nil {
		t.Fatal("a list of an earlier state was served for a later one")
	}
	if string(c.get("shop", "e-1")) != "[1]\n" {
		t.Fatal("the list of this state was not kept")
	}
}
