package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clienttesting "k8s.io/client-go/testing"

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
	// Streams only: lists, history and the server's set-up need the token.
	for _, path := range []string{"/api/info", "/api/namespaces", "/api/namespaces/shop/deployments", "/api/namespaces/shop/permissions",
		"/api/namespaces/shop/deployments/web/history", "/api/namespaces/shop/deployments/stream/x"} {
		if resp, e := f.do(t, "GET", path+"?ticket="+ticket, "", noAuth); resp.StatusCode != 401 || !strings.Contains(e.Message, "streams only") {
			t.Errorf("GET %s with a ticket: %d %s, want 401 saying streams only", path, resp.StatusCode, e.Message)
		}
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

// kubeFixture is a server with --auth=kubernetes whose fake API server
// knows two tokens: alice may read and patch in shop, bob may only read.
type kubeFixture struct {
	*fixture
	mu           sync.Mutex
	impersonated []string // users the changes were made as
}

func newKubeFixture(t *testing.T) *kubeFixture {
	t.Helper()
	return newKubeFixtureOf(t, nil, namespaceObj("shop"), namespaceObj("bank"), newDeployment("shop", "web", 1))
}

// newKubeFixtureOf is newKubeFixture with these objects, and mutate (when
// not nil) applied to the options.
func newKubeFixtureOf(t *testing.T, mutate func(*Options), objects ...runtime.Object) *kubeFixture {
	t.Helper()
	k := &kubeFixture{}
	k.fixture = newFixture(t, func(o *Options) {
		if mutate != nil {
			mutate(o)
		}
		o.Auth, o.Token = AuthKubernetes, ""
		o.Impersonate = func(u authenticationv1.UserInfo) (kubernetes.Interface, error) {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.impersonated = append(k.impersonated, u.Username)
			return k.client, nil
		}
	}, objects...)
	k.client.PrependReactor("create", "tokenreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		tr := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		switch tr.Spec.Token {
		case "alice-token", "bob-token":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true,
				User: authenticationv1.UserInfo{Username: tr.Spec.Token[:len(tr.Spec.Token)-6], Groups: []string{"team"}}}
		default:
			tr.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		return true, tr, nil
	})
	k.client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		read := ra.Verb == "list" || ra.Verb == "watch" || ra.Verb == "get"
		sar.Status.Allowed = ra.Namespace == "shop" && (read || sar.Spec.User == "alice")
		return true, sar, nil
	})
	return k
}

func (k *kubeFixture) count(verb, resource string) int {
	n := 0
	for _, a := range k.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

func as(user string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + user + "-token"}
}

func TestKubeAuthPerUser(t *testing.T) {
	k := newKubeFixture(t)
	if resp, e := k.do(t, "GET", "/api/namespaces/shop/deployments", "", map[string]string{"Authorization": "Bearer nobody"}); resp.StatusCode != 401 {
		t.Errorf("a token the cluster refuses: %d %s, want 401", resp.StatusCode, e.Message)
	}
	if resp, e := k.do(t, "GET", "/api/namespaces/bank/deployments", "", as("alice")); resp.StatusCode != 403 {
		t.Errorf("alice reads bank: %d %s, want 403", resp.StatusCode, e.Message)
	}
	// Bob may read shop but not patch in it: 403 from serve, no patch sent.
	const image = `{"container": "web", "image": "nginx:2"}`
	if resp, e := k.do(t, "PUT", "/api/namespaces/shop/deployments/web/image", image, as("bob")); resp.StatusCode != 403 {
		t.Errorf("bob sets an image: %d %s, want 403", resp.StatusCode, e.Message)
	}
	if n := k.count("patch", "deployments"); n != 0 {
		t.Errorf("bob's refused change sent %d patches", n)
	}
	if resp, e := k.do(t, "PUT", "/api/namespaces/shop/deployments/web/image", image, as("alice")); resp.StatusCode != 200 {
		t.Fatalf("alice sets an image: %d %s", resp.StatusCode, e.Message)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.impersonated) != 1 || k.impersonated[0] != "alice" {
		t.Errorf("changes made as %v, want [alice]", k.impersonated)
	}
}

