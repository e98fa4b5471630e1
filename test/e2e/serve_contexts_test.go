package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
)

// testServeContexts: serve --context east,west serves each cluster under
// /api/contexts/NAME/, east (the first) also under /api/; a change in each
// cluster arrives on the stream of that context's path only; a scale
// through west's path changes west only; one watch per (context,
// namespace) however many streams; a path for west with ".." or "//" is
// refused, not redirected to east's.
func testServeContexts(t *testing.T, b *ctxBed) {
	b.namespace(t, "served")
	for _, c := range b.cs.Names {
		b.create(t, c, "served", "web", 1, nil)
		b.create(t, c, "served", c+"-app", 1, nil)
	}
	before := map[string]int{}
	for _, c := range b.cs.Names {
		before[c] = deploymentWatchesIn(t, b.cs.Clusters[c])
	}
	p := startServeEnv(t, b.cs.Env(), "--context", "east,west")

	status, body := p.request(t, "GET", "/api/info", "", nil)
	var info struct{ Contexts []string }
	if err := json.Unmarshal(body, &info); status != 200 || err != nil || strings.Join(info.Contexts, ",") != "east,west" {
		t.Fatalf("GET /api/info: %d %s (%v); want contexts [east west]", status, body, err)
	}

	// Two streams of each context's namespace, east's through both paths.
	streams := map[string][]*sseStream{}
	for _, c := range b.cs.Names {
		for range 2 {
			streams[c] = append(streams[c], p.openStreamPath(t, "/api/contexts/"+c+"/namespaces/served/deployments/stream"))
		}
	}
	streams["east"] = append(streams["east"], p.openStream(t, "served", nil))
	for c, ss := range streams {
		for _, s := range ss {
			names := map[string]bool{}
			for _, e := range snapshotOf(t, s.next(t, time.Minute)) {
				names[e.Name] = true
			}
			if len(names) != 2 || !names["web"] || !names[c+"-app"] {
				t.Fatalf("%s's snapshot holds %v, want web and %s-app only", c, names, c)
			}
		}
	}
	for _, c := range b.cs.Names {
		testutil.Eventually(t, time.Minute, "one more Deployment watch in "+c, func() bool {
			return deploymentWatchesIn(t, b.cs.Clusters[c]) == before[c]+1
		})
	}

	// A scale through west's path changes west only, and shows on west's
	// streams; a scale in east shows on east's.
	status, body = p.request(t, "PUT", "/api/contexts/west/namespaces/served/deployments/web/scale", `{"replicas": 3}`, nil)
	if status != 200 {
		t.Fatalf("scale through west's path: %d %s", status, body)
	}
	b.scale(t, "east", "served", "web", 2)
	for _, s := range streams["west"] {
		s.until(t, time.Minute, "west's web wanting 3", desiredIs(t, "web", 3))
	}
	for _, s := range streams["east"] {
		// east never wanted 3: its stream shows 2 without a 3 before it.
		s.until(t, time.Minute, "east's web wanting 2", func(ev sseEvent) bool {
			if desiredIs(t, "web", 3)(ev) {
				t.Fatalf("west's scale arrived on an east stream: %s", ev.Data)
			}
			return desiredIs(t, "web", 2)(ev)
		})
	}
	if got := *b.get(t, "east", "served", "web").Spec.Replicas; got != 2 {
		t.Fatalf("east's web wants %d replicas, want 2 (west's scale reached east?)", got)
	}
	if got := *b.get(t, "west", "served", "web").Spec.Replicas; got != 3 {
		t.Fatalf("west's web wants %d replicas, want 3", got)
	}
	for _, c := range b.cs.Names {
		if n := deploymentWatchesIn(t, b.cs.Clusters[c]); n != before[c]+1 {
			t.Fatalf("%s has %d Deployment watches with %d streams open, want %d: one per namespace", c, n, len(streams[c]), before[c]+1)
		}
	}

	// A request for west with "..", "." or "//" in its path is refused, not
	// redirected to the cleaned path (east's, once the prefix is gone), which
	// a client that follows redirects, as this one does, would then scale.
	for _, path := range []string{
		"/api/contexts/west/namespaces/other/../served/deployments/web/scale",
		"/api/contexts/west//namespaces/served/deployments/web/scale",
		"/api/contexts/west/./namespaces/served/deployments/web/scale",
	} {
		status, body = p.request(t, "PUT", path, `{"replicas": 5}`, nil)
		apiErr(t, "PUT "+path, status, body, 400, "BadRequest")
	}
	if got := *b.get(t, "east", "served", "web").Spec.Replicas; got != 2 {
		t.Fatalf("east's web wants %d replicas after requests for west, want 2", got)
	}
	if got := *b.get(t, "west", "served", "web").Spec.Replicas; got != 3 {
		t.Fatalf("west's web wants %d replicas after refused requests, want 3", got)
	}

	status, body = p.request(t, "GET", "/api/contexts/north/namespaces", "", nil)
	apiErr(t, "an unknown context", status, body, 404, "ContextNotServed")

	// --auth=kubernetes serves one cluster: refused with one line.
	res := runEnv(t, b.cs.Env(), "serve", "--context", "east,west", "--auth", "kubernetes", "--address", "127.0.0.1:0")
	if res.code != 1 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.Contains(res.stderr, "--auth=kubernetes serves one context") {
		t.Fatalf("serve --context east,west --auth kubernetes: exit %d, stderr %q; want exit 1 and one line", res.code, res.stderr)
	}
}

// testServeContextsBrowser: the page of serve --all-contexts lists both
// contexts, then each one's namespaces, and shows each one's Deployment.
func testServeContextsBrowser(t *testing.T, b *ctxBed) {
	b.namespace(t, "paged")
	for _, c := range b.cs.Names {
		b.create(t, c, "paged", c+"-page", 1, nil)
	}
	p := startServeEnv(t, b.cs.Env(), "--all-contexts")
	page := openPage(t)
	page.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-context="west"] a`)))
	if got := page.str(`[...document.querySelectorAll("#contexts tr[data-context]")].map((r) => r.dataset.context).join(",")`); got != "east,west" {
		t.Fatalf("the page lists contexts %q, want east,west", got)
	}
	for _, c := range b.cs.Names {
		other := "east"
		if c == "east" {
			other = "west"
		}
		page.do("open context "+c, chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-context="`+c+`"] a`)),
			chromedp.Click(chromedp.CSS(`tr[data-context="`+c+`"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-namespace="paged"] a`)),
			chromedp.Click(chromedp.CSS(`tr[data-namespace="paged"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-name="`+c+`-page"]`)))
		page.poll(c+"'s live table", time.Minute, `document.getElementById("conn").dataset.state === "live" && !!document.querySelector('tr[data-name="`+c+`-page"] .ready')`)
		if n := page.str(`String(document.querySelectorAll('tr[data-name="` + other + `-page"]').length)`); n != "0" {
			t.Fatalf("%s's page shows %s's Deployment", c, other)
		}
		if crumbs := page.str(`document.getElementById("crumbs").textContent`); !strings.Contains(crumbs, c) {
			t.Errorf("%s's page does not name its context in %q", c, crumbs)
		}
		page.screenshot("contexts-" + c + ".png")
	}
}
