package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestOutageIsVisible stops the API server (and cuts the way to it, so a
// change happens unseen) while `watch -o ndjson`, a piped `watch`, the live
// table in tmux, `serve` with a stream open, and a `watch --until-complete
// --timeout` run. While it is down: one warning line on each piped watch's
// stderr, an `upstream` SSE event and deploywatch_upstream_watches{state="live"} at 0, the
// live title saying since when and why, and the timeout saying the watch was
// lost. Once back: one more warning line each, `upstream` live, the title's
// clock again, and every view at the API server's state.
func TestOutageIsVisible(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed: .ci/run installs it (apt-get install tmux)")
	}
	b := newFaultBed(t, testbed.Options{}, true)
	b.create(t, "web", 1)
	b.create(t, "api", 1)
	before := b.waitSettled(t)
	// A rollout that cannot finish (no node matches), for the timeout.
	const stuckNS = "fault-stuck"
	ctx := context.Background()
	if _, err := b.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: stuckNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stuck := testutil.Deployment("stuck", testutil.PodSpec(func(s *corev1.PodSpec) {
		s.NodeSelector = map[string]string{"no-such": "node"}
	}))
	if _, err := b.cs.AppsV1().Deployments(stuckNS).Create(ctx, stuck, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	nd := startWatchEnv(t, b.env, "watch", b.ns, "-o", "ndjson")
	table := startWatchEnv(t, b.env, "watch", b.ns)
	srv := startServeEnv(t, b.env, "--linger", "0")
	f := follow(t, srv.openStream(t, b.ns, nil))

	// The live table, in a real terminal.
	pluginDir := testbed.BuildPlugin(t)
	socket := t.TempDir() + "/tmux.sock"
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "20", fmt.Sprintf("env %s PATH=%s:$PATH TERM=xterm-256color NO_COLOR=1 bash --norc --noprofile", b.env[0], pluginDir))
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", socket, "kill-server").Run() })
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+b.ns, "Enter")
	title := func() string { return strings.SplitN(tmux("capture-pane", "-p", "-t", "e2e"), "\n", 2)[0] }
	clock := regexp.MustCompile(`^deployments in namespace "fault" · \d\d:\d\d:\d\d · 2 deployments: 2 Running`)

	upLive := `deploywatch_upstream_watches{state="live"}` // the server watches only "fault"
	testutil.Eventually(t, 2*time.Minute, "every view to show both deployments", func() bool {
		return matchesAll(lastByName(nd.allEvents()), before) == "" && matchesAll(f.view(), before) == "" &&
			len(table.output()) >= 3 && clock.MatchString(title())
	})
	if v := srv.metric(t, upLive); v != 1 {
		t.Errorf("%s = %v before the outage, want 1", upLive, v)
	}

	// The wait whose timeout will run out during the outage.
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	w := b.c.KubectlCmd(waitCtx, "deploywatch", "watch", stuckNS, "--until-complete", "--failing-grace", "10m", "--timeout", "30s")
	w.Env = append(w.Env, b.env...) // the proxied kubeconfig
	var wOut, wErr syncBuffer
	w.Stdout, w.Stderr = &wOut, &wErr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- w.Wait() }()
	testutil.Eventually(t, time.Minute, "the wait to show stuck Failing", func() bool { return strings.Contains(wOut.String(), "Failing") })

	// The outage: the API server stops, and the way to it is cut so that a
	// change after its restart is not seen.
	if err := b.c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	b.proxy.Cut()
	lost := regexp.MustCompile(`(?m)^warning: lost the watch of deployments in namespace "fault" at \d\d:\d\d:\d\d, reconnecting: \S`)
	testutil.Eventually(t, 2*time.Minute, "the piped watches to warn, the SSE stream and the live title to say the watch is lost", func() bool {
		return lost.MatchString(nd.stderr.String()) && lost.MatchString(table.stderr.String()) &&
			slices.Contains(f.upstreams(), "reconnecting") && strings.Contains(title(), "reconnecting since ")
	})
	if !regexp.MustCompile(`^deployments in namespace "fault" · reconnecting since \d\d:\d\d:\d\d: \S.* · 2 deployments: 2 Running`).MatchString(title()) {
		t.Errorf("the live title while lost reads %q, want the clock replaced by since when and why", title())
	}
	if v := srv.metric(t, upLive); v != 0 {
		t.Errorf("%s = %v while lost, want 0", upLive, v)
	}
	var exit *exec.ExitError
	select {
	case err := <-waitDone:
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("the wait ended with %v, want exit 2", err)
		}
		if !regexp.MustCompile(`timed out after 30s while the watch was lost \(reconnecting since \d\d:\d\d:\d\d: .+\); the last state seen, possibly stale: fault-stuck/stuck \(Failing: `).MatchString(wErr.String()) {
			t.Errorf("the timeout during the outage says:\n%s\nwant it to say the watch was lost", wErr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the wait did not time out")
	}

	b.endOutage(t, "web", 3)
	b.proxy.Restore()

	back := regexp.MustCompile(`(?m)^warning: the watch of deployments in namespace "fault" is back at \d\d:\d\d:\d\d after \S+; the rows that follow are current$`)
	backTitle := regexp.MustCompile(`^deployments in namespace "fault" · \d\d:\d\d:\d\d · 2 deployments: `)
	// Once back, each of serve's informers whose resource version the
	// restarted API server no longer knows relists in its turn, so the
	// stream and the metric pass through "relisting" on the way: both must
	// end live.
	testutil.Eventually(t, 3*time.Minute, "every view back at the API server's state, and "+upLive+" 1", func() bool {
		ups := f.upstreams()
		truth := b.truth(t)
		web := fmt.Sprintf(" %d/%d ", truth["web"].Status.ReadyReplicas, *truth["web"].Spec.Replicas)
		return back.MatchString(nd.stderr.String()) && back.MatchString(table.stderr.String()) &&
			len(ups) > 0 && ups[len(ups)-1] == "live" && srv.metric(t, upLive) == 1 &&
			matchesAll(lastByName(nd.allEvents()), truth) == "" && matchesAll(f.view(), truth) == "" &&
			backTitle.MatchString(title()) && strings.Contains(tmux("capture-pane", "-p", "-t", "e2e"), web)
	})
	for name, p := range map[string]*watchProc{"-o ndjson": nd, "piped table": table} {
		if n, m := len(lost.FindAllString(p.stderr.String(), -1)), len(back.FindAllString(p.stderr.String(), -1)); n != 1 || m != 1 {
			t.Errorf("%s: %d lost and %d back lines for one outage, want one each:\n%s", name, n, m, p.stderr.String())
		}
	}
	for _, l := range nd.output() {
		if strings.HasPrefix(l, "warning") {
			t.Errorf("a warning on stdout of -o ndjson: %q", l)
		}
	}
	t.Logf("upstream states streamed: %v\n-o ndjson stderr:\n%s", f.upstreams(), nd.stderr.String())
}

