package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// watchProc is a running `kubectl deploywatch watch ...` whose stdout is
// piped, as in a script.
type watchProc struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan struct{}

	mu     sync.Mutex
	lines  []string
	events []deployment.Event
	bad    []string // lines that are not one JSON event
}

func startWatch(t *testing.T, args ...string) *watchProc {
	t.Helper()
	return startWatchEnv(t, nil, args...)
}

// startWatchEnv is startWatch with extra environment, e.g. the KUBECONFIG
// of another cluster.
func startWatchEnv(t *testing.T, env []string, args ...string) *watchProc {
	t.Helper()
	testbed.BuildPlugin(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := &watchProc{done: make(chan struct{})}
	p.cmd = testbed.Shared().KubectlCmd(ctx, append([]string{"deploywatch"}, args...)...)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kubectl deploywatch %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("$ kubectl deploywatch %s\n%s\nstderr:\n%s", strings.Join(args, " "), strings.Join(p.output(), "\n"), p.stderr.String())
		}
	})
	return p
}

func (p *watchProc) add(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
	var e deployment.Event
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.Type == "" {
		p.bad = append(p.bad, line)
		return
	}
	p.events = append(p.events, e)
}

func (p *watchProc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// eventsOf returns the events for Deployment name so far.
func (p *watchProc) eventsOf(name string) []deployment.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []deployment.Event
	for _, e := range p.events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an event of Deployment name that satisfies cond.
func (p *watchProc) waitEvent(t *testing.T, name, what string, cond func(deployment.Event) bool) deployment.Event {
	t.Helper()
	var found deployment.Event
	testutil.Eventually(t, 90*time.Second, fmt.Sprintf("an event where %s %s", name, what), func() bool {
		for _, e := range p.eventsOf(name) {
			if cond(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// stop interrupts the watch as Ctrl-C would and returns its exit code.
func (p *watchProc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("watch did not stop within 30s of SIGINT")
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return 0
}

// matchesTruth says how an event differs from the Deployment the API server
// holds, in every field a user reads; "" when it does not.
func matchesTruth(e deployment.Event, d *appsv1.Deployment) string {
	truth := deployment.Summarize(d, &deployment.Diagnosis{Known: true, Problems: e.Problems})
	var diffs []string
	if e.Status != truth.Status {
		diffs = append(diffs, fmt.Sprintf("status %s, truth %s", e.Status, truth.Status))
	}
	if e.Replicas != truth.Replicas {
		diffs = append(diffs, fmt.Sprintf("replicas %+v, truth %+v", e.Replicas, truth.Replicas))
	}
	if !slices.Equal(e.Containers, truth.Containers) {
		diffs = append(diffs, fmt.Sprintf("containers %v, truth %v", e.Containers, truth.Containers))
	}
	if e.Generation != d.Generation {
		diffs = append(diffs, fmt.Sprintf("generation %d, truth %d", e.Generation, d.Generation))
	}
	if e.ObservedGeneration != d.Status.ObservedGeneration {
		diffs = append(diffs, fmt.Sprintf("observedGeneration %d, truth %d", e.ObservedGeneration, d.Status.ObservedGeneration))
	}
	return strings.Join(diffs, "; ")
}

func sameShown(a, b *deployment.Event) bool {
	return a.Status == b.Status && a.Replicas == b.Replicas && slices.Equal(a.Containers, b.Containers)
}

func images(e deployment.Event) string {
	var parts []string
	for _, c := range e.Containers {
		parts = append(parts, c.Name+"="+c.Image)
	}
	return strings.Join(parts, ",")
}

// TestWatchNDJSONFollowsARollout runs `watch -o ndjson` through a create, an
// image change, a scale up, a scale down, and a second Deployment created and
// deleted: every state shows, nothing repeats, and the last event per
// Deployment is what the API server holds.
func TestWatchNDJSONFollowsARollout(t *testing.T) {
	ns := testbed.NewNamespace(t)
	w := startWatch(t, "watch", ns, "-o", "ndjson")

	opsDeployment(t, ns, "web", 3, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.InitContainers = nil
		d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
	})
	w.waitEvent(t, "web", "is Running 3/3", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Replicas.Ready == 3
	})

	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/web", "web=registry.k8s.io/pause:3.9")
	w.waitEvent(t, "web", "is Running on pause:3.9", func(e deployment.Event) bool {
		return e.Status == deployment.Running && images(e) == "web=registry.k8s.io/pause:3.9" && e.Replicas.Updated == 3 && e.Replicas.Current == 3
	})

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=5")
	w.waitEvent(t, "web", "is Running 5/5", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Replicas.Ready == 5 && e.Replicas.Desired == 5
	})

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=1")
	w.waitEvent(t, "web", "is Running 1/1", func(e deployment.Event) bool {
		return e.Status == deployment.Running && e.Replicas.Current == 1 && e.Replicas.Desired == 1
	})

	opsDeployment(t, ns, "api", 1, true, nil)
	w.waitEvent(t, "api", "is added", func(e deployment.Event) bool { return e.Type == deployment.Added })
	testbed.Kubectl(t, "-n", ns, "delete", "deployment/api")
	w.waitEvent(t, "api", "is deleted", func(e deployment.Event) bool { return e.Type == deployment.Deleted })

	// The last event of web ends at the truth, once the controllers are done.
	testutil.Eventually(t, time.Minute, "web's last event to match the API server", func() bool {
		evs := w.eventsOf("web")
		return matchesTruth(evs[len(evs)-1], opsGet(t, ns, "web")) == ""
	})
	// Stray updates of the settled Deployment (condition timestamps,
	// observedGeneration, resyncs) must print nothing. A Deployment made
	// afterwards proves the silence: the watch delivers in order, so once
	// its line is printed, every update stored before it was seen.
	before := len(w.output())
	opsDeployment(t, ns, "later", 0, false, nil)
	w.waitEvent(t, "later", "is added", func(e deployment.Event) bool { return e.Type == deployment.Added })

	if code := w.stop(t); code != 0 {
		t.Errorf("watch exited %d after SIGINT, want 0 (stderr: %s)", code, w.stderr.String())
	}
	for _, line := range w.output()[before:] {
		if !strings.Contains(line, `"name":"later"`) {
			t.Errorf("a settled Deployment printed more lines: %v", w.output()[before:])
			break
		}
	}
	if len(w.bad) > 0 {
		t.Errorf("lines that are not one JSON event each: %q", w.bad)
	}

	web := w.eventsOf("web")
	// The end of the rollout the image change made is told once, as a
	// ROLLOUT event right after the MODIFIED that ended it; the creation
	// (a first revision) is no rollout. The rest are web's states.
	var rollouts, states []deployment.Event
	for i, e := range web {
		if e.Type != deployment.Rollout {
			states = append(states, e)
			continue
		}
		rollouts = append(rollouts, e)
		if i == 0 || web[i-1].Type != deployment.Modified || !slices.Contains(web[i-1].Changed, "lastRollout") {
			t.Errorf("ROLLOUT event %d of web does not follow the MODIFIED that ended the rollout", i)
		}
	}
	if len(rollouts) != 1 || rollouts[0].LastRollout == nil || rollouts[0].LastRollout.Revision != "2" ||
		rollouts[0].LastRollout.Outcome != deployment.RolloutComplete {
		t.Errorf("ROLLOUT events of web: %+v; want one, revision 2 complete", rollouts)
	}
	web = states
	if web[0].Type != deployment.Added {
		t.Errorf("first event of web is %s, want ADDED", web[0].Type)
	}
	for i := 1; i < len(web); i++ {
		if web[i].Type != deployment.Modified {
			t.Errorf("event %d of web is %s, want MODIFIED", i, web[i].Type)
		}
		if sameShown(&web[i-1], &web[i]) {
			t.Errorf("events %d and %d of web are equal in status, replicas and containers: %+v", i-1, i, web[i])
		}
		if len(web[i].Changed) == 0 {
			t.Errorf("event %d of web names no changed field", i)
		}
	}
	if diff := matchesTruth(web[len(web)-1], opsGet(t, ns, "web")); diff != "" {
		t.Errorf("the last event of web differs from kubectl get: %s", diff)
	}
	// Every distinct state the user asked for shows.
	var desired []int32
	var imgs []string
	for _, e := range web {
		if len(desired) == 0 || desired[len(desired)-1] != e.Replicas.Desired {
			desired = append(desired, e.Replicas.Desired)
		}
		if len(imgs) == 0 || imgs[len(imgs)-1] != images(e) {
			imgs = append(imgs, images(e))
		}
	}
	if want := []int32{3, 5, 1}; !slices.Equal(desired, want) {
		t.Errorf("desired replicas went %v, want %v", desired, want)
	}
	if want := []string{"web=registry.k8s.io/pause:3.10", "web=registry.k8s.io/pause:3.9"}; !slices.Equal(imgs, want) {
		t.Errorf("images went %v, want %v", imgs, want)
	}

	api := w.eventsOf("api")
	var deleted int
	for _, e := range api {
		if e.Type == deployment.Deleted {
			deleted++
		}
	}
	if deleted != 1 || api[len(api)-1].Type != deployment.Deleted {
		t.Errorf("api's events %v: want DELETED exactly once, last", eventTypes(api))
	}
	t.Logf("web: %d events for a create, an image change and two scalings", len(web))
}

func eventTypes(evs []deployment.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type) + " " + string(e.Status)
	}
	return out
}

// TestWatchInitialAndSelectors checks --initial=false, -l and
// --field-selector on the real API server.
func TestWatchInitialAndSelectors(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "old", 1, true, nil)
	opsDeployment(t, ns, "front", 1, true, func(d *appsv1.Deployment) { d.Labels = map[string]string{"tier": "front"} })

	changesOnly := startWatch(t, "watch", ns, "-o", "ndjson", "--initial=false")
	labelled := startWatch(t, "watch", ns, "-o", "ndjson", "-l", "tier=front")
	named := startWatch(t, "watch", "-n", ns, "-o", "ndjson", "--field-selector", "metadata.name=old")

	labelled.waitEvent(t, "front", "is listed", func(e deployment.Event) bool { return e.Type == deployment.Added })
	named.waitEvent(t, "old", "is listed", func(e deployment.Event) bool { return e.Type == deployment.Added })
	// --initial=false must have synced before the change it must show.
	waitSynced(t, changesOnly, ns)
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/old", "--replicas=2")
	changesOnly.waitEvent(t, "old", "scales to 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })
	named.waitEvent(t, "old", "scales to 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/front", "--replicas=2")
	labelled.waitEvent(t, "front", "scales to 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })
	changesOnly.waitEvent(t, "front", "scales to 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })

	for _, e := range changesOnly.eventsOf("old") {
		if e.Type == deployment.Added {
			t.Errorf("--initial=false printed the existing Deployment old: %+v", e)
		}
	}
	if evs := labelled.eventsOf("old"); len(evs) > 0 {
		t.Errorf("-l tier=front printed old, which lacks the label: %v", eventTypes(evs))
	}
	if evs := named.eventsOf("front"); len(evs) > 0 {
		t.Errorf("--field-selector metadata.name=old printed front: %v", eventTypes(evs))
	}
}

// waitSynced waits until a watch with --initial=false has synced: a
// Deployment created after its sync is printed as ADDED, one created before
// is not, so markers are created until one is printed. The wait for each is
// only how long to give it before trying the next; what proves the sync is
// the printed event.
func waitSynced(t *testing.T, p *watchProc, ns string) {
	t.Helper()
	for i := range 30 {
		name := fmt.Sprintf("synced-%d", i)
		opsDeployment(t, ns, name, 0, false, nil)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, e := range p.eventsOf(name) {
				if e.Type == deployment.Added {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("the watch printed none of 30 Deployments created one after the other")
}

// TestWatchUntilComplete waits for a namespace to roll out as CI does: exit 0
// when every Deployment is Running, 1 with the reason when one passes its
// progress deadline, 2 when --timeout runs out first.
func TestWatchUntilComplete(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		opsDeployment(t, ns, "web", 3, false, nil)
		opsDeployment(t, ns, "api", 2, false, nil)
		// The bare namespace argument is the shorthand for watch.
		res := opsRun(t, ns, "--until-complete", "--timeout", "2m", "-o", "ndjson")
		if res.code != 0 {
			t.Fatalf("exit %d, want 0", res.code)
		}
		last := map[string]deployment.Event{}
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			var e deployment.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			last[e.Name] = e
		}
		for _, name := range []string{"web", "api"} {
			if last[name].Status != deployment.Running {
				t.Errorf("the last event of %s is %s, want Running", name, last[name].Status)
			}
			if !opsRolledOut(opsGet(t, ns, name)) {
				t.Errorf("exit 0 before %s rolled out", name)
			}
		}
	})

	t.Run("failed", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		opsDeployment(t, ns, "web", 1, true, nil)
		opsDeployment(t, ns, "stuck", 1, false, func(d *appsv1.Deployment) {
			deadline := int32(5)
			d.Spec.ProgressDeadlineSeconds = &deadline
			d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
		})
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "2m")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1", res.code)
		}
		opsContains(t, "stderr", res.stderr, "stuck", "Failed", "ProgressDeadlineExceeded")
		// One error line, then its next steps (see nextsteps_test.go):
		// revision 1 has nothing to undo to.
		failures := parseFailures(t, res.stderr)
		if len(failures) != 1 || len(failures[0].steps) != 2 || failures[0].steps[0] != "kubectl deploywatch history stuck -n "+ns {
			t.Errorf("stderr names %+v, want one error line with history and the pod", failures)
		} else {
			describePodStep(t, failures[0].steps[1], "stuck", ns)
		}
		// Piped, the table's first rows and then one row per change.
		opsContains(t, "stdout", res.stdout, "NAME", "STATUS", "stuck", "Failed")
	})

	t.Run("timeout", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		opsDeployment(t, ns, "pending", 1, false, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
		})
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "3s", "-o", "ndjson")
		if res.code != 2 {
			t.Fatalf("exit %d, want 2", res.code)
		}
		opsContains(t, "stderr", res.stderr, "timed out after 3s", ns+"/pending")
	})

	t.Run("empty namespace", func(t *testing.T) {
		ns := testbed.NewNamespace(t)
		res := opsRun(t, "watch", ns, "--until-complete", "--timeout", "1m")
		if res.code != 0 {
			t.Fatalf("exit %d, want 0: nothing to wait for", res.code)
		}
		opsContains(t, "stderr", res.stderr, "No resources found in "+ns+" namespace.")
		if res.stdout != "" {
			t.Errorf("stdout of an empty namespace is %q, want nothing (not even a header)", res.stdout)
		}
	})
}

