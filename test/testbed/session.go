package testbed

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Every test process of this user shares one kwokctl work directory, the
// root, so that kwokctl, which picks each component's port as the highest
// free one below 32768, sees the clusters of the other packages. That alone
// did not keep a stopped API server's port from another cluster's component
// (see TestAPIServerPortSurvivesOtherClusters), so the API server's and
// etcd's ports come from the kernel's ephemeral range (Cluster.create).
// Beneath the root:
//
//	clusters/<session>-<n>/   kwokctl's files of one cluster (pids, logs, pki, etcd data)
//	sessions/<session>.lock   locked by the test process (and its watchdog) while it lives
//	sessions/<session>/       the test process's own files: kubeconfigs, kwokctl logs, the plugin
//	.lock                     serializes creating clusters and sweeping stale ones
//
// A session is one test process; its id is unique among live sessions and
// contains no "-", so "clusters/<id>-" names exactly its clusters.
type session struct {
	id   string
	root string
	dir  string

	lock     *os.File // flock'ed for the life of the process
	watchdog *os.File // write end of the watchdog's stdin; closing it (or dying) wakes it

	mu       sync.Mutex
	clusters map[*Cluster]bool
	n        int
}

var (
	sessionMu  sync.Mutex
	theSession *session
)

func rootDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("kubectl-deploywatch-testbed-%d", os.Getuid()))
}

// getSession returns the process's session, starting it (and sweeping what
// dead processes left behind) the first time.
func getSession() (*session, error) {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if theSession != nil {
		return theSession, nil
	}
	s, err := newSession()
	if err != nil {
		return nil, err
	}
	theSession = s
	return s, nil
}

func newSession() (*session, error) {
	root := rootDir()
	for _, d := range []string{root, filepath.Join(root, "clusters"), filepath.Join(root, "sessions")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	unlock, err := lockRoot(root)
	if err != nil {
		return nil, err
	}
	defer unlock()

	sweepStale(root)

	suffix := make([]byte, 3)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	s := &session{
		id:       fmt.Sprintf("dw%d%s", os.Getpid(), hex.EncodeToString(suffix)),
		root:     root,
		clusters: map[*Cluster]bool{},
	}
	s.dir = filepath.Join(root, "sessions", s.id)
	s.lock, err = os.OpenFile(s.dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		s.lock.Close()
		return nil, fmt.Errorf("lock %s: %w", s.lock.Name(), err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		s.close()
		return nil, err
	}
	if err := s.startWatchdog(); err != nil {
		s.close()
		return nil, fmt.Errorf("start the watchdog: %w", err)
	}
	return s, nil
}

// lockRoot takes the root's lock, which serializes creating clusters (kwokctl
// chooses ports by looking at what is free and at the other clusters'
// configs, so two creations at once could choose the same) and sweeping.
func lockRoot(root string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// watchdogScript waits for its stdin to close, which happens when the test
// process exits however it exits, then kills whatever still runs from the
// session's directories (kwokctl starts every component from its cluster's
// directory and names files there in its arguments) and removes them. After a
// normal end the test process has removed them already and the watchdog
// finds nothing to do. The paths come in the environment, not in arguments,
// so that the watchdog does not find itself.
const watchdogScript = `
trap '' INT TERM HUP
while read -r _; do :; done
root=$TESTBED_ROOT id=$TESTBED_SESSION
case $root in */kubectl-deploywatch-testbed-*) ;; *) exit 1 ;; esac
case $id in dw*) ;; *) exit 1 ;; esac
clusters=$root/clusters/$id- own=$root/sessions/$id/
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = "$$" ] && continue
	case $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) in
	*"$clusters"* | *"$own"*) kill -9 "$pid" 2>/dev/null ;;
	esac
done
rm -rf "$clusters"* "$own" "$root/sessions/$id.lock"
`

func (s *session) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript)
	cmd.Stdin = r
	// Holding the session's lock keeps other processes' sweeps away from the
	// session until the watchdog has finished.
	cmd.ExtraFiles = []*os.File{s.lock}
	cmd.Env = append(os.Environ(), "TESTBED_ROOT="+s.root, "TESTBED_SESSION="+s.id)
	// Its own session: Ctrl-C in a terminal reaches the tests, not the watchdog.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	go func() { _ = cmd.Wait() }()
	s.watchdog = w
	return nil
}

// nextName returns a new cluster name of the session.
func (s *session) nextName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("%s-%d", s.id, s.n)
}

func (s *session) add(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[c] = true
}

func (s *session) remove(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clusters, c)
}

