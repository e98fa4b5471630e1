package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// k9sVersion is the k9s the live table is compared with: a peer for this
// benchmark only, built from the Go module proxy outside the plugin's
// go.mod and cached, never a dependency.
const k9sVersion = "v0.50.16"

// benchLiveTable: the live table on a terminal (tmux, 200x50) with 10,000
// Deployments in 100 namespaces, idle and then with 10 scales a second: the
// CPU `kubectl deploywatch -A` uses, beside k9s's Deployments view of the
// same cluster. Each runs alone, one after the other, on the same cluster.
func benchLiveTable(t *testing.T, r *report) {
	namespaces, perNS := pick(100, 10), 100
	total := namespaces * perNS
	window := pick(30*time.Second, 10*time.Second)
	c := testbed.Start(t)
	config := c.RESTConfig()
	config.QPS, config.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	oneInTen := func(i int) int32 {
		if i%10 == 0 {
			return 1
		}
		return 0
	}
	created := createMany(t, cs, "live", namespaces, perNS, oneInTen)
	testbed.BuildPlugin(t)

	sec := section{
		title: fmt.Sprintf("9. Live table: %d Deployments in %d namespaces on a 200x50 terminal (tmux), CPU over %v idle and %v of 10 scales a second", total, namespaces, window, window),
		head:  []string{"client", "start to the full count on screen", "CPU idle", "CPU with 10 scales/s", "RSS then", "the test's own CPU (the scales)", "kube-apiserver CPU"},
	}
	apiPID, _ := c.ComponentPID(testbed.APIServer)
	measure := func(name, command string) {
		pid, started, shown, screen, stop := startInTmux(t, c, command, total)
		defer stop() // the next client runs alone
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		t.Logf("%s: the pane's pid %d is %s", name, pid, strings.TrimSpace(string(comm)))
		time.Sleep(5 * time.Second) // the first redraws and the informers' last events settle
		idle := cpuOver(pid, window, nil)
		self, api := cpuTime(os.Getpid()), cpuTime(apiPID)
		before := firstLine(screen())
		busy := cpuOver(pid, window, func(stop <-chan struct{}) { scaleLoop(t, cs, namespaces, perNS, stop) })
		// The title (deploywatch's counts per status) shows the scales arrived.
		t.Logf("%s: the first line before the scales: %s; after: %s", name, before, firstLine(screen()))
		self, api = cpuTime(os.Getpid())-self, cpuTime(apiPID)-api
		sec.rows = append(sec.rows, []string{name, ms(shown.Sub(started)), cores(idle, window), cores(busy, window),
			mb(procStatus(pid, "VmRSS")), cores(self, window), cores(api, window)})
	}
	measure("kubectl deploywatch -A", "exec kubectl deploywatch -A")

	// k9s after deploywatch: its first build takes minutes.
	var note string
	if k9s, err := k9sBinary(t); err != nil {
		note = fmt.Sprintf("k9s could not be had (%v): deploywatch is measured alone.", err)
	} else {
		home := t.TempDir()
		cfg := filepath.Join(home, "config", "k9s")
		if err := os.MkdirAll(cfg, 0o755); err != nil {
			t.Fatal(err)
		}
		// No check for a newer release (no network here), no splash.
		if err := os.WriteFile(filepath.Join(cfg, "config.yaml"), []byte("k9s:\n  skipLatestRevCheck: true\n  ui:\n    splashless: true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		measure("k9s "+k9sVersion+" -A -c deploy --readonly",
			fmt.Sprintf("XDG_CONFIG_HOME=%s/config XDG_STATE_HOME=%s/state XDG_DATA_HOME=%s/data XDG_CACHE_HOME=%s/cache exec %s -A -c deploy --readonly",
				home, home, home, home, k9s))
	}
	sec.notes = append(sec.notes, fmt.Sprintf("A cluster of the benchmark's own; the Deployments (1 in 10 with a pod) were created in %v. "+
		"Each client runs alone in its own tmux session of 200x50 (the tmux server's own CPU is not counted); CPU is the client's user+system time over the window, in cores. "+
		"The scales (10 a second, spread over every namespace, each Deployment toggled between its replica counts) come from the test process, whose CPU is shown, as is the API server's: "+
		"all share the machine's 2 cores with whatever else runs (load average in the header). "+
		"deploywatch reads the diagnosis's ReplicaSets, Pods and Events too; k9s's Deployments view reads Deployments (and refreshes every 2 s by default). %s", created.Round(time.Second), note))
	r.add(sec)
}

// createMany makes namespaces PREFIX-000... of perNS Deployments each
// (app-0000...), the i-th with replicasOf(i) replicas, with 32 clients in
// parallel, and returns how long that took.
func createMany(t *testing.T, cs kubernetes.Interface, prefix string, namespaces, perNS int, replicasOf func(i int) int32) time.Duration {
	ctx := context.Background()
	t0 := time.Now()
	for i := range namespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%03d", prefix, i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inParallel(t, 32, 0, namespaces*perNS, "Deployment creates", func(i int) error {
		d := testutil.Deployment(fmt.Sprintf("app-%04d", i%perNS), testutil.Replicas(replicasOf(i)))
		_, err := cs.AppsV1().Deployments(fmt.Sprintf("%s-%03d", prefix, i/perNS)).Create(ctx, d, metav1.CreateOptions{})
		return err
	})
	return time.Since(t0)
}

