package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestPageServiceGaps: a Service that selects no pod and no Deployment (a
// blue-green switch to a colour not deployed yet) has no row to show its
// gap: the page shows it under the title, as watch's title does, live and
// after a reload (from the snapshot), until a Deployment of that colour
// serves it. With either watch scope: one watch per namespace, or one for
// all.
func TestPageServiceGaps(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	for _, scope := range []string{"namespace", "cluster"} {
		t.Run(scope, func(t *testing.T) { pageServiceGaps(t, scope) })
	}
}

func pageServiceGaps(t *testing.T, scope string) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "blue", "blue-svc", nil, map[string]string{"app": "blue"}, nil)
	p := startServe(t, "--watch-scope="+scope)
	ctx := newBrowser(t)
	poll := func(what string, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#token="+p.token)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#/ns/"+ns)); err != nil {
		t.Fatal(err)
	}
	const gaps = `document.querySelector('ul.service-gaps')`
	poll("blue served, no Service gap", `document.querySelector('tr[data-name="blue"] td.serving') && document.querySelector('tr[data-name="blue"] td.serving').textContent === "1/1" && `+gaps+`.hidden`)

	createService(t, ns, "green-svc", map[string]string{"app": "green"})
	shown := gaps + ` && !` + gaps + `.hidden && ` + gaps + `.querySelectorAll("li").length === 1 && ` +
		gaps + `.querySelector('li[data-service="green-svc"]').textContent.startsWith("green-svc: selects no pod since ")`
	poll("green-svc's gap under the title", shown)
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	poll("green-svc's gap after a reload", `document.getElementById("conn").dataset.state === "live" && `+shown)

	servingApp(t, ns, "green", "", nil, nil, nil)
	poll("no gap once green serves", `document.querySelector('tr[data-name="green"]') && `+gaps+`.hidden && `+gaps+`.children.length === 0`)
}