func TestKubeAuthCachesReviews(t *testing.T) {
	k := newKubeFixture(t)
	for range 20 {
		if resp, e := k.do(t, "GET", "/api/namespaces/shop/deployments", "", as("bob")); resp.StatusCode != 200 {
			t.Fatalf("bob reads shop: %d %s", resp.StatusCode, e.Message)
		}
	}
	if n := k.count("create", "tokenreviews"); n != 1 {
		t.Errorf("20 reads made %d TokenReviews, want 1", n)
	}
	// list and watch Deployments; list Pods and Events, for the diagnosis
	if n := k.count("create", "subjectaccessreviews"); n != 4 {
		t.Errorf("20 reads made %d SubjectAccessReviews, want 4", n)
	}
}

func TestKubeAuthNamespacesPerUser(t *testing.T) {
	k := newKubeFixture(t)
	req, _ := http.NewRequest("GET", k.ts.URL+"/api/namespaces", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	resp, err := k.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list namespaceList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/namespaces: %d %v", resp.StatusCode, err)
	}
	if len(list.Namespaces) != 1 || list.Namespaces[0].Name != "shop" {
		t.Errorf("alice sees %+v, want shop alone", list.Namespaces)
	}
}

// TestKubeAuthTicketIsTheUsers: a ticket is its user's, and opaque: the
// URL shows neither the token nor the user's name or groups.
func TestKubeAuthTicketIsTheUsers(t *testing.T) {
	k := newKubeFixture(t)
	ticket := ticketOf(t, k.fixture, "bob-token")
	if token, ok := k.srv.kube.TicketToken(ticket); !ok || token != "bob-token" {
		t.Fatalf("bob's ticket: %q %v", token, ok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"bob", "team", "token"} {
		if strings.Contains(string(raw), clear) || strings.Contains(ticket, clear) {
			t.Errorf("the ticket %q shows %q", ticket, clear)
		}
	}
	raw[len(raw)-1] ^= 1
	if _, ok := k.srv.kube.TicketToken(base64.RawURLEncoding.EncodeToString(raw)); ok {
		t.Error("a changed ticket is good")
	}
	_, s := openStream(t, k.ts.URL+"/api/namespaces/shop/deployments/stream?ticket="+ticket, noAuth)
	if ev, err := s.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("bob's stream with his ticket: %+v %v", ev, err)
	}
}

// TestKubeAuthResourceNames: a user whose Role allows reads and changes of one
// Deployment by name (resourceNames) may make them there, as the API
// server would allow, and not to another Deployment.
func TestKubeAuthResourceNames(t *testing.T) {
	k := newKubeFixture(t)
	k.client.PrependReactor("create", "tokenreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		tr := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if tr.Spec.Token != "carol-token" {
			return false, nil, nil
		}
		tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "carol"}}
		return true, tr, nil
	})
	k.client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		if sar.Spec.User != "carol" {
			return false, nil, nil
		}
		ra := sar.Spec.ResourceAttributes
		// Role: get and patch deployments named web; list replicasets.
		sar.Status.Allowed = ra.Namespace == "shop" && (ra.Resource == "deployments" && ra.Name == "web" || ra.Resource == "replicasets" && ra.Verb == "list")
		return true, sar, nil
	})
	const image = `{"container": "web", "image": "nginx:2"}`
	if resp, e := k.do(t, "PUT", "/api/namespaces/shop/deployments/web/image", image, as("carol")); resp.StatusCode != 200 {
		t.Errorf("carol sets web's image, which her Role names: %d %s", resp.StatusCode, e.Message)
	}
	if resp, e := k.do(t, "GET", "/api/namespaces/shop/deployments/web/history", "", as("carol")); resp.StatusCode == 403 {
		t.Errorf("carol reads web's history: %d %s", resp.StatusCode, e.Message)
	}
	if resp, e := k.do(t, "PUT", "/api/namespaces/shop/deployments/other/image", image, as("carol")); resp.StatusCode != 403 || !strings.Contains(e.Message, `"other"`) {
		t.Errorf("carol sets other's image: %d %s, want 403 naming it", resp.StatusCode, e.Message)
	}
}

