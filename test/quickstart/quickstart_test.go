// Package quickstart tests a newcomer's first ten minutes, from the
// module's root as the README says: `make demo`, `kubectl deploywatch demo`
// against it and `make demo-down`; and `make install`. The demo starts a
// cluster from the test bed's cached binaries (make testbed builds them).
package quickstart

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// moduleRoot is the checkout the tests run in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod two levels above the test: %v", err)
	}
	return root
}

// env is the test's environment with changes (KEY=value) and without
// the make variables of a make that may run the tests: the make run here
// is a user's own.
func env(changes ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES":
			continue
		}
		if slices.ContainsFunc(changes, func(c string) bool { return strings.HasPrefix(c, k+"=") }) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, changes...)
}

// run runs a command and returns what it printed, stdout then stderr; the
// test fails when it fails. The first make install compiles every
// dependency: about 8 minutes on 2 cores, more on a busy machine.
func run(t *testing.T, dir string, environ []string, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	return runWith(t, dir, environ, nil, name, args...)
}

// runWith is run with more open files, the child's 3, 4, ...
func runWith(t *testing.T, dir string, environ []string, files []*os.File, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env, cmd.ExtraFiles = dir, environ, files
	cmd.WaitDelay = 10 * time.Second // make's children may keep its output open
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// situations are the demo's Deployments and what `kubectl deploywatch demo`
// says of each: its status and the words of its cause (any one of a list).
var situations = []struct {
	name   string
	status string
	cause  [][]string
}{
	{"web", "Running", nil},
	{"api", "Progressing", nil},
	{"cart", "Failing", [][]string{{"ImagePullBackOff", "ErrImagePull"}, {"not found"}}},
	{"worker", "Failing", [][]string{{"CrashLoopBackOff"}}},
	{"trainer", "Failing", [][]string{{"Unschedulable", "FailedScheduling"}}},
	{"reports", "Failing", [][]string{{"FailedCreate"}, {"exceeded quota"}}},
	{"checkout", "Progressing", [][]string{{"checkout: 0 of 1 endpoint ready since"}}},
}

// TestMakeDemo: make demo leaves a cluster running after make has ended
// (its components in sessions of their own, so a closed terminal does not
// end them either, and holding none of make's open files, such as the lock
// of a flock(1) that runs make) and prints the KUBECONFIG to export and
// what to try;
// kubectl deploywatch demo then shows every situation with its cause; make
// demo again reuses the cluster and says so, or, once a component has
// exited, says so and starts a new one; make demo-down stops every
// component and removes the directory, and again finds nothing to remove.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: make demo starts a cluster")
	}
	root := moduleRoot(t)
	dir := filepath.Join(t.TempDir(), "demo")
	makeVar := "DEMO_DIR=" + dir
	t.Cleanup(func() {
		// Should the test end early: the cluster must not outlive it.
		if _, err := os.Stat(dir); err == nil {
			cmd := exec.Command("make", "--no-print-directory", "demo-down", makeVar)
			cmd.Dir, cmd.Env = root, env()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("make demo-down: %v\n%s", err, out)
			}
		}
	})
	plugin := testbed.BuildPlugin(t) // before the clock starts

	held, err := os.Create(filepath.Join(t.TempDir(), "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if !holds(os.Getpid(), held.Name()) {
		t.Fatalf("holds does not see that this process has %s open", held.Name())
	}

	start := time.Now()
	stdout, stderr := runWith(t, root, env(), []*os.File{held}, "make", "--no-print-directory", "demo", makeVar)
	t.Logf("make demo took %s:\n%s%s", time.Since(start).Round(100*time.Millisecond), stderr, stdout)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	for _, want := range []string{
		"export KUBECONFIG=" + kubeconfig + "\n",
		"kubectl deploywatch demo ",
		"kubectl deploywatch serve ",
		"kubectl deploywatch undo cart -n demo --wait ",
		"make demo-down",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("make demo did not print %q", want)
		}
	}
	for _, s := range situations {
		if !regexp.MustCompile(`(?m)^  ` + s.name + ` +\S`).MatchString(stdout) {
			t.Errorf("make demo did not list %s", s.name)
		}
	}

	c, err := testbed.OpenDetached(dir)
	if err != nil {
		t.Fatalf("after make demo ended: %v", err)
	}
	pids := c.PIDs()
	if len(pids) != 5 {
		t.Fatalf("%d components run after make demo ended (pids %v), want 5", len(pids), pids)
	}
	for _, pid := range pids {
		if sid, err := sessionOf(pid); err != nil || sid != pid {
			t.Errorf("component pid %d is in session %d (%v), not one of its own: a closed terminal would end it", pid, sid, err)
		}
		if holds(pid, held.Name()) {
			t.Errorf("component pid %d holds %s, which make had open", pid, held.Name())
		}
	}

	watchDemo(t, env("KUBECONFIG="+kubeconfig, "PATH="+plugin+string(os.PathListSeparator)+os.Getenv("PATH")))

	start = time.Now()
	stdout, stderr = run(t, root, env(), "make", "--no-print-directory", "demo", makeVar)
	t.Logf("make demo again took %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(stderr, "is running: reusing it") || !strings.Contains(stdout, "export KUBECONFIG="+kubeconfig+"\n") {
		t.Errorf("make demo again did not say it reuses the cluster:\n%s%s", stderr, stdout)
	}
	if again := c.PIDs(); !slices.Equal(again, pids) {
		t.Errorf("make demo again: components %v, want the same as before, %v", again, pids)
	}

	// A component gone (killed, or the machine restarted): a new cluster.
	scheduler, err := c.ComponentPID(testbed.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(scheduler, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, stderr = run(t, root, env(), "make", "--no-print-directory", "demo", makeVar)
	if !strings.Contains(stderr, "is not running: its kube-scheduler has exited; removing it and starting a new one") {
		t.Errorf("make demo after the scheduler was killed said:\n%s", stderr)
	}
	if c, err = testbed.OpenDetached(dir); err != nil {
		t.Fatalf("after make demo started a new cluster: %v", err)
	}
	old := pids
	if pids = c.PIDs(); len(pids) != 5 || slices.ContainsFunc(old, running) {
		t.Errorf("after make demo started a new cluster: components %v (the old ones %v, running: %v)",
			pids, old, slices.DeleteFunc(slices.Clone(old), func(pid int) bool { return !running(pid) }))
	}

	_, stderr = run(t, root, env(), "make", "--no-print-directory", "demo-down", makeVar)
	if !strings.Contains(stderr, "removed "+dir) {
		t.Errorf("make demo-down said %q", stderr)
	}
	for _, pid := range pids {
		if running(pid) {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("component pid %d runs after make demo-down: stat %q, command line %q", pid, stat, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there after make demo-down (%v)", dir, err)
	}
	_, stderr = run(t, root, env(), "make", "--no-print-directory", "demo-down", makeVar)
	if !strings.Contains(stderr, "nothing to remove") {
		t.Errorf("make demo-down again said %q", stderr)
	}
}

// watchDemo runs `kubectl deploywatch demo`, piped, until it has shown
// every situation with its status and cause.
func watchDemo(t *testing.T, environ []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "deploywatch", "demo")
	cmd.Env = environ
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
	)
	shown := map[string]string{} // situation: the row that shows it
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			lines = append(lines, line)
			for _, s := range situations {
				if _, ok := shown[s.name]; !ok && showsSituation(line, s.name, s.status, s.cause) {
					shown[s.name] = line
				}
			}
			all := len(shown) == len(situations)
			mu.Unlock()
			if all {
				cancel()
				return
			}
		}
	}()
	<-done
	cancel()
	_ = cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, s := range situations {
		if row, ok := shown[s.name]; ok {
			t.Logf("%s: %s", s.name, row)
		} else {
			t.Errorf("kubectl deploywatch demo did not show %s as %s with %v", s.name, s.status, s.cause)
		}
	}
	if t.Failed() {
		t.Logf("it printed:\n%s\nstderr:\n%s", strings.Join(lines, "\n"), errOut.String())
	}
}

