package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	corev1 "k8s.io/api/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// pageShots is where the page tests leave their screenshots: artifacts for
// a person to look at, never compared by pixels.
var pageShots = filepath.Join(os.TempDir(), "deploywatch-page")

// browserPage drives one chromium tab for a test.
type browserPage struct {
	t   *testing.T
	ctx context.Context
}

func openPage(t *testing.T) *browserPage {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	return &browserPage{t: t, ctx: newBrowser(t)}
}

func (b *browserPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page text: %s)", what, err, pageText(b.ctx))
	}
}

// poll waits in the page for a JavaScript condition.
func (b *browserPage) poll(what string, timeout time.Duration, expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		b.t.Fatalf("%s: %v (page text: %s)", what, err, pageText(b.ctx))
	}
}

func (b *browserPage) str(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (b *browserPage) screenshot(name string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(pageShots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(pageShots, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// layoutProblems is the layout rule, as JavaScript that lists what breaks
// it: the page does not scroll sideways, and the header, its badge, the
// table, each row and what a row shows (status, fields, messages, errors)
// lie within the window and are not squeezed to nothing; each column's
// heading fits its column; a name that wraps lines up at the left.
const layoutProblems = `(() => {
  const W = document.documentElement.clientWidth, bad = []; // the window less its scroll bar
  if (document.documentElement.scrollWidth > W) bad.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + W + " px window");
  const within = (what, e, minWidth) => {
    if (!e) { bad.push(what + ": missing"); return; }
    const r = e.getBoundingClientRect();
    if (r.left < -0.5 || r.right > W + 0.5) bad.push(what + " spans " + Math.round(r.left) + ".." + Math.round(r.right));
    if (r.width < (minWidth || 1)) bad.push(what + " is " + Math.round(r.width) + " px wide");
  };
  within("the header", document.querySelector("header"), document.body.getBoundingClientRect().width - 1); // all across
  within("the connection badge", document.getElementById("conn"));
  within("the table", document.getElementById("deployments"));
  within("the filter", document.getElementById("filter"), 100);
  for (const th of document.querySelectorAll("#deployments thead th")) {
    if (th.getBoundingClientRect().height > 0 && th.scrollWidth > th.clientWidth + 1) bad.push("the heading " + th.textContent.trim() + " runs past its column (" + th.scrollWidth + " px in " + th.clientWidth + ")");
  }
  for (const tr of document.querySelectorAll("#deployments tr[data-name]")) {
    const n = tr.dataset.name, name = tr.querySelector("button.toggle");
    within(n + "'s row", tr);
    within(n + "'s name", name);
    const text = name && [...name.childNodes].find((c) => c.nodeType === Node.TEXT_NODE);
    if (text) {
      const range = document.createRange();
      range.selectNodeContents(text);
      const lines = [...range.getClientRects()], left = name.getBoundingClientRect().left;
      if (lines.slice(1).some((l) => Math.abs(l.left - left) > 1)) bad.push(n + "'s name does not line up at the left");
    }
    within(n + "'s status", tr.querySelector(".status"));
    within(n + "'s replicas field", tr.querySelector("input.replicas"), 40);
    for (const i of tr.querySelectorAll("input.image")) within(n + "'s image field", i, 80);
    for (const m of tr.querySelectorAll(".message, .field-error:not([hidden])")) within(n + "'s message", m);
  }
  return bad.join("; ");
})()`

// columnEdges is where each column of the table starts and ends.
const columnEdges = `[...document.querySelectorAll("#deployments thead th")].map((th) => { const r = th.getBoundingClientRect(); return Math.round(r.left) + "-" + Math.round(r.right); }).join(" ")`

// TestPageLayout: at 900 and 420 px the page has no horizontal overflow,
// with a long Deployment name, a long image, a failing rollout's long
// message and a long validation error on screen, and the columns do not
// move when an error appears. Screenshots of both widths are left in
// pageShots.
func TestPageLayout(t *testing.T) {
	ns := testbed.NewNamespace(t)
	longName := "checkout-recommendations-with-a-name-as-long-as-teams-make-them"
	longImage := "registry.example.com/platform/checkout/recommendations-service-with-a-long-path:v2026.12.03-build.4711-abcdef0"
	createDeploymentSpec(t, ns, "web", 1, nil)
	createDeploymentSpec(t, ns, longName, 1, func(s *corev1.PodSpec) { s.Containers[0].Image = longImage })
	opsDeployment(t, ns, "pull", 1, false, faultLabel(testbed.FaultImagePull))
	p := startServe(t)
	b := openPage(t)
	b.do("open the page", chromedp.EmulateViewport(900, 800), chromedp.Navigate(p.base+"/#token="+p.token))
	b.do("open the namespace", chromedp.Navigate(p.base+"/#/ns/"+ns))
	b.poll("the three rows, pull Failing with its cause", 90*time.Second, `document.querySelectorAll("#deployments tr[data-name]").length === 3 &&
		document.querySelector('tr[data-name="pull"]').dataset.status === "Failing" && document.querySelector('tr[data-name="pull"] .message').textContent.includes("ImagePull")`)
	b.poll("the permissions", 30*time.Second, `document.getElementById("deployments").dataset.permissions === "loaded" && !document.querySelector('tr[data-name="web"] input.image').disabled`)

	if bad := b.str(layoutProblems); bad != "" {
		t.Errorf("at 900 px: %s", bad)
	}
	before := b.str(columnEdges)
	// A long validation error under web's image field.
	image := `tr[data-name="web"] input.image`
	b.do("type an invalid image", chromedp.Focus(chromedp.CSS(image)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+image+`').select()`),
		chromedp.SendKeys(chromedp.CSS(image), "Not An Image "+strings.Repeat("and-then-some-", 12)+kb.Enter))
	b.poll("the validation error", 30*time.Second, `(() => { const e = document.querySelector('tr[data-name="web"] .field-error:not([hidden])'); return !!e && e.textContent.includes("invalid image"); })()`)
	if after := b.str(columnEdges); after != before {
		t.Errorf("the columns moved when the error appeared:\nbefore %s\nafter  %s", before, after)
	}
	if bad := b.str(layoutProblems); bad != "" {
		t.Errorf("at 900 px with the error: %s", bad)
	}
	b.screenshot("page-900.png")

	// A phone: every Deployment a card, nothing beyond the window.
	b.do("a 420 px window", chromedp.EmulateViewport(420, 900, chromedp.EmulateMobile))
	b.poll("the phone layout", 10*time.Second, `window.innerWidth === 420 && getComputedStyle(document.querySelector("#deployments thead")).display === "none"`)
	if bad := b.str(layoutProblems); bad != "" {
		t.Errorf("at 420 px: %s", bad)
	}
	b.screenshot("page-420.png")

	// A history opened on a phone scrolls in its box, not the page.
	b.do("open web's history", chromedp.Click(chromedp.CSS(`tr[data-name="web"] button.toggle`)))
	b.poll("the history", 30*time.Second, `!!document.querySelector('tr[data-detail-for="web"] table.history tr[data-revision]')`)
	if bad := b.str(layoutProblems); bad != "" {
		t.Errorf("at 420 px with a history open: %s", bad)
	}
	// ... and stays a table with its headings, not cells stacked without labels.
	if bad := b.str(`(() => {
		const t = document.querySelector('tr[data-detail-for="web"] table.history');
		const heads = [...t.querySelectorAll("thead th")].filter((th) => th.getBoundingClientRect().height > 0).length;
		if (heads !== 7) return "the history shows " + heads + " of its 7 headings";
		const cells = [...t.querySelector("tbody tr[data-revision]").children].map((td) => td.getBoundingClientRect());
		for (let i = 1; i < cells.length; i++) {
			if (Math.abs(cells[i].top - cells[0].top) > 1 || cells[i].left < cells[i - 1].right - 1) return "the history's cells are stacked, not side by side";
		}
		// No word is broken to fit: a line may end at a space, a hyphen or
		// a slash, not inside a word.
		const walk = document.createTreeWalker(t, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			for (const m of n.data.matchAll(/[^\s\/-]+/g)) {
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				if (new Set([...r.getClientRects()].map((c) => Math.round(c.top))).size > 1) return "the history breaks the word " + m[0];
			}
		}
		return "";
	})()`); bad != "" {
		t.Errorf("at 420 px, web's history: %s", bad)
	}
	b.screenshot("history-420.png")
	// The namespace list on a phone.
	b.do("back to the namespaces", chromedp.Navigate(p.base+"/#/"))
	b.poll("the namespace list", 30*time.Second, `!!document.querySelector('#namespaces tr[data-namespace="`+ns+`"]')`)
	if bad := b.str(`(() => { const W = document.documentElement.clientWidth, r = document.getElementById("namespaces").getBoundingClientRect();
		return document.documentElement.scrollWidth > W || r.right > W + 0.5 ? "the list spans " + Math.round(r.left) + ".." + Math.round(r.right) + " in " + W : ""; })()`); bad != "" {
		t.Errorf("at 420 px, the namespace list: %s", bad)
	}
	b.screenshot("namespaces-420.png")
}

// TestPageSortAndFilter: the table sorts by status with what failed first,
// filters by name or image as typed ("/" starts a filter, as in k9s), and
// a reload keeps both (they live in the address).
func TestPageSortAndFilter(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeploymentSpec(t, ns, "a-api", 1, nil)
	opsDeployment(t, ns, "b-pull", 1, false, faultLabel(testbed.FaultImagePull))
	createDeploymentSpec(t, ns, "c-cart", 1, func(s *corev1.PodSpec) { s.Containers[0].Image = "registry.example.com/cart:special-4.1" })
	p := startServe(t)
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	b.do("open the namespace", chromedp.Navigate(p.base+"/#/ns/"+ns))
	const order = `[...document.querySelectorAll("#deployments tr[data-name]")].filter((tr) => !tr.hidden).map((tr) => tr.dataset.name).join(",")`
	b.poll("b-pull Failing", 90*time.Second, `document.querySelectorAll("#deployments tr[data-name]").length === 3 && document.querySelector('tr[data-name="b-pull"]').dataset.status === "Failing" &&
		document.querySelector('tr[data-name="a-api"]').dataset.status === "Running"`)
	if got := b.str(order); got != "a-api,b-pull,c-cart" {
		t.Errorf("by name: %s", got)
	}

	b.do("sort by status", chromedp.Click(chromedp.CSS(`button.sort-head[data-sort="status"]`)))
	if got := b.str(order); !strings.HasPrefix(got, "b-pull,") {
		t.Errorf("by status, failed first: %s", got)
	}
	if got := b.str(`document.querySelector('th[data-col="status"]').getAttribute("aria-sort") + " " + document.getElementById("sort").value`); got != "ascending status" {
		t.Errorf("the status header and the sort menu say %q", got)
	}

	// "/" focuses the filter; a name, then an image, narrows the rows.
	b.do("press /", chromedp.Click(chromedp.CSS("h1")), pressSlash)
	if got := b.str(`document.activeElement.id`); got != "filter" {
		t.Errorf("after /, the focus is on %q, want the filter", got)
	}
	b.do("filter by name", chromedp.SendKeys(chromedp.CSS("#filter"), "API"))
	b.poll("only a-api", 5*time.Second, order+` === "a-api" && document.querySelector(".shown").textContent === "1 of 3 shown"`)
	b.do("filter by image", chromedp.Evaluate[chromedp.Void](`document.getElementById("filter").select()`), chromedp.SendKeys(chromedp.CSS("#filter"), "special"))
	b.poll("only c-cart, whose image matches", 5*time.Second, order+` === "c-cart"`)

	// A reload (or the link shared) keeps the sort and the filter.
	hash := b.str("location.hash")
	if !strings.Contains(hash, "sort=status") || !strings.Contains(hash, "q=special") {
		t.Errorf("the address does not keep the sort and filter: %s", hash)
	}
	b.do("reload", chromedp.Reload())
	b.poll("the filter and sort after a reload", 30*time.Second, `document.querySelectorAll("#deployments tr[data-name]").length === 3 && `+order+` === "c-cart" &&
		document.getElementById("filter").value === "special" && document.getElementById("sort").value === "status"`)
	b.do("clear the filter with Escape", chromedp.Focus(chromedp.CSS("#filter")), chromedp.KeyEvent(kb.Escape))
	b.poll("every row again, failed first", 5*time.Second, order+`.startsWith("b-pull,") && `+order+`.split(",").length === 3`)
}

// pressSlash is one press of "/" as a keyboard sends it: a keydown that
// carries its text, so that a page that takes the keydown (preventDefault)
// also takes the character. chromedp.KeyEvent sends the character as a
// separate event, which no keyboard does.
var pressSlash = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "/", Code: "Slash", Text: "/", UnmodifiedText: "/", WindowsVirtualKeyCode: 191, NativeVirtualKeyCode: 191}
	up := down
	up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
	for _, p := range []input.DispatchKeyEventParams{down, up} {
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
})

// TestPageNamespaceListLive: the namespace list follows the cluster: after
// a scale to 0 its counts change without a reload.
func TestPageNamespaceListLive(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createDeployment(t, ns, "api", 1)
	p := startServe(t)
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	counts := `[...document.querySelectorAll('tr[data-namespace="` + ns + `"] .counts [data-status]')].map((e) => e.dataset.status + " " + e.dataset.count).join(", ")`
	b.poll("Running 2, once both rolled out", time.Minute, counts+` === "Running 2"`)
	b.do("mark this document", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=0")
	scaled := time.Now()
	b.poll("ScaledToZero 1, Running 1 without a reload", time.Minute, `window.notReloaded && `+counts+` === "ScaledToZero 1, Running 1"`)
	polls := b.str(`String(performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/namespaces")).length)`)
	t.Logf("the list changed %s after the scale; the page asked for the list %s times in all", time.Since(scaled).Round(time.Second), polls)
}

// TestPageTokenRefused: when the server no longer accepts the tab's token
// (serve restarted with another), the page says what to do in its own
// terms, disables its fields, stops asking, and works again once the new
// token is pasted.
func TestPageTokenRefused(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	for _, f := range []string{first, second} {
		if err := os.WriteFile(f, []byte(randomHex(t)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := startServe(t, "--token-file", first)
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	b.do("open the namespace", chromedp.Navigate(p.base+"/#/ns/"+ns))
	replicas := `document.querySelector('tr[data-name="web"] input.replicas')`
	b.poll("the fields enabled", 30*time.Second, replicas+` && !`+replicas+`.disabled && document.getElementById("conn").dataset.state === "live"`)

	_, port, _ := strings.Cut(strings.TrimPrefix(p.base, "http://"), ":")
	p.stop(t)
	p2 := startServe(t, "--token-file", second, "--address", "127.0.0.1:"+port)
	b.poll("the banner", time.Minute, `document.body.dataset.auth === "refused" && !document.getElementById("banner").hidden`)
	text := b.str(`document.body.innerText`)
	for _, want := range []string{"did not accept the token", "Open the link that kubectl deploywatch serve printed", "paste the token"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not say %q: %q", want, text)
		}
	}
	for _, never := range []string{"Authorization", "Bearer", "header"} {
		if strings.Contains(text, never) {
			t.Errorf("the page speaks of %q to a person: %q", never, text)
		}
	}
	if got := b.str(`[...document.querySelectorAll("main input, main button")].filter((e) => !e.disabled).map((e) => e.outerHTML).join(" ")`); got != "" {
		t.Errorf("controls left enabled after the token was refused: %s", got)
	}

	b.do("paste the new token", chromedp.SendKeys(chromedp.CSS("#token-input"), p2.token+kb.Enter))
	b.poll("live again with its fields", time.Minute, `document.body.dataset.auth === undefined && document.getElementById("conn").dataset.state === "live" && `+replicas+` && !`+replicas+`.disabled`)
	// The page stopped at the refusal instead of spending the server's
	// budget of wrong tokens (10 a client, then 429 for everything).
	refusals := strings.Count(p2.stderr.String(), "status=401")
	if refusals > 3 {
		t.Errorf("the page sent the refused token %d times", refusals)
	}
	t.Logf("the page sent the refused token %s time(s) before asking for another", strconv.Itoa(refusals))

	// A link with a wrong token: the same words from the first request.
	b.do("open a link with a wrong token", chromedp.Navigate(p2.base+"/?again#token=not-the-token"))
	b.poll("the banner for a wrong link", 30*time.Second, `document.body.dataset.auth === "refused" && document.getElementById("banner").innerText.includes("did not accept the token") &&
		!document.getElementById("main").innerText.includes("Loading")`)
}

// TestPageNamespaceRefused: a namespace the server refuses for good (not
// in --namespaces) gets the server's reason on a banner, after the page's
// jittered wait, and the page stops trying.
func TestPageNamespaceRefused(t *testing.T) {
	ns := testbed.NewNamespace(t)
	p := startServe(t, "--namespaces", ns)
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	b.do("open a namespace not served", chromedp.Navigate(p.base+"/#/ns/kube-system"))
	b.poll("the refusal on the banner", 30*time.Second, `document.getElementById("conn").dataset.state === "error" &&
		document.getElementById("banner").classList.contains("error") && document.getElementById("banner").innerText.includes("kube-system")`)
	if text := b.str(`document.getElementById("banner").innerText`); !strings.Contains(text, "not served") {
		t.Errorf("the banner says %q, want the server's reason (not served)", text)
	}
}