// kubeSend sends GET /api/namespaces from remote, forwarded for xff (if
// any), with token.
func kubeSend(h http.Handler, remote, xff, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://127.0.0.1/api/namespaces", nil)
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestKubeAuthKnownGoodTokenPassesSpentBudget: behind one address (a
// proxy not trusted), another client's wrong tokens spend the budget, yet
// a token the API server accepted lately still gets through; a token never
// accepted waits.
func TestKubeAuthKnownGoodTokenPassesSpentBudget(t *testing.T) {
	k := newKubeFixture(t)
	h := k.srv.Handler()
	if rec := kubeSend(h, "192.0.2.1:1000", "", "alice-token"); rec.Code != 200 {
		t.Fatalf("alice: %d, want 200", rec.Code)
	}
	for i := range auth.FailureBurst {
		if rec := kubeSend(h, "192.0.2.1:1001", "", "wrong"); rec.Code != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, rec.Code)
		}
	}
	if rec := kubeSend(h, "192.0.2.1:1002", "", "wrong"); rec.Code != 429 {
		t.Fatalf("a wrong token beyond the budget: %d, want 429", rec.Code)
	}
	k.srv.kube.Now = func() time.Time { return time.Now().Add(auth.TokenReviewTTL) } // alice's review expired: reviewed again
	before := k.count("create", "tokenreviews")
	if rec := kubeSend(h, "192.0.2.1:1003", "", "alice-token"); rec.Code != 200 {
		t.Fatalf("alice's token at the spent address: %d, want 200", rec.Code)
	}
	if n := k.count("create", "tokenreviews") - before; n != 1 {
		t.Fatalf("alice's token passed with %d TokenReviews, want 1 (reviewed again)", n)
	}
	if rec := kubeSend(h, "192.0.2.1:1004", "", "bob-token"); rec.Code != 429 {
		t.Fatalf("a token never accepted at the spent address: %d, want 429", rec.Code)
	}
}

// TestKubeAuthTrustedProxies: behind a trusted proxy, each forwarded
// client has its own budget.
func TestKubeAuthTrustedProxies(t *testing.T) {
	k := newKubeFixture(t)
	k.srv.opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h := k.srv.Handler()
	for range auth.FailureBurst {
		kubeSend(h, "127.0.0.1:1000", "192.0.2.1", "wrong")
	}
	if rec := kubeSend(h, "127.0.0.1:1000", "192.0.2.1", "wrong"); rec.Code != 429 {
		t.Fatalf("the guesser behind the proxy: %d, want 429", rec.Code)
	}
	if rec := kubeSend(h, "127.0.0.1:1000", "192.0.2.2", "bob-token"); rec.Code != 200 {
		t.Fatalf("another client behind the proxy: %d, want 200", rec.Code)
	}
	// A forwarded address from a client not trusted is its own address.
	for range auth.FailureBurst {
		kubeSend(h, "192.0.2.9:1000", "198.51.100.1", "wrong")
	}
	if rec := kubeSend(h, "192.0.2.9:1000", "198.51.100.2", "wrong"); rec.Code != 429 {
		t.Fatalf("a client naming other addresses itself: %d, want 429", rec.Code)
	}
}

// TestKubeAuthTokenReviewsCapped: many addresses, each within its budget,
// get at most TokenReviewBurst TokenReviews at once; the rest are told to
// retry, which spends none of their budget.
func TestKubeAuthTokenReviewsCapped(t *testing.T) {
	k := newKubeFixture(t)
	k.srv.opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	frozen := time.Now()
	k.srv.kube.Now = func() time.Time { return frozen }
	h := k.srv.Handler()
	busy := 0
	for c := range 30 {
		for range 10 {
			switch rec := kubeSend(h, "127.0.0.1:1000", fmt.Sprintf("192.0.2.%d", c+1), "wrong"); rec.Code {
			case 429:
				busy++
			case 401:
			default:
				t.Fatalf("a wrong token: %d", rec.Code)
			}
		}
	}
	if n := k.count("create", "tokenreviews"); n != auth.TokenReviewBurst {
		t.Fatalf("300 wrong tokens from 30 addresses cost %d TokenReviews, want %d", n, auth.TokenReviewBurst)
	}
	if busy != 300-auth.TokenReviewBurst {
		t.Fatalf("%d told to retry, want %d", busy, 300-auth.TokenReviewBurst)
	}
}
