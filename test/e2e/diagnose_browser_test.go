package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestDiagnoseOnThePage: the page shows a failing rollout as Failing with
// its cause on the row, and a click lists each problem with its pod,
// container and node.
func TestDiagnoseOnThePage(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "crash", 1, false, faultLabel(testbed.FaultOOMKilled))
	p := startServe(t)
	ctx := newBrowser(t)
	poll := func(what string, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#token="+p.token)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#/ns/"+ns)); err != nil {
		t.Fatal(err)
	}
	row := `document.querySelector('tr[data-name="crash"]')`
	poll("the row Failing with its cause", row+` && `+row+`.dataset.status === "Failing" && `+row+`.querySelector('.message').textContent.includes("CrashLoopBackOff: container web exited with code 137 (OOMKilled)")`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-name="crash"] details.problems summary`))); err != nil {
		t.Fatalf("open the problems: %v", err)
	}
	poll("the problem with its pod, container and node", `(() => { const li = document.querySelector('tr[data-name="crash"] details.problems[open] li.problem');
		return li && li.textContent.includes("pod crash-") && li.textContent.includes("container web") && li.textContent.includes("node ") && li.textContent.includes("restarts"); })()`)
}