// TestLastChangeIsSinceTheState: a Deployment that has been Running a while
// shows, at the start of a watch, since when it is Running as the cluster
// recorded it: `since` in NDJSON is the latest time its conditions record,
// the piped table's LAST CHANGE is that time of day, and the live table's
// age is more than the watch's own age.
func TestLastChangeIsSinceTheState(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed: .ci/run installs it (apt-get install tmux)")
	}
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 1, true, nil)
	var d *appsv1.Deployment
	testutil.Eventually(t, time.Minute, "the rollout's end to be recorded", func() bool {
		d = opsGet(t, ns, "web")
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Reason == "NewReplicaSetAvailable" {
				return true
			}
		}
		return false
	})
	want := d.CreationTimestamp.Time
	for _, c := range d.Status.Conditions {
		for _, at := range []time.Time{c.LastTransitionTime.Time, c.LastUpdateTime.Time} {
			if at.After(want) {
				want = at
			}
		}
	}
	// Running a while: the clock has to pass it by a few seconds.
	testutil.Eventually(t, time.Minute, "the deployment to have been Running for 3s", func() bool { return time.Since(want) >= 3*time.Second })

	nd := startWatch(t, "watch", ns, "-o", "ndjson")
	table := startWatch(t, "watch", ns)
	testutil.Eventually(t, time.Minute, "both watches to show web", func() bool { return len(nd.eventsOf("web")) > 0 && len(table.output()) >= 2 })
	e := nd.eventsOf("web")[0]
	if !e.Since.Equal(want) {
		t.Errorf("since = %s, want %s (the latest time the cluster recorded)", e.Since, want)
	}
	if age := e.Time.Sub(e.Since); age < 3*time.Second {
		t.Errorf("since is %s before the event, want it older than the watch (3s at least)", age)
	}
	if row := table.output()[1]; !strings.HasSuffix(row, " "+want.Local().Format(time.TimeOnly)) {
		t.Errorf("piped LAST CHANGE: row %q, want it to end in %s", row, want.Local().Format(time.TimeOnly))
	}

	pluginDir := testbed.BuildPlugin(t)
	socket := t.TempDir() + "/tmux.sock"
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "20", fmt.Sprintf("env KUBECONFIG=%s PATH=%s:$PATH TERM=xterm-256color NO_COLOR=1 bash --norc --noprofile", testbed.Kubeconfig(), pluginDir))
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", socket, "kill-server").Run() })
	started := time.Now()
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns, "Enter")
	var age, own time.Duration // the row's age, and the watch's own when it was read
	testutil.Eventually(t, time.Minute, "the live table's web row", func() bool {
		own = time.Since(started)
		for _, l := range strings.Split(tmux("capture-pane", "-p", "-t", "e2e"), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "web" {
				a, err := time.ParseDuration(f[len(f)-1])
				age = a
				return err == nil
			}
		}
		return false
	})
	if age <= own {
		t.Errorf("the live LAST CHANGE of a Deployment Running since %s reads %s, not more than the watch's own age %s", want.Format(time.TimeOnly), age, own.Round(time.Second))
	}
}

