package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// recordConn keeps every text of the page's connection badge in
// window.connTexts from now on.
const recordConn = `window.connTexts = []; new MutationObserver(() => window.connTexts.push(document.getElementById("conn").textContent))
	.observe(document.getElementById("conn"), { childList: true, characterData: true, subtree: true, attributes: true }); true`

// noFailureSaid is true when the badge never spoke of a failure or a retry.
const noFailureSaid = `!window.connTexts.some((t) => /lost|retrying|restarting|cannot/.test(t))`

// signedInPage opens serve's page at p (--auth=kubernetes) with token,
// shows namespace ns live, and records the badge's texts.
func signedInPage(t *testing.T, base, token, ns string) (context.Context, func(what, expr string)) {
	t.Helper()
	ctx := newBrowser(t)
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(time.Minute))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS(".token-form button"))); err != nil {
		t.Fatalf("sign in on the page: %v (page text: %s)", err, pageText(ctx))
	}
	poll("the namespace list", `document.querySelector('tr[data-namespace="`+ns+`"] a')`)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/#/ns/"+ns)); err != nil {
		t.Fatal(err)
	}
	poll(ns+" live", `document.querySelector('tr[data-name="web"]') && document.getElementById("conn").dataset.state === "live"`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](recordConn)); err != nil {
		t.Fatal(err)
	}
	return ctx, poll
}

// TestPageStreamEnds: how the page takes the three ends of a stream that
// are not failures. At its longest life (--max-stream-life) it comes back
// at once, resumes and says nothing of a failure; when its user may no
// longer read the namespace (forbidden) it says so in the banner; when
// the cluster no longer accepts its token (unauthorized) it asks for
// another. Neither of the last two retries.
func TestPageStreamEnds(t *testing.T) {
	b := newKubeAuthBed(t)
	read := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}}
	b.person(t, "frank", map[string][]rbacv1.PolicyRule{"team-a": read})
	b.person(t, "gina", map[string][]rbacv1.PolicyRule{"team-a": read})

	// The longest life, on a second serve of the same cluster.
	p2 := startServeEnv(t, []string{"KUBECONFIG=" + serviceAccountKubeconfigOf(t, b.c, "deploywatch", "deploywatch")}, "--auth=kubernetes", "--max-stream-life=2s")
	ctx, poll := signedInPage(t, p2.base, b.tokens["bob"], "team-a")
	poll("two streams renewed", `window.connTexts.filter((t) => t === "connecting\u2026").length >= 2 && document.getElementById("conn").dataset.state === "live"`)
	b.c.Kubectl(t, "-n", "team-a", "scale", "deployment/web", "--replicas=3")
	poll("the scale after the renewals", `document.querySelector('tr[data-name="web"] .ready').textContent.endsWith("/3")`)
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.connTexts`))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](noFailureSaid)); !ok {
		t.Errorf("the badge spoke of a failure when streams reached their longest life: %q", texts)
	}

	// Forbidden: frank's RoleBinding goes; the stream's re-check ends it.
	ctx, poll = signedInPage(t, b.p.base, b.tokens["frank"], "team-a")
	if err := b.cs.RbacV1().RoleBindings("team-a").Delete(context.Background(), "frank", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("the banner says frank may no longer read team-a", `document.getElementById("conn").dataset.state === "error" && document.getElementById("conn").textContent === "not connected" && `+
		`!document.getElementById("banner").hidden && document.getElementById("banner").classList.contains("error") && document.getElementById("banner").textContent.includes("team-a")`)
	texts, _ = chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.connTexts`))
	banner, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("banner").textContent`))
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](noFailureSaid)); !ok {
		t.Errorf("the badge retried after the forbidden event: %q", texts)
	}
	t.Logf("forbidden: banner %q, badge %q", banner, texts)

	// Unauthorized: gina's ServiceAccount goes; the stream's token re-check ends it.
	ctx, poll = signedInPage(t, b.p.base, b.tokens["gina"], "team-a")
	if err := b.cs.CoreV1().ServiceAccounts("people").Delete(context.Background(), "gina", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("the page asks for a token", `document.body.dataset.auth === "refused" && document.getElementById("token-input") && document.getElementById("conn").textContent === "not signed in"`)
	texts, _ = chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.connTexts`))
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](noFailureSaid)); !ok {
		t.Errorf("the badge retried after the unauthorized event: %q", texts)
	}
	if strings.Join(texts, "") == "" {
		t.Errorf("the badge's texts were not recorded")
	}
}
