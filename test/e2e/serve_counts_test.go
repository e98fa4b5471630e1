package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeNamespaceCountsCarryTheDiagnosis: three Deployments whose pods
// cannot pull their image (a kwok fault stage; their progress deadline is
// far off, so their own status says Progressing) in a namespace nobody
// opened: the namespace list counts them Failing, and still does after a
// viewer of the namespace left and the watches stopped. Never milder once
// Failing.
func TestServeNamespaceCountsCarryTheDiagnosis(t *testing.T) {
	ns := testbed.NewNamespace(t)
	for _, name := range []string{"a", "b", "c"} {
		opsDeployment(t, ns, name, 2, false, faultLabel(testbed.FaultImagePull))
	}
	p := startServe(t, "--linger", "1s")
	counts := func() map[deployment.Status]int { c, _ := namespaceCounts(t, p, ns); return c }
	failing := func(c map[deployment.Status]int) bool {
		return c[deployment.Failing]+c[deployment.Failed] == 3
	}
	var got map[deployment.Status]int
	testutil.Eventually(t, 90*time.Second, "the list to count 3 Failing in "+ns, func() bool {
		got = counts()
		return failing(got)
	})
	t.Logf("before anyone opened %s: %v", ns, got)
	if p.metric(t, "deploywatch_sse_clients") != 0 {
		t.Fatal("a stream is open: the namespace was opened")
	}

	// A viewer opens the namespace, then leaves.
	s := p.openStream(t, ns, p.auth())
	s.next(t, 30*time.Second)
	s.close()
	testutil.Eventually(t, 30*time.Second, "the viewer to be gone", func() bool { return p.metric(t, "deploywatch_sse_clients") == 0 })
	if got = counts(); !failing(got) {
		t.Fatalf("after the viewer left: %v, want 3 Failing", got)
	}
	// With nobody polling, the watches stop after --linger; the next list
	// starts them again and counts Failing from its first answer.
	testutil.Eventually(t, 30*time.Second, "the watches to stop", func() bool { return p.metric(t, "deploywatch_informers_running") == 0 })
	if got = counts(); !failing(got) {
		t.Fatalf("the first list after the watches stopped: %v, want 3 Failing", got)
	}
}

// namespaceCounts is ns's entry of p's namespace list: its counts by
// status, and how many of them are undiagnosed.
func namespaceCounts(t *testing.T, p *serveProc, ns string) (map[deployment.Status]int, int) {
	t.Helper()
	status, body := p.request(t, "GET", "/api/namespaces", "", p.auth())
	if status != 200 {
		t.Fatalf("GET /api/namespaces: %d %s", status, body)
	}
	var list struct {
		Namespaces []struct {
			Name        string                    `json:"name"`
			Deployments map[deployment.Status]int `json:"deployments"`
			Undiagnosed int                       `json:"undiagnosed"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Namespaces {
		if n.Name == ns {
			return n.Deployments, n.Undiagnosed
		}
	}
	t.Fatalf("%s is not in the list: %s", ns, body)
	return nil, 0
}

// TestServeNamespaceCountsCarryTheDiagnosisPerNamespaceWatch: the same
// three Deployments whose pods cannot pull their image, with a watch per
// namespace (--watch-scope=namespace) and nobody viewing any namespace: the
// list, seeing rollouts under way in the namespace, starts its watch as a
// viewer would and counts them Failing, not Progressing, with nothing
// undiagnosed; and again once that watch stopped after --linger.
func TestServeNamespaceCountsCarryTheDiagnosisPerNamespaceWatch(t *testing.T) {
	ns := testbed.NewNamespace(t)
	for _, name := range []string{"a", "b", "c"} {
		opsDeployment(t, ns, name, 2, false, faultLabel(testbed.FaultImagePull))
	}
	p := startServe(t, "--watch-scope", "namespace", "--linger", "1s")
	var got map[deployment.Status]int
	var undiagnosed int
	testutil.Eventually(t, 90*time.Second, "the list to count 3 Failing in "+ns, func() bool {
		got, undiagnosed = namespaceCounts(t, p, ns)
		return got[deployment.Failing]+got[deployment.Failed] == 3
	})
	t.Logf("before anyone opened %s: %v", ns, got)
	if undiagnosed != 0 {
		t.Errorf("%d counts said undiagnosed though diagnosed", undiagnosed)
	}
	if p.metric(t, "deploywatch_sse_clients") != 0 {
		t.Fatal("a stream is open: the namespace was opened")
	}
	testutil.Eventually(t, 30*time.Second, "the watches to stop", func() bool { return p.metric(t, "deploywatch_informers_running") == 0 })
	if got, undiagnosed = namespaceCounts(t, p, ns); got[deployment.Failing]+got[deployment.Failed] != 3 || undiagnosed != 0 {
		t.Fatalf("the first list after the watches stopped: %v, %d undiagnosed; want 3 Failing, diagnosed", got, undiagnosed)
	}
}

// TestPageMarksUndiagnosedNamespaceCounts: nine namespaces, each with a
// rollout whose pods cannot pull their image, with a watch per namespace
// and --linger 0 (a namespace's watch stops as soon as the list has read
// it). serve diagnoses at most 8 unopened namespaces per list (name order),
// so the ninth is counted from its Deployment alone: the API says
// undiagnosed 1 there, and the page says "1 not diagnosed" beside its
// count; the other eight count Failing.
func TestPageMarksUndiagnosedNamespaceCounts(t *testing.T) {
	var names []string
	for range 9 {
		ns := testbed.NewNamespace(t)
		opsDeployment(t, ns, "web", 1, false, faultLabel(testbed.FaultImagePull))
		names = append(names, ns)
	}
	sort.Strings(names)
	last := names[len(names)-1]
	p := startServe(t, "--watch-scope", "namespace", "--linger", "0s", "--namespaces", strings.Join(names, ","))
	testutil.Eventually(t, 90*time.Second, "eight namespaces counted Failing, the ninth undiagnosed", func() bool {
		for _, ns := range names[:8] {
			if c, u := namespaceCounts(t, p, ns); c[deployment.Failing]+c[deployment.Failed] != 1 || u != 0 {
				return false
			}
		}
		c, u := namespaceCounts(t, p, last)
		return c[deployment.Failing] == 0 && u == 1
	})
	b := openPage(t)
	b.do("open the page", chromedp.Navigate(p.base+"/#token="+p.token))
	row := `document.querySelector('tr[data-namespace="` + last + `"]')`
	b.poll("the ninth namespace's mark", time.Minute, row+` && `+row+`.querySelector('.undiagnosed')?.dataset.undiagnosed === "1"`)
	if text := b.str(row + `.querySelector('.undiagnosed').textContent`); text != "1 not diagnosed" {
		t.Errorf("the mark reads %q, want %q", text, "1 not diagnosed")
	}
	first := `document.querySelector('tr[data-namespace="` + names[0] + `"]')`
	if marked := b.str(`String(!!` + first + `.querySelector('.undiagnosed'))`); marked != "false" {
		t.Errorf("the first namespace, diagnosed, is marked too")
	}
	b.screenshot("namespaces-undiagnosed.png")
}
