package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

const chromium = "/usr/bin/chromium"

// screenshotPath is where the browser test leaves a picture of the page.
var screenshotPath = filepath.Join(os.TempDir(), "deploywatch-serve.png")

// TestServeBrowser drives Debian's chromium through the page: it lists the
// namespace, shows a change made with kubectl within a second, sends a
// replica change that reaches the cluster, shows the server's validation
// error next to the field, and reconnects by itself after a restart.
func TestServeBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(randomHex(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--token-file", tokenFile)

	ctx := newBrowser(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// poll waits in the page for a JavaScript condition.
	poll := func(what string, timeout time.Duration, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	row := `document.querySelector('tr[data-name="web"]')`

	// The URL serve printed, token in the fragment; the namespace list, then
	// a click to the namespace's page.
	do("open the page", chromedp.Navigate(p.base+"/#token="+p.token),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)))
	if frag, err := chromedp.Run(ctx, chromedp.Evaluate[string]("location.hash")); err != nil || strings.Contains(frag, "token") {
		t.Errorf("the token stays in the address bar: %q %v", frag, err)
	}
	do("open the namespace", chromedp.Click(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="web"]`)))
	poll("the live table, no Service serving web", 30*time.Second, row+`.querySelector('.ready').textContent === "1/1" && document.getElementById("conn").dataset.state === "live" && `+
		row+`.querySelector('td.serving').textContent === "<none>"`)

	// A change made with kubectl shows within a second.
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=2")
	wrote := time.Now()
	poll("the kubectl change on the page within a second", time.Second, row+`.querySelector('.ready').textContent.endsWith("/2")`)
	t.Logf("the page showed the kubectl change %s after kubectl returned", time.Since(wrote).Round(time.Millisecond))
	poll("the rollout", 30*time.Second, row+`.querySelector('.ready').textContent === "2/2" && `+row+`.dataset.status === "Running"`)

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", screenshotPath)

	// A replica change made on the page reaches the cluster (once the page
	// knows the server's identity may make it).
	poll("the permissions", 30*time.Second, `document.getElementById("deployments").dataset.permissions === "loaded"`)
	replicas := `tr[data-name="web"] input.replicas`
	do("type 3 replicas", chromedp.Focus(chromedp.CSS(replicas)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+replicas+`').select()`),
		chromedp.SendKeys(chromedp.CSS(replicas), "3"+kb.Enter))
	testutil.Eventually(t, 30*time.Second, "the page's scale to reach the cluster", func() bool {
		return *getDeployment(t, ns, "web").Spec.Replicas == 3
	})
	poll("the page to show 3 desired", 30*time.Second, row+`.querySelector('.ready').textContent.endsWith("/3")`)

	// The server's validation error appears next to the field, and nothing changes.
	image := `tr[data-name="web"] input.image`
	before := getDeployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image
	do("type an invalid image", chromedp.Focus(chromedp.CSS(image)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+image+`').select()`),
		chromedp.SendKeys(chromedp.CSS(image), "Not An Image"+kb.Enter))
	poll("the validation error next to the image", 30*time.Second,
		`(() => { const e = document.querySelector('`+image+`').parentElement.querySelector('.field-error'); return !!e && !e.hidden && e.textContent.includes("invalid image"); })()`)
	if got := getDeployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image; got != before {
		t.Fatalf("an invalid image changed the Deployment: %s -> %s", before, got)
	}

	// serve restarts on the same address: the page sees the reconnect event,
	// shows it, and comes back live by itself with the new server's data.
	_, port, _ := strings.Cut(strings.TrimPrefix(p.base, "http://"), ":")
	p.stop(t)
	poll("the page to show it lost the server", 30*time.Second, `document.getElementById("conn").dataset.state !== "live"`)
	p2 := startServe(t, "--token-file", tokenFile, "--address", "127.0.0.1:"+port)
	if p2.base != p.base {
		t.Fatalf("restarted serve on %s, want %s", p2.base, p.base)
	}
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=1")
	poll("the page to reconnect and show the change", time.Minute,
		`document.getElementById("conn").dataset.state === "live" && `+row+`.querySelector('.ready').textContent.endsWith("/1")`)
}

// newBrowser starts chromium headless with a fresh profile, for this test
// alone, and fails the test on any JavaScript exception in the page.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1500, 700),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromium, err)
	}
	var mu sync.Mutex
	var exceptions []string
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			mu.Lock()
			exceptions = append(exceptions, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("JavaScript exception in the page: %s", e)
		}
	})
	return ctx
}

// pageText is the page's visible text, for failure messages.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return strconv.Quote(text)
}
