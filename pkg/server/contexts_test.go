package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// newContextsFixture serves two fake clusters, east (the default) and the
// context named west, each with one Deployment named after it.
func newContextsFixture(t *testing.T, west string) (*fixture, map[string]*fake.Clientset) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	names := []string{"east", west}
	clients := map[string]*fake.Clientset{}
	var servers []*Server
	for _, name := range names {
		client := newClient(namespaceObj("shop"), newDeployment("shop", "web-"+strings.SplitN(name, "/", 2)[0], 1))
		h := hub.New(fakeApps{client.AppsV1()}, hub.Options{})
		t.Cleanup(h.Close)
		srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ts.Listener.Addr(), DefaultNamespace: "shop", Heartbeat: time.Hour, Contexts: names})
		if err != nil {
			t.Fatal(err)
		}
		clients[name] = client
		servers = append(servers, srv)
	}
	all, err := NewContexts(names, servers)
	if err != nil {
		t.Fatal(err)
	}
	startTest(t, ts, all.Handler())
	return &fixture{ts: ts, contexts: all}, clients
}

func deploymentNames(t *testing.T, f *fixture, path string) []string {
	t.Helper()
	var items []struct {
		Name string `json:"name"`
	}
	getJSON(t, f, path, &items)
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

func TestContextsRouteByPrefix(t *testing.T) {
	for _, west := range []string{"west", "west/arn:1"} { // a slash in a name is sent as %2F
		t.Run(west, func(t *testing.T) {
			f, _ := newContextsFixture(t, west)
			esc := url.PathEscape(west)
			for path, want := range map[string]string{
				"/api/namespaces/shop/deployments":                      "web-east", // unchanged paths: the default context
				"/api/contexts/east/namespaces/shop/deployments":        "web-east",
				"/api/contexts/" + esc + "/namespaces/shop/deployments": "web-west",
			} {
				if got := deploymentNames(t, f, path); len(got) != 1 || got[0] != want {
					t.Errorf("GET %s = %v, want [%s]", path, got, want)
				}
			}
		})
	}
}

// The fake clientset cannot scale (the e2e test does, on two clusters):
// a change of image shows the routing of changes as well.
func TestContextsChangeReachesOneContext(t *testing.T) {
	f, clients := newContextsFixture(t, "west")
	body := `{"container": "web", "image": "nginx:2"}`
	resp, e := f.do(t, http.MethodPut, "/api/contexts/west/namespaces/shop/deployments/web-west/image", body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("image through west: %d %+v", resp.StatusCode, e)
	}
	d, err := clients["west"].AppsV1().Deployments("shop").Get(context.Background(), "web-west", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Spec.Containers[0].Image != "nginx:2" {
		t.Fatalf("west's web-west after the change: %v; want image nginx:2", err)
	}
	// east has no web-west: west's path never reached east, nor east's west.
	resp, e = f.do(t, http.MethodPut, "/api/contexts/east/namespaces/shop/deployments/web-west/image", body, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("change of west's Deployment through east: %d %+v, want 404", resp.StatusCode, e)
	}
	for _, a := range clients["east"].Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			t.Fatalf("east was changed: %v", a)
		}
	}
}

func TestContextsChecksEveryPath(t *testing.T) {
	f, _ := newContextsFixture(t, "west")
	noAuth := map[string]string{"Authorization": ""}
	for _, c := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		reason string
	}{
		{"no token", "GET", "/api/contexts/west/namespaces/shop/deployments", noAuth, 401, "Unauthorized"},
		{"wrong token", "GET", "/api/contexts/west/namespaces", map[string]string{"Authorization": "Bearer nope"}, 401, "Unauthorized"},
		{"no token, unknown context", "GET", "/api/contexts/north/namespaces", noAuth, 401, "Unauthorized"},
		{"unknown context", "GET", "/api/contexts/north/namespaces", nil, 404, "ContextNotServed"},
		{"foreign host", "GET", "/api/contexts/west/namespaces", map[string]string{"Host": "evil.example"}, 403, "ForeignHost"},
		{"foreign origin", "PUT", "/api/contexts/west/namespaces/shop/deployments/web-west/scale", map[string]string{"Origin": "http://evil.example"}, 403, "ForeignOrigin"},
		{"bad name", "GET", "/api/contexts/west/namespaces/Shop/deployments", nil, 400, "BadRequest"},
		{"no such API", "GET", "/api/contexts/west/metrics", nil, 404, "NotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, e := f.do(t, c.method, c.path, `{"replicas": 2}`, c.header)
			if resp.StatusCode != c.status || e.Reason != c.reason {
				t.Fatalf("%s %s = %d %q, want %d %q", c.method, c.path, resp.StatusCode, e.Reason, c.status, c.reason)
			}
		})
	}
}

