package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

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

// TestRequestLog: requests are not logged at INFO unless asked, so the log
// of a session keeps its first lines (the URL) in sight; probes never are,
// and a server-side failure is logged either way.
func TestRequestLog(t *testing.T) {
	for _, logRequests := range []bool{false, true} {
		t.Run(fmt.Sprintf("LogRequests=%v", logRequests), func(t *testing.T) {
			lines := make(chan string, 10)
			f := newFixture(t, func(o *Options) {
				o.LogRequests = logRequests
				// Every level, so that each request's line arrives and
				// its level can be read (a line is logged after its
				// response is sent).
				o.Logger = slog.New(slog.NewTextHandler(lineWriter(lines), &slog.HandlerOptions{Level: slog.LevelDebug}))
			}, namespaceObj("shop"))
			want := map[string]string{"/api/namespaces": "INFO", "/api/nothing": "INFO", "/healthz": "DEBUG"}
			if !logRequests {
				want["/api/namespaces"], want["/api/nothing"] = "DEBUG", "DEBUG"
			}
			for _, path := range []string{"/api/namespaces", "/api/nothing", "/healthz"} {
				f.do(t, "GET", path, "", nil)
				var line string
				for !strings.Contains(line, "msg=request") {
					select {
					case line = <-lines:
					case <-time.After(10 * time.Second):
						t.Fatalf("GET %s: no request line logged", path)
					}
				}
				if !strings.Contains(line, "path="+path+" ") || !strings.Contains(line, "level="+want[path]+" ") {
					t.Errorf("GET %s logged %q, want level=%s", path, line, want[path])
				}
			}
		})
	}
	if got := slogLevel(http.StatusInternalServerError, "/api/namespaces", false); got != slog.LevelError {
		t.Errorf("a 500 without LogRequests is logged at %s, want ERROR", got)
	}
}

// lineWriter sends each write (slog writes a line at a time) to lines.
type lineWriter chan<- string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}