// showsSituation says whether a row of the table is Deployment name's, with
// the status and a word of each of cause's lists.
func showsSituation(line, name, status string, cause [][]string) bool {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != name || !slices.Contains(f, status) {
		return false
	}
	for _, words := range cause {
		if !slices.ContainsFunc(words, func(w string) bool { return strings.Contains(line, w) }) {
			return false
		}
	}
	return true
}

// sessionOf is the session id of a process, from /proc/PID/stat.
func sessionOf(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// After the command name, in parentheses: state, ppid, pgrp, session.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 4 {
		return 0, fmt.Errorf("cannot read /proc/%d/stat: %q", pid, stat)
	}
	return strconv.Atoi(f[3])
}

// holds says whether the process has the file open.
func holds(pid int, path string) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// running says whether the process exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// TestMakeInstall: make install puts a static binary (no interpreter, no
// dynamic section, no dynamic symbols), built as the release is (cgo off,
// -trimpath), and the completion script into BINDIR; kubectl finds the
// plugin there and runs it.
func TestMakeInstall(t *testing.T) {
	root := moduleRoot(t)
	bindir := t.TempDir()
	start := time.Now()
	run(t, root, env(), "make", "--no-print-directory", "install", "BINDIR="+bindir)
	t.Logf("make install took %s", time.Since(start).Round(100*time.Millisecond))

	bin := filepath.Join(bindir, "kubectl-deploywatch")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %s program header: it is dynamically linked", bin, p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", bin)
	}
	if syms, err := f.DynamicSymbols(); len(syms) > 0 {
		t.Errorf("%s exports %d dynamic symbols (%v)", bin, len(syms), err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("built with CGO_ENABLED=%q -trimpath=%q, want 0 and true, as the release", settings["CGO_ENABLED"], settings["-trimpath"])
	}
	if fi, err := os.Stat(filepath.Join(bindir, "kubectl_complete-deploywatch")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("kubectl_complete-deploywatch is not installed as an executable: %v", err)
	}

	// Only BINDIR and kubectl's own directory on PATH.
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + bindir + string(os.PathListSeparator) + filepath.Dir(kubectl)
	viaKubectl, _ := run(t, "", env(path), "kubectl", "deploywatch", "version")
	direct, _ := run(t, "", env(path), bin, "version")
	if !strings.HasPrefix(viaKubectl, "kubectl-deploywatch v") || !strings.Contains(viaKubectl, "linux/") || viaKubectl != direct {
		t.Errorf("kubectl deploywatch version printed %q; the binary itself %q", viaKubectl, direct)
	}
}