func TestContextsTicketOpensEveryContext(t *testing.T) {
	f, _ := newContextsFixture(t, "west")
	path := "/api/contexts/west/namespaces/shop/deployments/stream?ticket=" + url.QueryEscape(ticketOf(t, f, testToken))
	_, s := openStream(t, f.ts.URL+path, map[string]string{"Authorization": ""})
	if ev, err := s.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("GET %s with the default context's ticket: %+v %v", path, ev, err)
	}
}

func TestContextsInfoListsContexts(t *testing.T) {
	f, _ := newContextsFixture(t, "west")
	var info struct{ Contexts []string }
	getJSON(t, f, "/api/info", &info)
	if strings.Join(info.Contexts, ",") != "east,west" {
		t.Fatalf("GET /api/info: contexts %v, want [east west]", info.Contexts)
	}
}

// TestContextsShareTheWrongTokenBudget: wrong tokens sent to one context's
// paths throttle the client on every path.
func TestContextsShareTheWrongTokenBudget(t *testing.T) {
	f, _ := newContextsFixture(t, "west")
	wrong := map[string]string{"Authorization": "Bearer wrong"}
	for i := range auth.FailureBurst {
		if resp, e := f.do(t, "GET", "/api/contexts/west/namespaces", "", wrong); resp.StatusCode != 401 {
			t.Fatalf("wrong token %d: %d %+v, want 401", i+1, resp.StatusCode, e)
		}
	}
	for _, path := range []string{"/api/namespaces", "/api/contexts/east/namespaces"} {
		if resp, e := f.do(t, "GET", path, "", nil); resp.StatusCode != 429 {
			t.Errorf("GET %s with the token after %d wrong ones on west: %d %+v, want 429", path, auth.FailureBurst, resp.StatusCode, e)
		}
	}
}

// TestContextsUncleanPathsRefused: a path with "..", "." or "//" under a
// context is refused, never redirected to the cleaned path, which would be
// another context's: a client following the redirect would change east
// through a request for west.
func TestContextsUncleanPathsRefused(t *testing.T) {
	f, clients := newContextsFixture(t, "west")
	body := `{"container": "web", "image": "nginx:2"}`
	for _, path := range []string{
		"/api/contexts/west/namespaces/other/../shop/deployments/web-east/image",
		"/api/contexts/west/namespaces/other/%2e%2e/shop/deployments/web-east/image",
		"/api/contexts/west/namespaces/other%2F..%2Fshop/deployments/web-east/image",
		"/api/contexts/west//namespaces/shop/deployments/web-east/image",
		"/api/contexts/west/./namespaces/shop/deployments/web-east/image",
		"/api/contexts/north/../../namespaces/shop/deployments/web-east/image",
		"/api/contexts/..%2F/namespaces/shop/deployments/web-east/image",
		"/api/namespaces/x/../../contexts/west/namespaces/shop/deployments/web-west/image",
	} {
		resp, e := f.do(t, http.MethodPut, path, body, nil) // the test client follows redirects
		if resp.StatusCode != http.StatusBadRequest || e.Reason != "BadRequest" || resp.Request.URL.EscapedPath() != path {
			t.Errorf("PUT %s = %d %q at %s, want 400 BadRequest without a redirect", path, resp.StatusCode, e.Reason, resp.Request.URL.EscapedPath())
		}
	}
	for name, client := range clients {
		for _, a := range client.Actions() {
			if a.GetVerb() == "update" || a.GetVerb() == "patch" {
				t.Fatalf("%s was changed: %v", name, a)
			}
		}
	}
	// A trailing slash is no redirect to elsewhere: still west's.
	if got := deploymentNames(t, f, "/api/contexts/west/namespaces/shop/deployments"); len(got) != 1 || got[0] != "web-west" {
		t.Fatalf("west's list = %v", got)
	}
}