// scaleLoop scales a random Deployment every 100 ms, between 0 and 1
// replicas (2 and 1 for those with a pod), until stop.
func scaleLoop(t *testing.T, cs kubernetes.Interface, namespaces, perNS int, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	replicas := map[int]int32{}
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		i := rand.IntN(namespaces * perNS)
		base := int32(0)
		if i%10 == 0 {
			base = 1
		}
		if replicas[i] == base+1 {
			replicas[i] = base
		} else {
			replicas[i] = base + 1
		}
		ns, name := fmt.Sprintf("live-%03d", i/perNS), fmt.Sprintf("app-%04d", i%perNS)
		// Not scale(): this runs beside the test's goroutine, where only
		// Errorf may be called.
		if _, err := cs.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       autoscalingv1.ScaleSpec{Replicas: replicas[i]},
		}, metav1.UpdateOptions{}); err != nil {
			t.Errorf("scale %s/%s: %v", ns, name, err)
		}
	}
}

// cpuOver is the CPU time pid uses over window, while load (if any) runs.
func cpuOver(pid int, window time.Duration, load func(stop <-chan struct{})) time.Duration {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if load != nil {
			load(stop)
		}
	}()
	before := cpuTime(pid)
	time.Sleep(window)
	used := cpuTime(pid) - before
	close(stop)
	<-done
	return used
}

func cores(cpu, window time.Duration) string {
	return fmt.Sprintf("%.2f", cpu.Seconds()/window.Seconds())
}

// startInTmux runs command alone in a new tmux session of 200x50 against
// the cluster and waits until its screen counts total (deploywatch's
// title, k9s's "[total]"). It returns the command's pid (the pane's: the
// command is exec'ed, and kubectl execs the plugin), when it started, when
// the count showed, the screen, and a stop that ends the session.
func startInTmux(t *testing.T, c *testbed.Cluster, command string, total int) (pid int, started, shown time.Time, screen func() string, stop func()) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var env []string
	for _, kv := range c.Env() {
		if k, _, _ := strings.Cut(kv, "="); k == "KUBECONFIG" || k == "PATH" || k == "KUBECACHEDIR" {
			env = append(env, kv)
		}
	}
	started = time.Now()
	tmux("new-session", "-d", "-s", "bench", "-x", "200", "-y", "50",
		"env "+strings.Join(env, " ")+" TERM=xterm-256color sh -c '"+command+"'")
	stop = func() { _ = exec.Command("tmux", "-S", socket, "kill-server").Run() }
	t.Cleanup(stop)
	pid, err := strconv.Atoi(strings.TrimSpace(tmux("display-message", "-p", "-t", "bench", "#{pane_pid}")))
	if err != nil {
		t.Fatal(err)
	}
	// k9s writes 10,000 with a comma.
	count := []string{fmt.Sprintf("%d deployments", total), fmt.Sprintf("[%d]", total), fmt.Sprintf("[%d,%03d]", total/1000, total%1000)}
	testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%q to show %d Deployments", command, total), func() bool {
		time.Sleep(100 * time.Millisecond)
		screen := tmux("capture-pane", "-p", "-t", "bench")
		return slices.ContainsFunc(count, func(c string) bool { return strings.Contains(screen, c) })
	})
	screen = func() string { return tmux("capture-pane", "-p", "-t", "bench") }
	return pid, started, time.Now(), screen, stop
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// k9sBinary returns k9s, from $BENCH_K9S or built once into the test bed's
// cache with `go install` outside any module.
func k9sBinary(t *testing.T) (string, error) {
	if p := os.Getenv("BENCH_K9S"); p != "" {
		_, err := os.Stat(p)
		return p, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "kubectl-deploywatch", "k9s-"+k9sVersion)
	bin := filepath.Join(dir, "k9s")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	t.Logf("building k9s %s from the Go module proxy into %s (minutes, once)", k9sVersion, dir)
	cmd := exec.Command("go", "install", "github.com/derailed/k9s@"+k9sVersion)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install github.com/derailed/k9s@%s: %v: %s", k9sVersion, err, out)
	}
	return bin, nil
}
