// Package testbed gives end-to-end tests a real Kubernetes control plane:
// kube-apiserver, etcd, kube-controller-manager and kube-scheduler run as
// local processes (kwokctl's binary runtime, binaries built by build.sh) and
// kwok plays the kubelet of two fake nodes, so Deployments roll out, Pods
// become Ready and `kubectl rollout status` completes, without containers and
// with every port on 127.0.0.1.
//
// A test package shares one cluster, created before its tests run:
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		ns := testbed.NewNamespace(t)
//		testbed.Kubectl(t, "-n", ns, "get", "deployments")
//	}
//
// A test that breaks its cluster on purpose (kills the API server, compacts
// etcd) should take one of its own with Start, so it does not disturb the
// other tests of its package.
//
// Clusters are always torn down. Main deletes them when the tests end and
// when the process gets SIGINT, SIGTERM or SIGHUP; Start's clusters are
// deleted in t.Cleanup, which also runs when the test fails or panics. For
// every way the process can die without running its own code (a panic in a
// test, `go test -timeout`, SIGKILL), a watchdog process started with the
// first cluster notices that the test process is gone (its stdin, a pipe from
// the test process, reaches end of file) and kills the cluster's processes
// and removes its files. Should even the watchdog be killed, the next test
// process to start a cluster removes what is left: each test process holds a
// lock while it lives, and clusters whose owner's lock is free are stale.
//
// A cluster that does not come up (kwokctl fails, a component exits, say one
// whose port was taken between choosing and binding it, or the nodes are not
// Ready in 4 minutes) is deleted and started once more with a new workdir and
// new ports; the error of each attempt ends with the logs of every component,
// kwok-controller (which makes the nodes Ready) included.
//
// # Kubelet failures
//
// kwok plays the kubelet, through Stages (stages.go). Besides kwok's default
// pod stages, which every ordinary pod still goes through (Running and Ready
// at once), each cluster has Stages that make a pod fail the way a real
// kubelet (v1.37) reports it. A pod fails when its template carries
// FaultLabel with one of the Fault values, or when its first container's
// image is FaultImage(fault) (FaultImageTag for a second broken
// image), so a plain `set-image web=<FaultImage(FaultImagePull)>` breaks a
// rollout the way a bad tag does. The first container fails (the first init
// container for FaultInitCrash, which its image chooses too, and which needs
// one); other containers run and are ready. The pod's restartPolicy is not
// looked at: containers restart as under Always. An evicted pod of a
// ReplicaSet is replaced, and the new one is evicted too, as under lasting
// memory pressure.
//
//	fault          first container (pod)                                        Warning events
//	image-pull     waiting ErrImagePull <-> ImagePullBackOff (Pending)          Failed "Failed to pull image "I": rpc error: code = NotFound ...: not found" (*), Failed "Error: ErrImagePull" (**), Failed "Error: ImagePullBackOff"
//	invalid-image  waiting InvalidImageName (Pending)                           InspectFailed "Failed to apply default image tag ..." (*), Failed "Error: InvalidImageName"
//	crash-loop     running (not ready), terminated Error 1, running, waiting    BackOff "Back-off restarting failed container" (***)
//	               CrashLoopBackOff "back-off 10s restarting failed container=C pod=P_NS(UID)",
//	               restartCount 1, 2, ... and lastState.terminated (Running)
//	oom-killed     as crash-loop, OOMKilled and exit code 137                   BackOff (***)
//	config-error   waiting CreateContainerConfigError `configmap "app-config"   Failed `Error: configmap "app-config" not found`
//	               not found` (Pending)
//	run-error      waiting RunContainerError (runc's "exec: "/app/server":      Failed "Error: <runc's message>", BackOff (***)
//	               ... no such file or directory"), lastState.terminated
//	               StartError 128, then CrashLoopBackOff (Running)
//	init-crash     first init container as crash-loop, the others and every     BackOff (***)
//	               app container waiting PodInitializing; Initialized False
//	               (Pending)
//	not-ready      running, started, never ready (Running)                      Unhealthy "Readiness probe failed: HTTP probe failed with statuscode: 503"
//	evicted        Running and Ready, then phase Failed, reason Evicted, every   Evicted "The node was low on resource: memory. ..."
//	               container terminated 137, DisruptionTarget True
//	slow-pull      waiting ContainerCreating about 8 s, then Running and Ready   (Normal Pulling, Pulled (*))
//	pull-then-run  ErrImagePull <-> ImagePullBackOff about 8 s, then Running     as image-pull, then (Normal Pulled (*))
//	               and Ready
//
// While a container is not ready the pod's Ready and ContainersReady
// conditions are False with reason ContainersNotReady and the kubelet's
// message ("containers with unready status: [web]"); PodReadyToStartContainers
// is True, and the pod has its IP and start time. Status messages are the
// kubelet's and the runtime's exact words, with the pod's own names and image
// (checked against k8s.io/kubernetes v1.37.2: pkg/kubelet/images
// (image_manager.go, types.go), pkg/kubelet/kuberuntime (kuberuntime_container.go
// startContainer, kuberuntime_manager.go doBackOff), pkg/kubelet/events,
// pkg/kubelet/kubelet_pods.go (getPhase, env from ConfigMaps),
// pkg/kubelet/status/generate.go, pkg/kubelet/prober, pkg/kubelet/eviction).
// The differences from a real kubelet, all from kwok v0.7.0:
//
//   - (*) kwok records a Stage's event message verbatim, without a template,
//     so a message naming the image is only made for the fault images
//     (FaultImageTag's tags); (**) a pod failing by FaultLabel gets the
//     kubelet's other event for the same moment, which names no image.
//   - (***) for the same reason the BackOff event stops where the kubelet's
//     goes on with the container and pod (" web in pod web-1_ns(uid)").
//   - A Stage records one event per state change; the kubelet records
//     several (Pulling before Failed, Created and Started, repeated probe
//     failures), so counts are lower. Events come from component
//     "kwok_controller", not "kubelet", and carry no fieldPath.
//   - Time runs faster: back-offs take 2 to 3 s while the messages name the
//     kubelet's (10s, 20s, ... 5m0s), so restartCount grows quicker.
//   - A crash-looping container is not ready even while it runs, as one with
//     a readiness probe that fails before its first success.
//   - Container statuses are in spec order (the kubelet sorts them by name);
//     container and image ids are made up in containerd's shape.
//
// SlowStartImage(d) is an image whose first container runs at once and is
// ready d later, as an application behind a readiness probe that warms up:
// no failure, but a rollout to it stays in progress for a while.
//
// NoShellImage has no shell and no sleep: an exec preStop hook in it fails
// when its pod is deleted, with the kubelet's Warning FailedPreStopHook
// event on the pod.
//
// # Stopped kubelets
//
// A cluster started with Options.KubeletStops (and Options.Nodes, say 3)
// lets a test stop one node's kubelet: StopKubelet holds the node's Lease
// so that kwok neither renews it nor reports the node or its pods, and
// returns once the real node lifecycle controller has turned the node
// Unknown, set Ready False on its pods and recorded NodeNotReady on each;
// StartKubelet gives the Lease back and returns once the node is Ready, its
// pods ready again soon after. kubelet.go says what this rests on. Such a
// cluster's node lifecycle controller finds a silent node in 20 s; other
// clusters keep kwokctl's times and kwok's default node stages.
//
// # Detached clusters
//
// StartDetached starts a cluster that outlives the process that started it,
// for the demo (test/testbed/cmd/demo, make demo), with its files and
// kubeconfig in a directory of its own; OpenDetached finds it running again
// and DeleteDetached removes it. Nothing else ever deletes it.
package testbed

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// Names of the cluster's components, as StopComponent, RestartComponent and
// ComponentPID take them.
const (
	APIServer         = "kube-apiserver"
	Etcd              = "etcd"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	KwokController    = "kwok-controller"
)

