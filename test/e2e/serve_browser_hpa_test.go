package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeBrowserScaleWarning: a replica change made on the page for a
// Deployment a HorizontalPodAutoscaler targets is saved, and the page shows
// the server's warning next to the field: the HPA, its bounds, that it will
// undo the change.
func TestServeBrowserScaleWarning(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	opsHPA(t, ns, "web-hpa", "web", 1, 2)
	p := startServe(t)

	ctx := newBrowser(t)
	row := `tr[data-name="web"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#token="+p.token),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)),
		chromedp.Click(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(row))); err != nil {
		t.Fatalf("open the namespace: %v", err)
	}
	replicas := row + ` input.replicas`
	if err := chromedp.Do(ctx, chromedp.WaitEnabled(chromedp.CSS(replicas)), // disabled until /permissions answers
		chromedp.Focus(chromedp.CSS(replicas)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+replicas+`').select()`),
		chromedp.SendKeys(chromedp.CSS(replicas), "2"+kb.Enter)); err != nil {
		t.Fatalf("type 2 replicas: %v", err)
	}
	expr := `(() => { const e = document.querySelector('` + replicas + `').parentElement.querySelector('.field-warning');
		return !!e && !e.hidden && e.textContent.includes('HorizontalPodAutoscaler "web-hpa" (min 1, max 2 replicas)') && e.textContent.includes("will undo"); })()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the warning next to the replicas: %v (page text: %s)", err, pageText(ctx))
	}
	if got := *getDeployment(t, ns, "web").Spec.Replicas; got != 2 {
		t.Errorf("replicas = %d after the page's change, want 2", got)
	}
}