// TestWatchLiveTableInTmux runs the plugin in a real terminal (tmux): the
// table is drawn, redrawn in place when the Deployment scales, and left on
// the normal screen after Ctrl-C.
func TestWatchLiveTableInTmux(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)
	tmux, waitPane, rowOf := newTmux(t, 160, 30)

	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns+"; echo exit=$?", "Enter")
	screen := waitPane("web Running 2/2", func(s string) bool {
		r := rowOf(s, "web")
		return len(r) == 1 && strings.Contains(r[0], "Running") && strings.Contains(r[0], "2/2")
	})
	opsContains(t, "the live table", screen, "deployments in namespace \""+ns+"\"", "NAME", "STATUS", "READY", "UP-TO-DATE", "IMAGES", "1 deployment: 1 Running")
	if strings.Contains(screen, "kubectl deploywatch "+ns) {
		t.Errorf("the table is not on the alternate screen: the command line still shows:\n%s", screen)
	}

	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=4")
	screen = waitPane("web Running 4/4", func(s string) bool {
		r := rowOf(s, "web")
		return len(r) == 1 && strings.Contains(r[0], "Running") && strings.Contains(r[0], "4/4")
	})
	if n := strings.Count(screen, "NAME"); n != 1 {
		t.Errorf("the header shows %d times, want once (redrawn in place):\n%s", n, screen)
	}

	tmux("send-keys", "-t", "e2e", "C-c")
	exited := regexp.MustCompile(`(?m)^exit=\d+`)
	screen = waitPane("the shell back with the exit code", exited.MatchString)
	opsContains(t, "the screen after Ctrl-C", screen, "kubectl deploywatch "+ns, "exit=0")
	if r := rowOf(screen, "web"); len(r) != 1 || !strings.Contains(r[0], "4/4") {
		t.Errorf("the final table is not left on the normal screen:\n%s", screen)
	}
}

