package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeTokenFileNeverPrinted: a token from a file is in neither what
// serve prints nor its log (in a cluster both are the pod's log); serve
// says where the token is instead, and the token works.
func TestServeTokenFileNeverPrinted(t *testing.T) {
	token := randomHex(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--token-file", file)
	if strings.Contains(p.line, token) || !strings.Contains(p.line, "(token from "+file+";") {
		t.Fatalf("serve printed %q; want where the token is, never the token", p.line)
	}
	if status, body := p.request(t, "GET", "/api/namespaces", "", p.auth()); status != 200 {
		t.Fatalf("the file's token: %d %s", status, body)
	}
	p.stop(t)
	if strings.Contains(p.stderr.String(), token) {
		t.Errorf("serve's log holds the token:\n%s", p.stderr.String())
	}
}

// TestServeSlowsDownWrongTokens: after 10 wrong tokens from one address,
// that address gets 429 with Retry-After (even with the right token, so a
// guess tells nothing), while another address is served.
func TestServeSlowsDownWrongTokens(t *testing.T) {
	p := startServe(t)
	wrong := map[string]string{"Authorization": "Bearer " + randomHex(t)}
	for range 10 {
		status, body := p.request(t, "GET", "/api/namespaces", "", wrong)
		apiErr(t, "wrong token", status, body, 401, "Unauthorized")
	}
	status, body := p.request(t, "GET", "/api/namespaces", "", wrong)
	apiErr(t, "the 11th wrong token", status, body, 429, "TooManyRequests")
	status, body = p.request(t, "GET", "/api/namespaces", "", p.auth())
	apiErr(t, "the right token from the throttled address", status, body, 429, "TooManyRequests")
	req, err := http.NewRequest("GET", p.base+"/api/namespaces", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// Another client address (loopback is a /8) is not slowed down.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	resp, err = other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("another address with the right token: %d %s", resp.StatusCode, b)
	}
	// Probes still answer the throttled address.
	if status, body := p.request(t, "GET", "/healthz", "", nil); status != 200 {
		t.Errorf("/healthz from the throttled address: %d %s", status, body)
	}
}

// TestServeReadsNeedTheToken: in every mode, every read (the API, the
// stream) needs the token or a stream ticket made with it; the page, the
// probes and the metrics stay open, and the metrics name no namespace.
func TestServeReadsNeedTheToken(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "secret-app", 1)
	rw := startServe(t)
	ro := startServe(t, "--read-only")
	for name, p := range map[string]*serveProc{"read-write": rw, "read-only": ro} {
		t.Run(name, func(t *testing.T) {
			if p.token == "" {
				t.Fatalf("serve printed no token: %q", p.line)
			}
			for _, path := range []string{"/api/info", "/api/namespaces", "/api/namespaces/" + ns + "/deployments", "/api/namespaces/" + ns + "/deployments/stream"} {
				status, body := p.request(t, "GET", path, "", noAuth)
				apiErr(t, "GET "+path+" without the token", status, body, 401, "Unauthorized")
				if strings.Contains(string(body), "secret-app") {
					t.Errorf("a refused read told %s", body)
				}
			}
			if _, status, body := p.tryStream(t, ns, noAuth); status != 401 {
				t.Fatalf("stream without the token: %d %s", status, body)
			}
			status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", nil)
			if status != 200 || !strings.Contains(string(body), "secret-app") {
				t.Fatalf("with the token: %d %s", status, body)
			}

			// The page's way: a ticket for the stream, bought with the token.
			status, body = p.request(t, "POST", "/api/tickets", "", nil)
			var tk struct{ Ticket string }
			if status != 200 || json.Unmarshal(body, &tk) != nil || tk.Ticket == "" {
				t.Fatalf("POST /api/tickets: %d %s", status, body)
			}
			s, status, body := p.tryStreamURL(t, p.base+"/api/namespaces/"+ns+"/deployments/stream?ticket="+url.QueryEscape(tk.Ticket), noAuth)
			if status != 200 {
				t.Fatalf("stream with a ticket: %d %s", status, body)
			}
			if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "secret-app" {
				t.Fatalf("snapshot %s", fmtJSON(snap))
			}
			s.close()
			status, body = p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/secret-app/scale?ticket="+url.QueryEscape(tk.Ticket), `{"replicas": 2}`, noAuth)
			apiErr(t, "a change with a ticket", status, body, 401, "Unauthorized")
			// Streams only: no list, history or set-up with a ticket.
			for _, path := range []string{"/api/info", "/api/namespaces", "/api/namespaces/" + ns + "/deployments", "/api/namespaces/" + ns + "/deployments/secret-app/history"} {
				status, body = p.request(t, "GET", path+"?ticket="+url.QueryEscape(tk.Ticket), "", noAuth)
				apiErr(t, "GET "+path+" with a ticket", status, body, 401, "Unauthorized")
			}
			status, body = p.request(t, "POST", "/api/tickets", "", noAuth)
			apiErr(t, "a ticket without the token", status, body, 401, "Unauthorized")

			// Open: the page (it holds no data), the probes, the metrics.
			for _, path := range []string{"/", "/app.js", "/healthz", "/readyz", "/metrics"} {
				status, body := p.request(t, "GET", path, "", noAuth)
				if status != 200 {
					t.Errorf("GET %s without the token: %d %s", path, status, body)
				}
				if path == "/metrics" && (strings.Contains(string(body), ns) || strings.Contains(string(body), "secret-app")) {
					t.Errorf("/metrics names a namespace or Deployment")
				}
			}
		})
	}
	// A ticket of one server does not open the other's streams (another token).
	status, body := rw.request(t, "POST", "/api/tickets", "", nil)
	var tk struct{ Ticket string }
	if status != 200 || json.Unmarshal(body, &tk) != nil {
		t.Fatalf("POST /api/tickets: %d %s", status, body)
	}
	if _, status, body := ro.tryStreamURL(t, ro.base+"/api/namespaces/"+ns+"/deployments/stream?ticket="+url.QueryEscape(tk.Ticket), noAuth); status != 401 {
		t.Errorf("another server's ticket: %d %s, want 401", status, body)
	}
	if got := getDeployment(t, ns, "secret-app"); *got.Spec.Replicas != 1 {
		t.Errorf("secret-app has %d replicas; refused requests changed it", *got.Spec.Replicas)
	}
}
