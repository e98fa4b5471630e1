package testbed_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// helperEnv makes the test binary a helper process that starts a cluster and
// then ends the way the variable says, for the teardown tests.
const helperEnv = "TESTBED_HELPER"

func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }

func TestSharedCluster(t *testing.T) {
	ns := testbed.NewNamespace(t)
	if !strings.HasPrefix(ns, "testsharedcluster-") {
		t.Errorf("namespace %q is not named after the test", ns)
	}
	out := testbed.Kubectl(t, "get", "namespace", ns, "-o", "name")
	if strings.TrimSpace(out) != "namespace/"+ns {
		t.Errorf("kubectl get namespace: %q", out)
	}
	_, stderr, err := testbed.KubectlErr("get", "deployment", "missing", "-n", ns)
	if err == nil || !strings.Contains(stderr, "not found") {
		t.Errorf("kubectl get deployment missing: err %v, stderr %q; want a NotFound failure", err, stderr)
	}
	nodes, err := testbed.Clientset(t).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != testbed.Nodes {
		t.Errorf("nodes: %d, %v; want %d", len(nodes.Items), err, testbed.Nodes)
	}
	// The client of `kubectl deploywatch` is the one on the test's PATH.
	raw, err := os.ReadFile(testbed.Kubeconfig())
	if err != nil || !bytes.Contains(raw, []byte("server: https://127.0.0.1:")) {
		t.Errorf("kubeconfig does not point at 127.0.0.1: %v\n%s", err, raw)
	}
	stdout, stderr, err := testbed.Etcdctl("endpoint", "health")
	if err != nil || !strings.Contains(stdout+stderr, "is healthy") {
		t.Errorf("etcdctl endpoint health: %v\n%s%s", err, stdout, stderr)
	}
}

func TestBuildPlugin(t *testing.T) {
	skipIfShort(t)
	dir := testbed.BuildPlugin(t)
	if fi, err := os.Stat(filepath.Join(dir, "kubectl-deploywatch")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable kubectl-deploywatch in %s: %v", dir, err)
	}
	if again := testbed.BuildPlugin(t); again != dir {
		t.Errorf("second BuildPlugin returned %s, want %s", again, dir)
	}
	// kubectl finds the plugin on the PATH Kubectl gives it.
	if out := testbed.Kubectl(t, "deploywatch", "version"); strings.TrimSpace(out) == "" {
		t.Error("kubectl deploywatch version printed nothing")
	}
}

// TestListenOnLoopbackOnly checks that no component of the cluster listens
// beyond 127.0.0.1 (kwokctl binds etcd to 0.0.0.0 unless told otherwise).
func TestListenOnLoopbackOnly(t *testing.T) {
	skipIfShort(t)
	c := testbed.Shared()
	pids := map[string]bool{}
	for _, name := range []string{testbed.Etcd, testbed.APIServer, testbed.ControllerManager, testbed.Scheduler, testbed.KwokController} {
		pid, err := c.ComponentPID(name)
		if err != nil {
			t.Fatal(err)
		}
		pids[strconv.Itoa(pid)] = true
	}
	// Map each listening socket's inode to its address, then look at the
	// components' open sockets.
	listening := map[string]string{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" { // LISTEN
				listening[f[9]] = f[1]
			}
		}
	}
	for pid := range pids {
		fds, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			inode := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			if addr, ok := listening[inode]; ok && !strings.HasPrefix(addr, "0100007F:") {
				t.Errorf("pid %s listens on %s, not 127.0.0.1", pid, addr)
			}
		}
	}
}

func TestStopAndStartAPIServer(t *testing.T) {
	skipIfShort(t)
	c := testbed.Start(t)
	cs := c.Clientset(t)
	ctx := context.Background()
	before, err := c.ComponentPID(testbed.APIServer)
	if err != nil {
		t.Fatal(err)
	}

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ComponentPID(testbed.APIServer); err == nil {
		t.Error("ComponentPID finds the API server after StopAPIServer")
	}
	_, err = cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("request to a stopped API server: %v; want connection refused", err)
	}

	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	after, err := c.ComponentPID(testbed.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Errorf("API server pid %d unchanged by the restart", after)
	}
	// The same client, on the same address, works again.
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("request after StartAPIServer: %v", err)
	}

	if err := c.RestartComponent(testbed.Etcd); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("request after restarting etcd: %v", err)
	}
}

// TestAPIServerPortSurvivesOtherClusters: a cluster created while another's
// API server is stopped does not take its port, so the API server starts
// again (kwokctl alone hands out the first free port below 32768: the one
// just freed).
func TestAPIServerPortSurvivesOtherClusters(t *testing.T) {
	skipIfShort(t)
	c := testbed.Start(t)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	other := testbed.Start(t)
	if c.RESTConfig().Host == other.RESTConfig().Host {
		t.Fatalf("a cluster created while the API server was stopped took its address %s", c.RESTConfig().Host)
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Clientset(t).CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Errorf("request after StartAPIServer: %v", err)
	}
}

