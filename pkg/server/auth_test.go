package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// ticketOf asks the server for a stream ticket with the token.
func ticketOf(t *testing.T, f *fixture, token string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", f.ts.URL+"/api/tickets", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Ticket, Expires string }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil || body.Ticket == "" {
		t.Fatalf("POST /api/tickets: %d %+v", resp.StatusCode, body)
	}
	return body.Ticket
}

func TestTicketOpensStreamsOnly(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
	ticket := url.QueryEscape(ticketOf(t, f, testToken))
	_, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream?ticket="+ticket, noAuth)
	if ev, err := s.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("stream with a ticket: %+v %v", ev, err)
	}
	// A ticket is for reads: it changes nothing, and a token that is wrong
	// is not rescued by a ticket next to it.
	if resp, e := f.do(t, "PUT", "/api/namespaces/shop/deployments/web/scale?ticket="+ticket, `{"replicas": 3}`, noAuth); resp.StatusCode != 401 {
		t.Errorf("PUT with a ticket: %d %s, want 401", resp.StatusCode, e.Message)
	}
	if resp, _ := f.do(t, "GET", "/api/namespaces?ticket="+ticket, "", map[string]string{"Authorization": "Bearer wrong"}); resp.StatusCode != 401 {
		t.Errorf("GET with a wrong token and a ticket: %d, want 401", resp.StatusCode)
	}
	// Another server's ticket (another token) is refused.
	other := newFixture(t, func(o *Options) { o.Token = "another" }, namespaceObj("shop"))
	if resp, _ := f.do(t, "GET", "/api/namespaces/shop/deployments/stream?ticket="+url.QueryEscape(ticketOf(t, other, "another")), "", noAuth); resp.StatusCode != 401 {
		t.Errorf("another token's ticket: %d, want 401", resp.StatusCode)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			t.Errorf("a ticket changed something: %s", a.GetVerb())
		}
	}
}

// TestWrongTokensSlowedDown: after auth.FailureBurst wrong tokens, a client gets
// 429 with Retry-After, even with the right token, while other clients and
// requests without any token are not affected.
func TestWrongTokensSlowedDown(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"))
	h := f.srv.Handler()
	send := func(remote, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "http://127.0.0.1/api/namespaces", nil)
		req.RemoteAddr = remote
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for range 5 {
		if rec := send("192.0.2.1:1000", ""); rec.Code != 401 {
			t.Fatalf("no token: %d, want 401", rec.Code)
		}
	}
	for i := range auth.FailureBurst {
		if rec := send("192.0.2.1:1000", "wrong"); rec.Code != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := send("192.0.2.1:2000", testToken)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("after %d wrong tokens: %d (Retry-After %q), want 429 with Retry-After", auth.FailureBurst, rec.Code, rec.Header().Get("Retry-After"))
	}
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "TooManyRequests") {
		t.Errorf("429 body %s", body)
	}
	if rec := send("192.0.2.2:1000", testToken); rec.Code != 200 {
		t.Errorf("another client: %d, want 200", rec.Code)
	}
	// An IPv6 client is counted by its /64.
	for range auth.FailureBurst {
		send("[2001:db8::1]:1", "wrong")
	}
	if rec := send("[2001:db8::2]:1", testToken); rec.Code != 429 {
		t.Errorf("same /64: %d, want 429", rec.Code)
	}
	// Probes, metrics and the page are never throttled.
	for _, path := range []string{"/healthz", "/metrics", "/"} {
		req := httptest.NewRequest("GET", "http://127.0.0.1"+path, nil)
		req.RemoteAddr = "192.0.2.1:3000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Errorf("%s from a throttled client: %d", path, rec.Code)
		}
	}
}