var (
	sharedMu sync.Mutex
	shared   *Cluster
)

// Main starts the package's shared cluster, runs the tests and deletes every
// cluster the tests started, returning the exit code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(testbed.Main(m)) }
//
// With -short no cluster is started and the tests that use the shared
// cluster are skipped; with -list nothing is started.
func Main(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run()
	}
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "testbed: -short: skipping the tests that need a cluster")
		return m.Run()
	}

	stop := teardownOnSignal()
	defer stop()

	c, err := newCluster(Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		if err := teardown(); err != nil {
			fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		}
		return 1
	}
	sharedMu.Lock()
	shared = c
	sharedMu.Unlock()

	code := m.Run()

	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start starts a cluster for one test alone and deletes it when the test and
// its subtests end. Starting takes a few seconds once the binaries are built.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with Options, e.g. extra kube-apiserver flags.
func StartWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := newCluster(opts)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(); err != nil {
			t.Errorf("testbed: %v", err)
		}
	})
	return c
}

// Shared returns the cluster Main started. It panics when there is none: call
// Main from TestMain.
func Shared() *Cluster {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		panic("testbed: no shared cluster: call os.Exit(testbed.Main(m)) from TestMain (and do not run with -short)")
	}
	return shared
}

// sharedFor is Shared for a test: the test is skipped under -short, where
// Main starts no cluster.
func sharedFor(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	c := shared
	sharedMu.Unlock()
	if c == nil {
		if testing.Short() {
			t.Skip("testbed: needs a cluster; skipped with -short")
		}
		t.Fatal("testbed: no shared cluster: call os.Exit(testbed.Main(m)) from TestMain")
	}
	return c
}

// Kubeconfig is the path of the shared cluster's kubeconfig file.
func Kubeconfig() string { return Shared().Kubeconfig() }

// Kubectl runs kubectl against the shared cluster; see Cluster.Kubectl.
func Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	return sharedFor(t).Kubectl(t, args...)
}

// KubectlErr runs kubectl against the shared cluster; see Cluster.KubectlErr.
func KubectlErr(args ...string) (stdout, stderr string, err error) {
	return Shared().KubectlErr(args...)
}

// Clientset returns a client of the shared cluster.
func Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	return sharedFor(t).Clientset(t)
}

// NewNamespace creates a namespace in the shared cluster for one test; see
// Cluster.NewNamespace.
func NewNamespace(t testing.TB) string {
	t.Helper()
	return sharedFor(t).NewNamespace(t)
}

// Etcdctl runs etcdctl against the shared cluster's etcd; see Cluster.Etcdctl.
func Etcdctl(args ...string) (stdout, stderr string, err error) {
	return Shared().Etcdctl(args...)
}

// teardownOnSignal deletes every cluster and exits when the process is asked
// to stop, as `go test` is by Ctrl-C. The returned function stops listening.
func teardownOnSignal() (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "testbed: %v: deleting the test clusters\n", sig)
			if err := teardown(); err != nil {
				fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
			}
			code := 1
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			os.Exit(code)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
