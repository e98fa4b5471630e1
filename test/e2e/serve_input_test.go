package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeStrictInput: a namespace that is no Kubernetes name is a client's
// error (400, not a 500 logged as the server's); the Content-Type is read as
// a media type; JSON names match exactly and once. Nothing changes until a
// well-formed request.
func TestServeStrictInput(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t)
	scale := "/api/namespaces/" + ns + "/deployments/web/scale"
	for _, path := range []string{"/api/namespaces/..%2fb/deployments", "/api/namespaces/..%2fb/deployments/stream", "/api/namespaces/" + ns + "/deployments/..%2fweb/scale"} {
		method := "GET"
		if strings.HasSuffix(path, "/scale") {
			method = "PUT"
		}
		status, body := p.request(t, method, path, `{"replicas": 2}`, nil)
		apiErr(t, method+" "+path, status, body, 400, "BadRequest")
	}
	for _, tt := range []struct {
		name, body, contentType string
		status                  int
		reason                  string
	}{
		{"a name in another case", `{"REPLICAS": 2}`, "application/json", 400, "BadRequest"},
		{"a name given twice", `{"replicas": 2, "replicas": 7}`, "application/json", 400, "BadRequest"},
		{"a media type that only starts like JSON", `{"replicas": 2}`, "application/jsonfoo", 415, "UnsupportedMediaType"},
		{"another charset", `{"replicas": 2}`, "application/json; charset=utf-16", 415, "UnsupportedMediaType"},
	} {
		status, body := p.request(t, "PUT", scale, tt.body, map[string]string{"Content-Type": tt.contentType})
		apiErr(t, tt.name, status, body, tt.status, tt.reason)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 1 {
		t.Fatalf("web has %d replicas after refused requests, want 1", got)
	}
	// The media type in capitals is still JSON.
	if status, body := p.request(t, "PUT", scale, `{"replicas": 2}`, map[string]string{"Content-Type": "APPLICATION/JSON; charset=UTF-8"}); status != 200 {
		t.Fatalf("APPLICATION/JSON: %d %s", status, body)
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 2 {
		t.Errorf("web has %d replicas, want 2", got)
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Errorf("bad input logged as the server's error:\n%s", p.stderr.String())
	}
}

// TestServeIPv4AddressIsIPv4Only: --address 0.0.0.0:PORT listens on IPv4
// only, as named, and says so; IPv6 needs --address [::]:PORT.
func TestServeIPv4AddressIsIPv4Only(t *testing.T) {
	p := startServe(t, "--address", "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.base, "http://"))
	if status, body := p.request(t, "GET", "/healthz", "", nil); status != 200 {
		t.Fatalf("IPv4: %d %s", status, body)
	}
	if c, err := net.DialTimeout("tcp", "[::1]:"+port, 10*time.Second); err == nil {
		c.Close()
		t.Errorf("serve --address 0.0.0.0 accepted a connection on [::1]:%s", port)
	}
	testutil.Eventually(t, time.Minute, "the warning that says what serve listens on", func() bool {
		return strings.Contains(p.stderr.String(), fmt.Sprintf("listening on 0.0.0.0:%s (every IPv4 address of this machine, no IPv6", port))
	})
}
