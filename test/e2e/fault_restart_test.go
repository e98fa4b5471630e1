package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestFaultAPIServerKilled kills the API server with SIGKILL while `watch -o
// ndjson` and `serve` (with a stream open) run, starts it again, and changes
// and deletes Deployments while neither can reach it (a proxy in between is
// cut). Once the proxy is back, both recover by themselves: every change and
// the deletion appear exactly once, nothing already printed is printed
// again, and both end at the API server's state.
func TestFaultAPIServerKilled(t *testing.T) {
	b := newFaultBed(t, testbed.Options{}, true)
	for _, name := range []string{"scaled", "imaged", "gone", "kept"} {
		b.create(t, name, 1)
	}
	before := b.waitSettled(t)

	w := startWatchEnv(t, b.env, "watch", b.ns, "-o", "ndjson")
	srv := startServeEnv(t, b.env, "--linger", "0")
	f := follow(t, srv.openStream(t, b.ns, nil))
	testutil.Eventually(t, time.Minute, "watch and serve to show the four deployments", func() bool {
		return matchesAll(lastByName(w.allEvents()), before) == "" && matchesAll(f.view(), before) == ""
	})
	printed := len(w.allEvents())
	lastBefore := lastByName(w.allEvents())

	// The fault: a crash, and changes the plugin cannot see.
	if err := b.c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	b.proxy.Cut()
	if err := b.c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := b.scale(t, "scaled", 3); err != nil {
		t.Fatal(err)
	}
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.k8s.io/pause:3.9"}]`
	if _, err := b.cs.AppsV1().Deployments(b.ns).Patch(context.Background(), "imaged", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.cs.AppsV1().Deployments(b.ns).Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.create(t, "born", 2)
	truth := b.waitSettled(t)
	cut := time.Since(cutAt)
	refused := b.proxy.refused.Load()
	b.proxy.Restore()

	testutil.Eventually(t, 2*time.Minute, "watch to end at the API server's state", func() bool {
		return matchesAll(lastByName(w.allEvents()), truth) == ""
	})
	testutil.Eventually(t, 2*time.Minute, "serve's stream to end at the API server's state", func() bool {
		return matchesAll(f.view(), truth) == ""
	})
	// Stragglers would show before a later change.
	proveSilence(t, b, w, f, "later")
	all := without(w.allEvents(), "later")
	after := all[printed:]

	if dups := duplicates(all); len(dups) > 0 {
		t.Errorf("watch printed consecutive duplicates: %v", dups)
	}
	if dups := duplicates(f.all()); len(dups) > 0 {
		t.Errorf("serve streamed consecutive duplicates: %v", dups)
	}
	count := func(evs []deployment.Event, name string, typ deployment.EventType) int {
		n := 0
		for _, e := range evs {
			if e.Name == name && e.Type == typ {
				n++
			}
		}
		return n
	}
	if n := count(after, "gone", deployment.Deleted); n != 1 {
		t.Errorf("watch printed DELETED gone %d times after recovery, want once", n)
	}
	if n := count(f.all(), "gone", deployment.Deleted); n != 1 {
		t.Errorf("serve streamed the deletion of gone %d times, want once", n)
	}
	if n := count(after, "born", deployment.Added); n != 1 {
		t.Errorf("watch printed ADDED born %d times, want once", n)
	}
	for _, e := range after {
		if e.Name == "kept" {
			t.Errorf("watch printed kept again, which did not change: %+v", e)
		}
		if prev, ok := lastBefore[e.Name]; ok && e.Type == prev.Type && sameShown(&prev, &e) && e.Message == prev.Message {
			t.Errorf("watch printed %s again as it was before the fault: %+v", e.Name, e)
		}
	}
	// Backoff, not a busy loop: few reconnection attempts while cut.
	perSecond := float64(refused) / cut.Seconds()
	if perSecond > 10 {
		t.Errorf("%d connection attempts in %s of outage (%.1f/s): a busy loop, not a backoff", refused, cut.Round(time.Millisecond), perSecond)
	}
	if lines := strings.Count(w.stderr.String(), "\n"); lines > 6 {
		t.Errorf("watch's stderr has %d lines for one outage, want a few:\n%s", lines, w.stderr.String())
	}
	t.Logf("outage %s: %d reconnection attempts refused (both processes); watch printed %d events after recovery, serve %d relists",
		cut.Round(time.Millisecond), refused, len(after), int(srv.metric(t, "deploywatch_upstream_relists_total")))
}

// restarts is how many times TestFaultRestartSoak restarts the API server:
// 3 by default, 10 with DEPLOYWATCH_SOAK=1 (or the number it gives).
func restarts() int {
	switch v := os.Getenv("DEPLOYWATCH_SOAK"); v {
	case "":
		return 3
	case "1":
		return 10
	default:
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
		return 10
	}
}

// TestFaultRestartSoak restarts the API server again and again (SIGKILL,
// start) under steady changes: watch and serve end at the true state with
// no duplicate event, and their memory and goroutines stay flat.
func TestFaultRestartSoak(t *testing.T) {
	n := restarts()
	b := newFaultBed(t, testbed.Options{}, false)
	for _, name := range []string{"churn", "steady"} {
		b.create(t, name, 1)
	}
	b.waitSettled(t)
	w := startWatchEnv(t, b.env, "watch", b.ns, "-o", "ndjson")
	srv := startServeEnv(t, b.env, "--linger", "0")
	f := follow(t, srv.openStream(t, b.ns, nil))
	testutil.Eventually(t, time.Minute, "both to show the deployments", func() bool {
		return len(lastByName(w.allEvents())) == 2 && len(f.view()) == 2
	})

	// Steady changes: churn's replicas go 1, 2, 3, 1, ... every 300 ms;
	// writes while the API server is down fail, as they would for anyone.
	stop := make(chan struct{})
	var churned sync.WaitGroup
	churned.Add(1)
	var writes int
	go func() {
		defer churned.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if b.scale(t, "churn", int32(i%3+1)) == nil {
				writes++
			}
		}
	}()

	var rss0, rssN int64
	var goroutines0, goroutinesN float64
	start := time.Now()
	for i := 1; i <= n; i++ {
		printed, streamed := len(w.allEvents()), len(f.all())
		if err := b.c.RestartComponent(testbed.APIServer); err != nil {
			t.Fatal(err)
		}
		// Both are back on the API server once they show churn's next change.
		testutil.Eventually(t, time.Minute, fmt.Sprintf("watch and serve to show a change after restart %d", i), func() bool {
			return len(w.allEvents()) > printed && len(f.all()) > streamed
		})
		if i == 1 {
			rss0, goroutines0 = rssBytes(t, w.cmd.Process.Pid), srv.metric(t, "go_goroutines")
		}
	}
	elapsed := time.Since(start)
	close(stop)
	churned.Wait()
	truth := b.waitSettled(t)
	testutil.Eventually(t, 2*time.Minute, "watch to end at the API server's state", func() bool {
		return matchesAll(lastByName(w.allEvents()), truth) == ""
	})
	testutil.Eventually(t, 2*time.Minute, "serve's stream to end at the API server's state", func() bool {
		return matchesAll(f.view(), truth) == ""
	})
	rssN, goroutinesN = rssBytes(t, w.cmd.Process.Pid), srv.metric(t, "go_goroutines")

	if dups := duplicates(w.allEvents()); len(dups) > 0 {
		t.Errorf("watch printed consecutive duplicates: %v", dups)
	}
	if dups := duplicates(f.all()); len(dups) > 0 {
		t.Errorf("serve streamed consecutive duplicates: %v", dups)
	}
	for _, e := range w.allEvents() {
		if e.Name == "steady" && e.Type != deployment.Added {
			t.Errorf("watch printed steady again, which never changed: %+v", e)
		}
	}
	if rssN > rss0+32<<20 {
		t.Errorf("watch's RSS grew from %d MiB to %d MiB over %d restarts", rss0>>20, rssN>>20, n)
	}
	if goroutinesN > goroutines0+10 {
		t.Errorf("serve's goroutines grew from %.0f to %.0f over %d restarts", goroutines0, goroutinesN, n)
	}
	t.Logf("%d restarts in %s under %d writes: watch printed %d events, serve streamed %d; watch RSS %d -> %d MiB; serve goroutines %.0f -> %.0f",
		n, elapsed.Round(time.Second), writes, len(w.allEvents()), len(f.all()), rss0>>20, rssN>>20, goroutines0, goroutinesN)
}