// TestStartWithAPIServerArgs: extra flags reach kube-apiserver, and survive
// a restart of it; those of kube-controller-manager reach it too.
func TestStartWithAPIServerArgs(t *testing.T) {
	skipIfShort(t)
	c := testbed.StartWith(t, testbed.Options{APIServerArgs: map[string]string{"watch-cache-sizes": "deployments.apps#0"},
		ControllerManagerArgs: map[string]string{"kube-api-qps": "500"}})
	cmdline := func() string { t.Helper(); return cmdlineOf(t, c, testbed.APIServer) }
	if got, want := cmdlineOf(t, c, testbed.ControllerManager), "--kube-api-qps=500"; !strings.Contains(got, want) {
		t.Errorf("kube-controller-manager runs without %s: %s", want, got)
	}
	const want = "--watch-cache-sizes=deployments.apps#0"
	if got := cmdline(); !strings.Contains(got, want) {
		t.Fatalf("kube-apiserver runs without %s: %s", want, got)
	}
	if err := c.RestartComponent(testbed.APIServer); err != nil {
		t.Fatal(err)
	}
	if got := cmdline(); !strings.Contains(got, want) {
		t.Errorf("after a restart, kube-apiserver runs without %s: %s", want, got)
	}
}

// cmdlineOf is the command line of a component of c, its arguments
// separated by spaces.
func cmdlineOf(t *testing.T, c *testbed.Cluster, component string) string {
	t.Helper()
	pid, err := c.ComponentPID(component)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(raw), "\x00", " ")
}

// TestTeardown ends a process that has a cluster in each way a test process
// can end, and checks that nothing of the cluster is left.
func TestTeardown(t *testing.T) {
	skipIfShort(t)
	for _, tc := range []struct {
		name string
		mode string
		args []string
		end  func(t *testing.T, p *os.Process)
		// synchronous: the process deletes the cluster before it exits,
		// rather than leaving it to its watchdog.
		synchronous bool
	}{
		{name: "tests pass", mode: "pass", synchronous: true},
		{name: "test panics", mode: "panic"},
		{name: "go test -timeout", mode: "wait", args: []string{"-test.timeout=2s"}},
		{name: "SIGINT", mode: "wait", end: signal(syscall.SIGINT), synchronous: true},
		{name: "SIGTERM", mode: "wait", end: signal(syscall.SIGTERM), synchronous: true},
		{name: "SIGKILL", mode: "wait", end: signal(syscall.SIGKILL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHelper(t, tc.mode, tc.args...)
			if !alive(h.workdir) {
				t.Fatalf("no process runs from %s", h.workdir)
			}
			if tc.end != nil {
				tc.end(t, h.cmd.Process)
			}
			h.wait(t)
			if tc.synchronous {
				if alive(h.workdir) || exists(h.workdir) {
					t.Errorf("cluster %s left behind on exit", h.workdir)
				}
			}
			waitDeleted(t, h.workdir)
		})
	}

	t.Run("owner and watchdog SIGKILLed", func(t *testing.T) {
		h := startHelper(t, "wait")
		for _, pid := range watchdogs(h.session) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		signal(syscall.SIGKILL)(t, h.cmd.Process)
		h.wait(t)
		time.Sleep(time.Second) // give a watchdog, if one survived, time to act
		if !alive(h.workdir) {
			t.Fatal("the cluster is gone though its watchdog was killed; this test proves nothing")
		}
		// The next process to start a session sweeps the orphan away.
		next := startHelper(t, "pass")
		next.wait(t)
		if alive(h.workdir) || exists(h.workdir) {
			t.Errorf("orphaned cluster %s not removed by the next test process", h.workdir)
		}
	})
}

// TestHelperProcess is the helper process of TestTeardown.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process of TestTeardown")
	}
	c := testbed.Shared()
	fmt.Printf("workdir=%s\nname=%s\n", c.Workdir(), c.Name())
	switch mode {
	case "panic":
		panic("helper panics")
	case "wait":
		time.Sleep(time.Minute)
	}
}

func skipIfShort(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a cluster; skipped with -short")
	}
}

type helper struct {
	cmd     *exec.Cmd
	workdir string
	session string
	done    chan error
}

func startHelper(t *testing.T, mode string, args ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperProcess$"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, done: make(chan error, 1)}
	sc := bufio.NewScanner(stdout)
	for (h.workdir == "" || h.session == "") && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "workdir="); ok {
			h.workdir = v
		}
		if v, ok := strings.CutPrefix(sc.Text(), "name="); ok {
			h.session, _, _ = strings.Cut(v, "-")
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		h.done <- cmd.Wait()
	}()
	if h.workdir == "" {
		err := <-h.done
		t.Fatalf("helper %s printed no workdir: %v\n%s", mode, err, stderr.String())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return h
}

func (h *helper) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-h.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		t.Logf("helper exited: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("helper still runs after 2 minutes")
	}
}

func signal(sig syscall.Signal) func(*testing.T, *os.Process) {
	return func(t *testing.T, p *os.Process) {
		if err := p.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
}

// waitDeleted waits until no process runs from workdir and workdir is gone.
func waitDeleted(t *testing.T, workdir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for alive(workdir) || exists(workdir) {
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s left behind: processes %v, directory exists %v", workdir, alive(workdir), exists(workdir))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive says whether a process runs whose command line names a file in dir.
func alive(dir string) bool {
	return len(processes(func(pid string) bool {
		cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		return err == nil && bytes.Contains(cmdline, []byte(dir+"/"))
	})) > 0
}

// watchdogs returns the watchdog processes of a session.
func watchdogs(session string) []int {
	return processes(func(pid string) bool {
		environ, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
		return err == nil && bytes.Contains(environ, []byte("TESTBED_SESSION="+session+"\x00"))
	})
}

func processes(match func(pid string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		if match(e.Name()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