// newTmux starts a shell in a tmux terminal of the given size, with the
// plugin on PATH and the shared cluster's kubeconfig. It returns a tmux
// runner, a wait for the screen to satisfy cond, and the rows of a table
// on a screen whose first field is name.
func newTmux(t *testing.T, width, height int) (tmux func(args ...string) string, waitPane func(what string, cond func(string) bool) string, rowOf func(screen, name string) []string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed: .ci/run installs it (apt-get install tmux)")
	}
	pluginDir := testbed.BuildPlugin(t)
	socket := t.TempDir() + "/tmux.sock"
	tmux = func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	shell := fmt.Sprintf("env KUBECONFIG=%s PATH=%s:$PATH TERM=xterm-256color NO_COLOR=1 bash --norc --noprofile",
		testbed.Kubeconfig(), pluginDir)
	tmux("new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", socket, "kill-server").Run() })

	waitPane = func(what string, cond func(string) bool) string {
		t.Helper()
		var last string
		deadline := time.Now().Add(90 * time.Second)
		for {
			last = tmux("capture-pane", "-p", "-t", "e2e")
			if cond(last) {
				return last
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for the pane to show %s; it shows:\n%s", what, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rowOf = func(screen, name string) []string {
		var rows []string
		for _, l := range strings.Split(screen, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				rows = append(rows, l)
			}
		}
		return rows
	}
	return tmux, waitPane, rowOf
}

