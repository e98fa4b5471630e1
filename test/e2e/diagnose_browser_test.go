package e2e

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
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
	poll("the row Failing with its cause", row+` && `+row+`.dataset.status === "Failing" && `+row+`.querySelector('.message').textContent.includes("CrashLoopBackOff: OOMKilled, exit code 137")`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-name="crash"] details.problems summary`))); err != nil {
		t.Fatalf("open the problems: %v", err)
	}
	poll("the problem with its pod, container and node", `(() => { const li = document.querySelector('tr[data-name="crash"] details.problems[open] li.problem');
		return li && li.textContent.includes("pod crash-") && li.textContent.includes("container web") && li.textContent.includes("node ") && li.textContent.includes("restarts"); })()`)
}

// TestDiagnoseServeListAgreesWithStream: serve's REST list and its stream
// say the same of a failing rollout, status, message and problems.
func TestDiagnoseServeListAgreesWithStream(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "crash", 1, false, faultLabel(testbed.FaultConfigError))
	p := startServe(t)
	s := p.openStream(t, ns, nil)
	var streamed deployment.Event
	s.until(t, 90*time.Second, "crash Failing on the stream", func(ev sseEvent) bool {
		var events []deployment.Event
		switch ev.Event {
		case "snapshot":
			events = snapshotOf(t, ev)
		case "upsert":
			events = []deployment.Event{eventOf(t, ev)}
		}
		for _, e := range events {
			if e.Name == "crash" && e.Status == deployment.Failing {
				streamed = e
				return true
			}
		}
		return false
	})
	status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", nil)
	var listed []deployment.Summary
	if err := json.Unmarshal(body, &listed); status != 200 || err != nil || len(listed) != 1 {
		t.Fatalf("GET deployments: %d %s (%v)", status, body, err)
	}
	got := listed[0]
	if got.Status != streamed.Status || got.Message != streamed.Message || len(got.Problems) != len(streamed.Problems) || got.Problems[0].Reason != "CreateContainerConfigError" {
		t.Errorf("the list says %s %q %+v; the stream %s %q %+v", got.Status, got.Message, got.Problems, streamed.Status, streamed.Message, streamed.Problems)
	}
}