func (s *session) live() []*Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*Cluster, 0, len(s.clusters))
	for c := range s.clusters {
		cs = append(cs, c)
	}
	return cs
}

// close removes the session's files and lets the watchdog go.
func (s *session) close() error {
	err := errors.Join(killProcesses(s.patterns(), nil), os.RemoveAll(s.dir))
	if rmErr := os.Remove(s.dir + ".lock"); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	if s.watchdog != nil {
		s.watchdog.Close()
	}
	s.lock.Close()
	return err
}

func (s *session) patterns() []string {
	return sessionPatterns(s.root, s.id)
}

func sessionPatterns(root, id string) []string {
	return []string{
		filepath.Join(root, "clusters", id) + "-",
		filepath.Join(root, "sessions", id) + "/",
	}
}

// teardown deletes every cluster of the process and closes the session. It
// may run twice (a signal arriving as the tests end); the second finds
// nothing left.
func teardown() error {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	s := theSession
	if s == nil {
		return nil
	}
	var errs []error
	for _, c := range s.live() {
		errs = append(errs, c.Delete())
	}
	errs = append(errs, s.close())
	theSession = nil
	return errors.Join(errs...)
}

// sweepStale removes what test processes that died without cleaning up left
// behind: the clusters and files of every session whose lock nobody holds.
// The caller holds the root's lock.
func sweepStale(root string) {
	ids := map[string]bool{}
	if entries, err := os.ReadDir(filepath.Join(root, "sessions")); err == nil {
		for _, e := range entries {
			ids[strings.TrimSuffix(e.Name(), ".lock")] = true
		}
	}
	if entries, err := os.ReadDir(filepath.Join(root, "clusters")); err == nil {
		for _, e := range entries {
			if id, _, ok := strings.Cut(e.Name(), "-"); ok && strings.HasPrefix(id, "dw") {
				ids[id] = true
			}
		}
	}
	for id := range ids {
		if !strings.HasPrefix(id, "dw") || strings.ContainsAny(id, "/-.") {
			continue
		}
		lockPath := filepath.Join(root, "sessions", id+".lock")
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // its owner (or its watchdog) is alive
			continue
		}
		fmt.Fprintf(os.Stderr, "testbed: removing the clusters of dead test process session %s\n", id)
		if err := killProcesses(sessionPatterns(root, id), nil); err != nil {
			fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		}
		if matches, err := filepath.Glob(filepath.Join(root, "clusters", id+"-*")); err == nil {
			for _, m := range matches {
				os.RemoveAll(m)
			}
		}
		os.RemoveAll(filepath.Join(root, "sessions", id))
		os.Remove(lockPath)
		f.Close()
	}
}

// killProcesses SIGKILLs every process whose command line contains one of
// the patterns, and waits until they, and those of known that are exiting,
// are gone. A killed component whose parent has exited is reparented to
// pid 1, which on some machines never reaps it: a zombie counts as gone. It
// looks again until a look finds none (a process that was starting while
// it looked is caught by the next), and reports the processes that still
// run after a minute.
func killProcesses(patterns []string, known []int) error {
	deadline := time.Now().Add(time.Minute)
	waiting := exiting(known)
	for {
		matched := append(killMatching(patterns), waiting...)
		waiting = nil
		if len(matched) == 0 {
			return nil
		}
		for _, pid := range matched {
			waitGone(pid, time.Until(deadline))
		}
		if time.Now().After(deadline) {
			var left []string
			for _, pid := range matched {
				if alive(pid) {
					stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
					left = append(left, fmt.Sprintf("pid %d (%s)", pid, bytes.TrimSpace(stat)))
				}
			}
			if len(left) == 0 {
				return nil
			}
			return fmt.Errorf("still running a minute after SIGKILL: %s", strings.Join(left, "; "))
		}
	}
}

// exiting is those of pids that are exiting. A process that has begun to
// exit has lost its command line (its memory is gone) but is not a zombie
// yet, so killMatching, which finds processes by their command lines, does
// not see it: CI saw a kube-apiserver in that state after make demo-down
// had returned. A pid whose command line is not empty is another
// program's by now, or is found by its command line.
func exiting(pids []int) []int {
	var out []int
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && len(cmdline) == 0 && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// killMatching SIGKILLs the live processes whose command line contains one
// of the patterns, and returns their pids.
func killMatching(patterns []string) []int {
	self := os.Getpid()
	var killed []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !alive(pid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, p := range patterns {
			if bytes.Contains(cmdline, []byte(p)) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed = append(killed, pid)
				}
				break
			}
		}
	}
	return killed
}

// waitGone waits until the process has exited (or is a zombie).
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive says whether the process exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}
