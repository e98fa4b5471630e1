package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
)

// A detached cluster outlives the process that starts it: the demo's
// (test/testbed/cmd/demo). kwokctl starts every component in a session of
// its own (setsid) with its output in a log file, so the components keep
// running when the starting process, make and the terminal are gone. No
// watchdog or sweep removes a detached cluster; DeleteDetached does. All its
// files are in one directory:
//
//	cluster.json       its name and where the test bed's binaries are
//	kubeconfig         for clients; every server on 127.0.0.1
//	kwok/              kwokctl's work directory: clusters/NAME/ holds pids/, logs/, pki/, etcd/
//	kwokctl.yaml       the configuration it was created with (the Stages included)
//	kwokctl.log        what kwokctl said
const detachedState = "cluster.json"

// placement is where StartDetached puts a cluster.
type placement struct{ dir, name string }

// detachedRecord is cluster.json.
type detachedRecord struct {
	Name string `json:"name"`
	Bin  string `json:"bin"`
}

func detachedCluster(dir, name, bin string) *Cluster {
	root := filepath.Join(dir, "kwok")
	return &Cluster{
		name:       name,
		root:       root,
		bin:        bin,
		workdir:    filepath.Join(root, "clusters", name),
		dir:        dir,
		kubeconfig: filepath.Join(dir, "kubeconfig"),
		nodes:      Nodes,
	}
}

// cluster makes the directory and its record, so that a start that fails
// half-way can be deleted.
func (p *placement) cluster(bin string) (*Cluster, error) {
	c := detachedCluster(p.dir, p.name, bin)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(detachedRecord{Name: p.name, Bin: bin})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.dir, detachedState), raw, 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// StartDetached starts a cluster, named name, whose files are in dir and
// which keeps running after this process ends, until DeleteDetached. Its
// pods meet the same kubelet (Stages, faults included) as the test
// clusters'. dir must not hold a cluster already.
func StartDetached(dir, name string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, detachedState)); err == nil {
		return nil, fmt.Errorf("%s holds a cluster already: delete it first", dir)
	}
	closeInheritedOnExec()
	return newCluster(Options{detached: &placement{dir: dir, name: name}})
}

// closeInheritedOnExec marks every file descriptor above standard error
// close-on-exec, so that the components, which run for hours, hold nothing
// this process inherited: a lock held by whoever ran make (flock(1) passes
// its lock on to the command), make's jobserver pipes. The descriptors Go
// opens itself are close-on-exec already.
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// ErrNotRunning says that a directory holds a detached cluster whose
// components are not all running or which does not answer (its processes
// were killed, the machine restarted): DeleteDetached it and start another.
var ErrNotRunning = errors.New("not running")

// OpenDetached returns the detached cluster in dir, once it is running and
// ready. The error is fs.ErrNotExist when dir holds none, and wraps
// ErrNotRunning when it holds one that does not run.
func OpenDetached(dir string) (*Cluster, error) {
	c, err := readDetached(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		if _, ok := c.ownPID(name); !ok {
			return c, fmt.Errorf("%w: its %s has exited", ErrNotRunning, name)
		}
	}
	rc, err := restConfigOf(c.kubeconfig)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	c.restConfig = rc
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return c, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.waitUntil(ctx, func() error { return c.ready(ctx, cs) }); err != nil {
		return c, fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	return c, nil
}

// DeleteDetached stops the detached cluster in dir, if any, and removes dir.
// It says whether there was anything to remove.
func DeleteDetached(dir string) (bool, error) {
	c, err := readDetached(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// A start interrupted before its record was written leaves at
		// most a directory.
		if _, statErr := os.Stat(dir); statErr != nil {
			return false, nil
		}
		return true, os.RemoveAll(dir)
	}
	if err != nil {
		// An unreadable record: nothing can be stopped by name, but the
		// directory still goes.
		return true, errors.Join(err, os.RemoveAll(dir))
	}
	c.forgetStrangers()
	return true, c.Delete()
}

func readDetached(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, detachedState))
	if err != nil {
		return nil, err
	}
	var rec detachedRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Name == "" || strings.ContainsAny(rec.Name, `/\`) {
		return nil, fmt.Errorf("%s is not a detached cluster's record (%v): remove %s", filepath.Join(dir, detachedState), err, dir)
	}
	return detachedCluster(dir, rec.Name, rec.Bin), nil
}

// ownPID is the pid of a component of this cluster that runs: its pid file
// names a live process whose command line names the cluster's directory
// (after a restart of the machine, the pid may be another program's).
func (c *Cluster) ownPID(name string) (int, bool) {
	raw, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || !alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(c.workdir+"/")) {
		return 0, false
	}
	return pid, true
}

// forgetStrangers removes the pid files that do not name a running
// component of the cluster, so that kwokctl, which kills whatever pid a pid
// file holds, cannot kill another program that has the pid now.
func (c *Cluster) forgetStrangers() {
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		if _, ok := c.ownPID(name); !ok {
			os.Remove(c.pidFile(name))
		}
	}
}

// PIDs are the process ids of the cluster's running components.
func (c *Cluster) PIDs() []int {
	var pids []int
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		if pid, ok := c.ownPID(name); ok {
			pids = append(pids, pid)
		}
	}
	return pids
}
