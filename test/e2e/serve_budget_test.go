package e2e

import (
	"fmt"
	"testing"
)

// TestServeWrongTokenBudgetBehindProxy: serve --auth=kubernetes
// --trusted-proxies=127.0.0.1, as behind a port-forward. Clients forwarded
// by the proxy have budgets of their own; at one address whose budget a
// guesser spent, a token the cluster accepted lately still passes and one
// never seen waits; and 30 forwarded clients with 10 wrong tokens each get
// no more TokenReviews than the global cap allows.
func TestServeWrongTokenBudgetBehindProxy(t *testing.T) {
	b := newKubeAuthBedOf(t, "kubernetes-auth", "team-a", "team-b", "--trusted-proxies=127.0.0.1")
	p := b.p
	wrong := func(xff string) map[string]string {
		h := map[string]string{"Authorization": "Bearer wrong-token"}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		return h
	}
	withXFF := func(h map[string]string, xff string) map[string]string {
		h["X-Forwarded-For"] = xff
		return h
	}

	// alice signs in, then a guesser at her address spends its budget.
	if status, body := p.request(t, "GET", "/api/namespaces", "", b.as("alice")); status != 200 {
		t.Fatalf("alice: %d %s", status, body)
	}
	for range 10 {
		p.request(t, "GET", "/api/namespaces", "", wrong(""))
	}
	status, body := p.request(t, "GET", "/api/namespaces", "", wrong(""))
	apiErr(t, "the guesser beyond its budget", status, body, 429, "TooManyRequests")
	if status, body := p.request(t, "GET", "/api/namespaces", "", b.as("alice")); status != 200 {
		t.Fatalf("alice, whose token the cluster accepted, at the guesser's address: %d %s; want 200", status, body)
	}
	status, body = p.request(t, "GET", "/api/namespaces", "", b.as("bob"))
	apiErr(t, "bob's token, never seen, at the guesser's address", status, body, 429, "TooManyRequests")

	// Behind the trusted proxy, bob is his own client.
	if status, body := p.request(t, "GET", "/api/namespaces", "", withXFF(b.as("bob"), "192.0.2.2")); status != 200 {
		t.Fatalf("bob forwarded for 192.0.2.2: %d %s; want 200", status, body)
	}
	for range 10 {
		p.request(t, "GET", "/api/namespaces", "", wrong("192.0.2.3"))
	}
	status, body = p.request(t, "GET", "/api/namespaces", "", wrong("192.0.2.3"))
	apiErr(t, "a forwarded guesser beyond its budget", status, body, 429, "TooManyRequests")

	// 30 forwarded clients, 10 wrong tokens each: the global cap answers.
	before := len(tokenReviews(b.audit(t)))
	refused := 0
	for c := range 30 {
		for range 10 {
			if status, _ := p.request(t, "GET", "/api/namespaces", "", wrong(fmt.Sprintf("198.51.100.%d", c+1))); status == 429 {
				refused++
			}
		}
	}
	reviews := len(tokenReviews(b.audit(t))) - before
	if refused == 0 || reviews >= 300 {
		t.Fatalf("300 wrong tokens from 30 addresses: %d TokenReviews, %d told to retry; want the cap to refuse some", reviews, refused)
	}
	t.Logf("300 wrong tokens from 30 forwarded addresses: %d TokenReviews, %d told to retry", reviews, refused)
}

func tokenReviews(events []auditEvent) []auditEvent {
	var out []auditEvent
	for _, e := range events {
		if e.ObjectRef != nil && e.ObjectRef.Resource == "tokenreviews" && e.Stage == "ResponseComplete" {
			out = append(out, e)
		}
	}
	return out
}
