package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// requestKey is a series of deploywatch_kube_requests_total: verb,
// resource, code.
type requestKey [3]string

// kubeRequests reads serve's count of its own requests to the API server.
func (p *serveProc) kubeRequests(t *testing.T) map[requestKey]float64 {
	t.Helper()
	status, body := p.request(t, "GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	out := map[requestKey]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, "deploywatch_kube_requests_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k], _ = strconv.Unquote(v)
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[requestKey{l["verb"], l["resource"], l["code"]}] = n
	}
	return out
}

// TestServeCountsItsAPIRequests: deploywatch_kube_requests_total holds
// exactly the requests the API server's audit log has from serve, and the
// REST calls a page makes when it reconnects or reloads (info, permissions,
// a ticket, the Deployments list, the stream resumed) cost the API server
// nothing while the namespace is watched: they are answered from serve's
// informers and caches.
func TestServeCountsItsAPIRequests(t *testing.T) {
	c := testbed.StartWith(t, testbed.Options{Audit: true})
	cs := c.Clientset(t)
	ctx := context.Background()
	const ns = "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	(&kubeAuthBed{c: c, cs: cs}).deployment(t, ns, "web")
	p := startServeEnv(t, []string{"KUBECONFIG=" + c.Kubeconfig()})

	// A page opens: the namespace list, then the namespace's view.
	for _, path := range []string{"/api/info", "/api/namespaces", "/api/namespaces/" + ns + "/permissions", "/readyz"} {
		if status, body := p.request(t, "GET", path, "", nil); status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
	first := p.openStream(t, ns, nil)
	snap := first.next(t, time.Minute)
	snapshotOf(t, snap)
	watched := p.kubeRequests(t)
	// One namespace check, the permissions' (a namespace that does not
	// exist costs no review); the stream's is answered by the cluster-wide
	// watches the namespace list started (its counts carry the diagnosis).
	if watched[requestKey{"watch", "deployments", "200"}] != 1 || watched[requestKey{"get", "namespaces", "200"}] != 1 {
		t.Fatalf("after the first stream, serve counted %v: want one Deployment watch and one namespace check", watched)
	}

	// Pages reconnecting and reloading, as the page does it.
	const pages = 20
	for i := range pages {
		for _, path := range []string{"/api/info", "/api/namespaces/" + ns + "/permissions", "/api/namespaces/" + ns + "/deployments"} {
			if status, body := p.request(t, "GET", path, "", nil); status != 200 {
				t.Fatalf("page %d: GET %s: %d %s", i, path, status, body)
			}
		}
		status, body := p.request(t, "POST", "/api/tickets", "", nil)
		var ticket struct{ Ticket string }
		if status != 200 || json.Unmarshal(body, &ticket) != nil || ticket.Ticket == "" {
			t.Fatalf("page %d: POST /api/tickets: %d %s", i, status, body)
		}
		s, status, body := p.tryStreamURL(t, p.base+"/api/namespaces/"+ns+"/deployments/stream?ticket="+url.QueryEscape(ticket.Ticket)+"&lastEventId="+url.QueryEscape(snap.ID), noAuth)
		if status != 200 {
			t.Fatalf("page %d: stream: %d %s", i, status, body)
		}
		s.close()
	}
	// A change through serve, which does ask the API server.
	if status, body := p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 2}`, nil); status != 200 {
		t.Fatalf("scale: %d %s", status, body)
	}
	first.until(t, time.Minute, "the scale", desiredIs(t, "web", 2))
	counted := p.kubeRequests(t)
	scaleCalls := map[string]bool{"deployments/scale": true, "horizontalpodautoscalers": true} // the scale's own
	for k, n := range counted {
		if !scaleCalls[k[1]] && n != watched[k] {
			t.Errorf("%v: %v requests after %d pages reconnected and one scale, %v before: the pages cost the API server requests", k, n, pages, watched[k])
		}
	}
	if counted[requestKey{"update", "deployments/scale", "200"}] != 1 {
		t.Errorf("the scale: counted %v", counted)
	}

	// serve's watches reach the audit log when they end.
	p.stop(t)
	var audited map[requestKey]float64
	testutil.Eventually(t, time.Minute, "the audit log to hold serve's watches", func() bool {
		audited = auditedRequests(t, c, "kubectl-deploywatch")
		return audited[requestKey{"watch", "deployments", "200"}] >= counted[requestKey{"watch", "deployments", "200"}]
	})
	if fmt.Sprint(audited) != fmt.Sprint(counted) {
		t.Errorf("serve counted\n%v\nthe API server's audit log has from it\n%v", counted, audited)
	}
	t.Logf("serve's requests: %v", counted)
}

// auditedRequests counts the audit log's requests whose user agent starts
// with agent, as deploywatch_kube_requests_total names them.
func auditedRequests(t *testing.T, c *testbed.Cluster, agent string) map[requestKey]float64 {
	t.Helper()
	b := &kubeAuthBed{c: c}
	out := map[requestKey]float64{}
	for _, e := range b.audit(t) {
		if !strings.HasPrefix(e.UserAgent, agent) {
			continue
		}
		resource := ""
		if e.ObjectRef != nil && e.ObjectRef.Resource != "" {
			resource = e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				resource += "/" + e.ObjectRef.Subresource
			}
		} else {
			path, _, _ := strings.Cut(strings.TrimPrefix(e.RequestURI, "/"), "/")
			path, _, _ = strings.Cut(path, "?")
			resource = "/" + path
		}
		code := "error"
		if e.ResponseStatus != nil {
			code = strconv.Itoa(e.ResponseStatus.Code)
		}
		out[requestKey{e.Verb, resource, code}]++
	}
	return out
}

// TestPageBacksOffWhenRefused: a page that serve refuses for now (every
// stream taken, --max-streams) waits longer after each refusal, with
// jitter, instead of coming back every half second: a refusal is a 200
// holding only a reconnect event, which used to start the backoff again.
// Once a stream is free the page gets it.
func TestPageBacksOffWhenRefused(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t, "--max-streams", "1")
	held := p.openStream(t, ns, nil)
	snapshotOf(t, held.next(t, time.Minute))
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	b.do("open the namespace", chromedp.Navigate(p.base+"/#/ns/"+ns))
	// The page says how long it waits: 0.25-0.5 s after the first refusal,
	// then twice as long each time; 2 s or more after the third.
	b.poll("a wait of 2 s or more after refusals", time.Minute, `(() => {
		const m = document.getElementById("conn").textContent.match(/^server busy; retrying in (\d+)s$/);
		return !!m && Number(m[1]) >= 2;
	})()`)
	refused := p.metric(t, "deploywatch_sse_streams_refused_total")
	if refused < 3 {
		t.Errorf("%v refusals counted before a wait of 2 s, want at least 3", refused)
	}
	held.close()
	b.poll("the table once a stream is free", time.Minute, `document.getElementById("conn").dataset.state === "live" && !!document.querySelector('tr[data-name="web"]')`)
	t.Logf("%v refusals before the page waited 2 s or more", refused)
}
