package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestPageTimelineOfARollout: issue 26's case (a) (1 replica, maxSurge 0,
// a Service, rolled to an application that loads for 6 s) and the fixed
// spec, rolled out while serve follows the namespace but before any page
// is open. A page opened afterwards draws each Deployment's last rollout:
// case (a) with its gap as a red span and a line naming the Service, its
// length within a tenth of a second of the one the stream recorded, and
// the revision; the fixed spec with its end and no gap.
func TestPageTimelineOfARollout(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
	})
	servingApp(t, ns, "safe", "safe-svc", nil, map[string]string{"app": "safe"}, fixedSpec)

	// A stream (not a page) keeps serve following the namespace.
	p := startServe(t)
	s := p.openStream(t, ns, nil)
	s.until(t, 90*time.Second, "both served before the rollout", func(ev sseEvent) bool {
		if ev.Event != "snapshot" {
			return false
		}
		n := 0
		for _, e := range snapshotOf(t, ev) {
			if sv := servingOf(e, e.Name+"-svc"); sv != nil && sv.Ready == 1 {
				n++
			}
		}
		return n == 2
	})
	for _, name := range []string{"api", "safe"} {
		if r := opsRun(t, "-n", ns, "set-image", name, "web="+slowImage); r.code != 0 {
			t.Fatalf("set-image %s: exit %d: %s", name, r.code, r.stderr)
		}
	}
	var lastGap *deployment.Gap
	var apiDone, safeDone bool
	s.until(t, 2*time.Minute, "both rolled out, api's gap over", func(ev sseEvent) bool {
		if ev.Event != "upsert" {
			return false
		}
		e := eventOf(t, ev)
		done := e.Status == deployment.Running && strings.Contains(images(e), slowImage)
		switch e.Name {
		case "api":
			if e.LastGap != nil {
				lastGap = e.LastGap
			}
			apiDone = apiDone || done && lastGap != nil && len(e.Gaps) == 0
		case "safe":
			if len(e.Gaps) > 0 || e.LastGap != nil {
				t.Errorf("a gap with the fixed spec: %+v %+v", e.Gaps, e.LastGap)
			}
			safeDone = safeDone || done && servingOf(e, "safe-svc") != nil && servingOf(e, "safe-svc").Ready == 1
		}
		return apiDone && safeDone
	})

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
	// Bottom row first, each opened before the next click: a detail that
	// opens above a row moves it while the mouse aims at it (once, a click
	// meant for safe's toggle landed on api's Restart).
	for _, name := range []string{"safe", "api"} {
		poll(name+"'s row", `!!document.querySelector('tr[data-name="`+name+`"] button.toggle')`)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-name="`+name+`"] button.toggle`))); err != nil {
			t.Fatalf("open %s's details: %v", name, err)
		}
		poll(name+"'s details", `!!document.querySelector('tr.detail[data-detail-for="`+name+`"] table.history')`)
	}
	api := `document.querySelector('tr.detail[data-detail-for="api"] .timeline')`
	safe := `document.querySelector('tr.detail[data-detail-for="safe"] .timeline')`
	poll("api's timeline: revision 1 to 2, complete, a red gap span on api-svc and its line", api+` && `+
		api+`.querySelector('.timeline-title').textContent.startsWith("Rollout, revision 1 \u2192 2: started ") && `+
		api+`.querySelector('.timeline-title').textContent.includes(", complete after ") && `+
		api+`.querySelector('svg rect.gap[data-service="api-svc"]') && `+
		api+`.querySelector('svg rect.gap').getBBox().width > 1 && `+
		api+`.querySelector('svg line.mark.start') && `+api+`.querySelector('svg line.mark.end.complete') && `+
		api+`.querySelector('svg path.endpoints[data-service="api-svc"]') && `+
		api+`.querySelector('.timeline-gaps li.gap[data-service="api-svc"]')`)
	label, err := chromedp.Run(ctx, chromedp.Evaluate[string](api+`.querySelector('.timeline-gaps li.gap').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	const prefix, suffix = "api-svc had no ready endpoint for ", "s during revision 2"
	if !strings.HasPrefix(label, prefix) || !strings.HasSuffix(label, suffix) {
		t.Fatalf("api's gap line %q, want %q<length>%q", label, prefix, suffix)
	}
	secs, perr := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(label, prefix), suffix), 64)
	want := lastGap.End.Sub(lastGap.Start).Seconds()
	if perr != nil || secs < want-0.1 || secs > want+0.1 {
		t.Errorf("api's gap line says %q; the stream recorded %.2fs", label, want)
	}
	if want < (slowStartDelay - time.Second).Seconds() {
		t.Errorf("the recorded gap %.2fs is shorter than the application's load", want)
	}

	// The history's row of revision 2 says what the rollout cost, red for
	// api's gap.
	apiCost := `document.querySelector('tr.detail[data-detail-for="api"] table.history tr[data-revision="2"] td.cost')`
	poll("api's history to say what revision 2's rollout cost, in red", apiCost+` && `+apiCost+`.classList.contains("gap") && `+
		apiCost+`.textContent.startsWith("complete in ") && `+apiCost+`.textContent.includes("; serving gap ") && `+
		apiCost+`.textContent.includes("(api-svc 0 ready at the fewest)")`)
	safeCost := `document.querySelector('tr.detail[data-detail-for="safe"] table.history tr[data-revision="2"] td.cost')`
	poll("safe's history to say revision 2's rollout had no gap", safeCost+` && !`+safeCost+`.classList.contains("gap") && `+
		safeCost+`.textContent.endsWith("; no serving gap")`)

	poll("safe's timeline: revision 1 to 2, complete, no gap", safe+` && `+
		safe+`.querySelector('.timeline-title').textContent.includes(", complete after ") && `+
		safe+`.querySelector('svg line.mark.end.complete') && `+
		safe+`.querySelector('svg path.endpoints[data-service="safe-svc"]') && `+
		safe+`.querySelector('.timeline-gaps.none').textContent === "No serving gap." && `+
		`!`+safe+`.querySelector('svg rect.gap') && `+safe+`.dataset.gaps === "0"`)
}