// TestWatchLiveTableAt80Columns: on an 80-column terminal a Failed row's
// cause shows (its pods cannot be scheduled; STATUS says the deadline
// passed), with its LAST CHANGE, though another row's IMAGES cell is longer
// than the screen; the rows are in name order.
func TestWatchLiveTableAt80Columns(t *testing.T) {
	ns := testbed.NewNamespace(t)
	long := "registry.example.com/a-very-long-team-name/and-a-long-repository-name/web:1.2.3-with-a-long-tag"
	opsDeployment(t, ns, "web", 1, true, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = long })
	deadline := int32(5)
	opsDeployment(t, ns, "api", 1, false, func(d *appsv1.Deployment) {
		d.Spec.ProgressDeadlineSeconds = &deadline
		d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-label": "anywhere"}
	})
	tmux, waitPane, rowOf := newTmux(t, 80, 24)
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns, "Enter")
	screen := waitPane("api Failed", func(s string) bool {
		r := rowOf(s, "api")
		return len(r) == 1 && strings.Contains(r[0], "Failed") && len(rowOf(s, "web")) == 1
	})
	api := rowOf(screen, "api")[0]
	if !strings.Contains(api, "Unschedulable: ") {
		t.Errorf("the Failed row does not show its cause at 80 columns:\n%s", screen)
	}
	header := rowOf(screen, "NAME")
	if len(header) != 1 || !strings.Contains(header[0], "LAST CHANGE") || !strings.Contains(header[0], "MESSAGE") {
		t.Errorf("the header lacks LAST CHANGE or MESSAGE:\n%s", screen)
	}
	if a, w := strings.Index(screen, "\napi "), strings.Index(screen, "\nweb "); a < 0 || w < a {
		t.Errorf("api is not above web:\n%s", screen)
	}
	tmux("send-keys", "-t", "e2e", "C-c")
}
