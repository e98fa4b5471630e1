package server

import (
	"net"
	"strings"
	"testing"
)

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

// TestLinkFromAnotherSiteOpensThePage: a click on a link to the page in a
// wiki or a chat is a cross-site top-level navigation; it gets the page.
func TestLinkFromAnotherSiteOpensThePage(t *testing.T) {
	f := newFixture(t, nil)
	resp, e := f.do(t, "GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("a link from another site: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), e.Message)
	}
}