// TestServeBrowserOutage: the page in chromium while the API server is
// down: its badge turns amber with the reason and its rows grey; once the
// API server is back, the badge is live, the rows are not grey and show the
// change made while the page could not see it. A row's last change is the
// Deployment's age in its state, not the page's.
func TestServeBrowserOutage(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	b := newFaultBed(t, testbed.Options{}, true)
	b.create(t, "web", 1)
	settled := b.waitSettled(t)
	var since time.Time
	for _, c := range settled["web"].Status.Conditions {
		for _, at := range []time.Time{c.LastTransitionTime.Time, c.LastUpdateTime.Time} {
			if at.After(since) {
				since = at
			}
		}
	}
	testutil.Eventually(t, time.Minute, "web to have been Running for 3s", func() bool { return time.Since(since) >= 3*time.Second })
	srv := startServeEnv(t, b.env, "--linger", "0")

	ctx := newBrowser(t)
	poll := func(what string, timeout time.Duration, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	row := `document.querySelector('tr[data-name="web"]')`
	conn := `document.getElementById("conn")`
	stale := `document.getElementById("deployments").classList.contains("stale")`
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/#token="+srv.token)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/#/ns/"+b.ns)); err != nil {
		t.Fatal(err)
	}
	poll("the live table", time.Minute, row+` && `+row+`.querySelector('.ready').textContent === "1/1" && `+conn+`.dataset.state === "live" && !`+stale)
	last, err := chromedp.Run(ctx, chromedp.Evaluate[string](row+`.querySelector('.last').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := time.ParseDuration(strings.TrimSuffix(last, " ago")); err != nil || d < 3*time.Second {
		t.Errorf("the last change of a Deployment Running for 3s or more reads %q, want its age in its state", last)
	}

	if err := b.c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	b.proxy.Cut()
	poll("the badge amber with the reason and the rows grey", 2*time.Minute,
		conn+`.dataset.state === "upstream" && /reconnecting since .+: \S/.test(`+conn+`.textContent) && `+stale)
	b.endOutage(t, "web", 2)
	b.proxy.Restore()
	poll("the badge live and the rows current", 3*time.Minute, conn+`.dataset.state === "live" && !`+stale)
	testutil.Eventually(t, 3*time.Minute, "the page's row at the truth", func() bool {
		d := b.truth(t)["web"]
		ready, err := chromedp.Run(ctx, chromedp.Evaluate[string](row+`.querySelector('.ready').textContent`))
		return err == nil && ready == fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, *d.Spec.Replicas)
	})
}
