package testbed

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Nodes is the number of fake nodes in every cluster.
const Nodes = 2

// kubectlPath is the kubectl every machine of this project's kind has.
const kubectlPath = "/usr/bin/kubectl"

// Cluster is a running test cluster. Its methods may be called from parallel
// tests.
type Cluster struct {
	name    string
	session *session // nil for a detached cluster (detached.go)
	root    string   // kwokctl's work directory (KWOK_WORKDIR)
	bin     string   // the test bed's binaries
	workdir string   // kwokctl's directory of the cluster: pids/, logs/, pki/, etcd/
	dir     string   // the test process's files for the cluster

	kubeconfig string
	restConfig *rest.Config
	nodes      int  // how many nodes it has (Options.Nodes)
	stoppable  bool // Options.KubeletStops

	mu         sync.Mutex // serializes stopping and starting components
	deleteOnce sync.Once
	deleteErr  error
}

// Options change how a private cluster is started.
type Options struct {
	// APIServerArgs are extra kube-apiserver flags, without the leading
	// dashes: {"watch-cache-sizes": "deployments.apps#0"}.
	APIServerArgs map[string]string
	// ControllerManagerArgs are extra kube-controller-manager flags:
	// {"kube-api-qps": "500"} lets a benchmark's controllers make thousands
	// of ReplicaSets and pods in minutes instead of the default 20 a second.
	ControllerManagerArgs map[string]string
	// Audit makes the API server write an audit log (Metadata level: who,
	// as whom, what verb on which object, the answer's code) to
	// Cluster.AuditLog.
	Audit bool
	// Nodes is the number of fake nodes; 0 means Nodes.
	Nodes int
	// KubeletStops readies the cluster for StopKubelet and StartKubelet
	// (kubelet.go): nodes that the node lifecycle controller finds silent
	// within seconds, not minutes. Other clusters keep kwok's defaults.
	KubeletStops bool

	hooks    *startHooks // for the test bed's own tests
	detached *placement  // StartDetached's directory and name
}

// startHooks let the test bed's tests make a start fail for real.
type startHooks struct {
	// beforeCreate runs with the ports chosen for the API server, etcd and
	// etcd's peers, before kwokctl starts the components.
	beforeCreate func(c *Cluster, ports []int, attempt int)
	// afterCreate runs once kwokctl has created the cluster, before the
	// nodes are made and awaited; attempt counts from 1.
	afterCreate func(c *Cluster, attempt int)
	// firstTimeout, if set, bounds what follows afterCreate in the first
	// attempt (making the nodes, waiting until they are Ready).
	firstTimeout time.Duration
	// failed receives the error of an attempt that is tried again.
	failed func(err error)
}

// startTimeout bounds one attempt to start a cluster.
const startTimeout = 4 * time.Minute

// startAttempts: a cluster that does not come up is started once more, with
// a new name (so a new kwokctl workdir) and new ports. Test packages start
// clusters in parallel on a busy machine: a port taken between choosing and
// binding it, or a kwok that does not make the nodes Ready in time, should
// not fail a whole test package.
const startAttempts = 2

// newCluster creates a cluster, scales it to Nodes fake nodes and waits until
// it serves requests and its nodes are Ready, trying again once (see
// startAttempts).
func newCluster(opts Options) (*Cluster, error) {
	var errs []error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		c, err := startCluster(opts, attempt)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if attempt < startAttempts {
			fmt.Fprintf(os.Stderr, "testbed: %v\ntestbed: starting a new cluster instead\n", err)
			if opts.hooks != nil && opts.hooks.failed != nil {
				opts.hooks.failed(err)
			}
		}
	}
	return nil, errors.Join(errs...)
}

// startCluster is one attempt of newCluster.
func startCluster(opts Options, attempt int) (*Cluster, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	var c *Cluster
	if p := opts.detached; p != nil {
		if c, err = p.cluster(bin); err != nil {
			return nil, err
		}
	} else {
		s, err := getSession()
		if err != nil {
			return nil, err
		}
		name := s.nextName()
		c = &Cluster{
			name:    name,
			session: s,
			root:    s.root,
			bin:     bin,
			workdir: filepath.Join(s.root, "clusters", name),
			dir:     filepath.Join(s.dir, name),
		}
		c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
		if err := os.MkdirAll(c.dir, 0o700); err != nil {
			return nil, err
		}
		s.add(c)
	}
	name := c.name
	c.nodes = cmp.Or(opts.Nodes, Nodes)
	c.stoppable = opts.KubeletStops

	start := time.Now()
	if err := c.create(opts, attempt); err != nil {
		// Every component's log: kwok-controller makes the nodes Ready,
		// the others serve and schedule.
		err = fmt.Errorf("start cluster %s (attempt %d of %d): %w%s", name, attempt, startAttempts, err,
			c.logTails(APIServer, Etcd, KwokController, ControllerManager, Scheduler))
		if delErr := c.Delete(); delErr != nil {
			err = errors.Join(err, delErr)
		}
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "testbed: cluster %s ready in %v (kubeconfig %s)\n",
		name, time.Since(start).Round(time.Millisecond), c.kubeconfig)
	return c, nil
}

func (c *Cluster) create(opts Options, attempt int) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	// bindAddress keeps every component (etcd too, which kwokctl otherwise
	// binds to 0.0.0.0) on loopback; only the config file can set it, and
	// etcdctl's and kubectl's binaries, which kwokctl would otherwise download.
	// The ports of the components tests restart (API server, etcd) come
	// from the kernel's ephemeral range, not kwokctl's: kwokctl hands out the
	// first free port below 32768, so while a test has one stopped, any
	// cluster created meanwhile (by another test package or user) would take
	// its port, and the restarted component could not listen again.
	ports, err := ephemeralPorts(3)
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverPort: %d
  etcdPort: %d
  etcdPeerPort: %d
  kubectlBinary: %s
  etcdctlBinary: %s
`, ports[0], ports[1], ports[2], kubectlPath, filepath.Join(c.bin, "etcdctl"))
	if opts.KubeletStops {
		config += kubeletStopsOptions
	}
	args := maps.Clone(opts.APIServerArgs)
	if opts.Audit {
		policy := filepath.Join(c.dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return err
		}
		if args == nil {
			args = map[string]string{}
		}
		args["audit-policy-file"] = policy
		args["audit-log-path"] = c.AuditLog()
	}
	patches := ""
	for _, p := range []struct {
		component string
		args      map[string]string
	}{{APIServer, args}, {ControllerManager, opts.ControllerManagerArgs}} {
		if len(p.args) == 0 {
			continue
		}
		keys := make([]string, 0, len(p.args))
		for k := range p.args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		patches += "- name: " + p.component + "\n  extraArgs:\n"
		for _, k := range keys {
			patches += fmt.Sprintf("  - key: %s\n    value: %q\n", k, p.args[k])
		}
	}
	if patches != "" {
		config += "componentsPatches:\n" + patches
	}
	// The pod Stages that play the kubelet, faults included (stages.go).
	config += "---\n" + stagesConfig(opts.KubeletStops)
	configPath := filepath.Join(c.dir, "kwokctl.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return err
	}

	if opts.hooks != nil && opts.hooks.beforeCreate != nil {
		opts.hooks.beforeCreate(c, ports, attempt)
	}
	// A detached cluster has a kwokctl work directory of its own; the test
	// clusters' lock still keeps its kwokctl from choosing ports at the same
	// time as theirs.
	if err := os.MkdirAll(rootDir(), 0o700); err != nil {
		return err
	}
	unlock, err := lockRoot(rootDir())
	if err != nil {
		return err
	}
	// kwokctl waits 2 minutes for an API server that has exited (one whose
	// port was taken, say): stop it as soon as a component exits.
	createCtx, cancelCreate := context.WithCancel(ctx)
	defer cancelCreate()
	var exited string
	var watching sync.WaitGroup
	stopWatching := make(chan struct{})
	watching.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatching:
				return
			case <-tick.C:
				if exited = c.exitedComponent(); exited != "" {
					cancelCreate()
					return
				}
			}
		}
	})
	_, err = c.kwokctl(createCtx, "--config", configPath, "create", "cluster",
		"--runtime", "binary",
		"--kube-apiserver-binary", filepath.Join(c.bin, "kube-apiserver"),
		"--kube-controller-manager-binary", filepath.Join(c.bin, "kube-controller-manager"),
		"--kube-scheduler-binary", filepath.Join(c.bin, "kube-scheduler"),
		"--kwok-controller-binary", filepath.Join(c.bin, "kwok"),
		"--etcd-binary", filepath.Join(c.bin, "etcd"),
		// kwokctl adds a context to this file; by default it is ~/.kube/config.
		"--kubeconfig", filepath.Join(c.dir, "kwokctl-contexts"),
		// No --wait: it would wait its whole time for a component that has
		// exited; waitUntil below notices that at once.
	)
	close(stopWatching)
	watching.Wait()
	unlock()
	if exited != "" {
		return fmt.Errorf("%s exited while kwokctl started the cluster", exited)
	}
	if err != nil {
		return err
	}
	if opts.hooks != nil && opts.hooks.afterCreate != nil {
		opts.hooks.afterCreate(c, attempt)
		if opts.hooks.firstTimeout > 0 && attempt == 1 {
			var cancelRest context.CancelFunc
			ctx, cancelRest = context.WithTimeout(ctx, opts.hooks.firstTimeout)
			defer cancelRest()
		}
	}

	raw, err := c.kwokctl(ctx, "get", "kubeconfig")
	if err != nil {
		return err
	}
	if err := writeLoopbackKubeconfig(raw, c.kubeconfig); err != nil {
		return err
	}
	rc, err := restConfigOf(c.kubeconfig)
	if err != nil {
		return err
	}
	c.restConfig = rc
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// kwokctl makes the nodes through the API server.
	if err := c.waitUntil(ctx, func() error { return readyz(ctx, cs) }); err != nil {
		return err
	}
	if _, err := c.kwokctl(ctx, "scale", "node", "--replicas", strconv.Itoa(c.nodes)); err != nil {
		return err
	}
	return c.waitUntil(ctx, func() error { return c.ready(ctx, cs) })
}

// restConfigOf is the client configuration of a cluster's kubeconfig.
func restConfigOf(kubeconfig string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// Tests make bursts of requests; client-side throttling would only slow them.
	rc.QPS, rc.Burst = 200, 400
	rc.UserAgent = "deploywatch-testbed"
	return rc, nil
}

// auditPolicy logs every request at Metadata level, once (at its end),
// leaving out the components' and nodes' own chatter.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: None
  userGroups: ["system:nodes"]
- level: None
  users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver"]
- level: Metadata
`

// AuditLog is the path of the API server's audit log (Options.Audit).
func (c *Cluster) AuditLog() string { return filepath.Join(c.dir, "audit.log") }

// ephemeralPorts are n distinct free loopback ports that the kernel chose.
func ephemeralPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free ports for the control plane: %w", err)
		}
		// Held open until all are chosen, so the kernel gives n different ones.
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeLoopbackKubeconfig writes the kubeconfig with every server on
// 127.0.0.1, whatever host kwokctl wrote.
func writeLoopbackKubeconfig(raw []byte, path string) error {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return fmt.Errorf("kwokctl get kubeconfig: %w", err)
	}
	for name, cl := range cfg.Clusters {
		u, err := url.Parse(cl.Server)
		if err != nil || u.Port() == "" {
			return fmt.Errorf("kwokctl get kubeconfig: cluster %s: server %q has no port", name, cl.Server)
		}
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
		cl.Server = u.String()
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// waitUntil waits until check passes, for example until the API server is
// ready, the nodes are Ready and the default namespace has its service
// account (ready). It fails at once when a component has exited.
func (c *Cluster) waitUntil(ctx context.Context, check func() error) error {
	var seen error // what the last check that ran its course found
	for {
		last := check()
		if last == nil {
			return nil
		}
		// A check cut short by the time running out says only that; the
		// failure is what the check before it found (say, "0 of 2 nodes
		// Ready").
		if timeIsUp(ctx) && seen != nil {
			last = seen
		}
		seen = last
		// A component that exited will not make the cluster ready: say so
		// now rather than when the time is up.
		if err := c.componentsRunning(); err != nil {
			return fmt.Errorf("cluster not ready: %w (%w)", err, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// timeIsUp says whether ctx has ended or its deadline has passed. The two
// differ for a moment: client-go's rate limiter refuses a request ("would
// exceed context deadline") once the deadline is past, before ctx's timer
// has fired and ctx.Err() says so.
func timeIsUp(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// readyz says whether the API server is ready, naming its failing checks
// (its answer lists every check, one a line, "[-]name failed: ...").
func readyz(ctx context.Context, cs kubernetes.Interface) error {
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err == nil && string(body) == "ok" {
		return nil
	}
	var failing []string
	for _, line := range strings.Split(string(body), "\n") {
		if name, ok := strings.CutPrefix(line, "[-]"); ok {
			failing = append(failing, strings.Fields(name)[0])
		}
	}
	switch {
	case len(failing) > 0:
		return fmt.Errorf("/readyz: failing %s", strings.Join(failing, ", "))
	case err != nil:
		return fmt.Errorf("/readyz: %w", err)
	}
	return fmt.Errorf("/readyz: %s", body)
}

// exitedComponent names a component that was started and has exited, if
// one has.
func (c *Cluster) exitedComponent() string {
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		raw, err := os.ReadFile(c.pidFile(name))
		if err != nil {
			continue // not started yet
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && !alive(pid) {
			return name
		}
	}
	return ""
}

// componentsRunning returns an error naming the first component that is
// not running.
func (c *Cluster) componentsRunning() error {
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		if _, err := c.ComponentPID(name); err != nil {
			return err
		}
	}
	return nil
}

// ready says why the cluster is not ready to use: the API server not
// ready, fewer of its nodes Ready than it has, or no service account in default
// (pods are refused without).
func (c *Cluster) ready(ctx context.Context, cs kubernetes.Interface) error {
	if err := readyz(ctx, cs); err != nil {
		return err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < c.nodes {
		return fmt.Errorf("%d of %d nodes Ready", ready, c.nodes)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return err
	}
	return nil
}

// Delete deletes the cluster: kwokctl stops its processes and removes its
// files. Main and Start call it; calling it again does nothing.
func (c *Cluster) Delete() error {
	c.deleteOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var err error
		// Taken first: a component still exiting once kwokctl returns has
		// lost the command line it would be found by.
		components := c.PIDs()
		// Without kwokctl (a detached cluster whose test bed cache was
		// removed since), killing and removing below is all there is to do.
		if _, statErr := os.Stat(filepath.Join(c.bin, "kwokctl")); statErr == nil {
			_, err = c.kwokctl(ctx, "delete", "cluster", "--kubeconfig", filepath.Join(c.dir, "kwokctl-contexts"))
		}
		// Whatever kwokctl missed (a component it lost track of) dies too.
		// A detached cluster's directory may be named in the user's own
		// command lines (a tail of a log): only its components' are matched.
		patterns := []string{c.workdir + "/", c.dir + "/"}
		if c.session == nil {
			patterns = patterns[:1]
		}
		err = errors.Join(err, killProcesses(patterns, components), os.RemoveAll(c.workdir), os.RemoveAll(c.dir))
		if err != nil {
			c.deleteErr = fmt.Errorf("delete cluster %s: %w", c.name, err)
		}
		if c.session != nil {
			c.session.remove(c)
		}
	})
	return c.deleteErr
}

// Name is the cluster's kwokctl name.
func (c *Cluster) Name() string { return c.name }

// Kubeconfig is the path of the cluster's kubeconfig file. Its server is on
// 127.0.0.1.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Workdir is kwokctl's directory of the cluster: logs/<component>.log,
// pids/<component>.pid, pki/, etcd/.
func (c *Cluster) Workdir() string { return c.workdir }

// RESTConfig returns a copy of the cluster's client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Clientset returns a client of the cluster.
func (c *Cluster) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return cs
}

// Env is the environment for commands that should talk to the cluster, such
// as kubectl or the plugin: the process's own with KUBECONFIG set to the
// cluster's, kubectl's cache kept apart from the user's, and, once
// BuildPlugin has run, the plugin's directory first on PATH, so that
// `kubectl deploywatch` runs the plugin under test.
func (c *Cluster) Env() []string {
	env := make([]string, 0, len(os.Environ())+3)
	path := os.Getenv("PATH")
	if dir := builtPluginDir(); dir != "" {
		path = dir + string(os.PathListSeparator) + path
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "KUBECONFIG", "KUBECACHEDIR", "PATH":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KUBECONFIG="+c.kubeconfig,
		"KUBECACHEDIR="+filepath.Join(c.dir, "kubecache"),
		"PATH="+path,
	)
}

// KubectlCmd returns kubectl with args, not yet started, set to talk to the
// cluster through the environment (see Env): kubectl takes no flags before a
// plugin's name, so `kubectl deploywatch ...` cannot be given --kubeconfig
// first. It is killed when ctx is done.
func (c *Cluster) KubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, kubectlPath, args...)
	cmd.Env = c.Env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// KubectlErr runs kubectl with args against the cluster and returns what it
// printed. It gives up after two minutes.
func (c *Cluster) KubectlErr(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := c.KubectlCmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), err
}

// Kubectl runs kubectl with args against the cluster and returns its
// standard output. The test fails, with kubectl's standard error, when
// kubectl does.
func (c *Cluster) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := c.KubectlErr(args...)
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s\nstdout:\n%s", err, errOut, out)
	}
	return out
}

// NewNamespace creates a namespace for one test, named after the test, and
// deletes it when the test ends. It returns once the namespace's default
// service account exists, since pods cannot be created before.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	cs := c.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: namespacePrefix(t.Name())},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testbed: create namespace: %v", err)
	}
	name := ns.Name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("testbed: delete namespace %s: %v", name, err)
		}
	})
	for {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testbed: namespace %s has no default service account: %v", name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// namespacePrefix turns a test name into the start of a namespace name.
func namespacePrefix(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	p := strings.Trim(b.String(), "-")
	if len(p) > 40 {
		p = strings.Trim(p[:40], "-")
	}
	if p == "" {
		p = "test"
	}
	return p + "-"
}

// Kwokctl runs kwokctl for the cluster (`kwokctl --name <cluster> args...`)
// and returns its standard output; its log goes to the cluster's kwokctl.log.
func (c *Cluster) Kwokctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := c.kwokctl(ctx, args...)
	return string(out), err
}

func (c *Cluster) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	log, err := os.OpenFile(filepath.Join(c.dir, "kwokctl.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(log, "\n$ kwokctl --name %s %s\n", c.name, strings.Join(args, " "))
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kwokctl"), append([]string{"--name", c.name}, args...)...)
	cmd.Env = append(os.Environ(),
		"KWOK_WORKDIR="+c.root,
		// kwokctl looks kubectl up on PATH to see whether the API server serves.
		"PATH="+filepath.Dir(kubectlPath)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(log, &errOut)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, lastLines(errOut.String(), 15))
	}
	return out.Bytes(), nil
}

// Etcdctl runs etcdctl against the cluster's etcd (`kwokctl etcdctl`), for
// example "compaction <revision>" to make watches fail with 410 Gone.
func (c *Cluster) Etcdctl(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kwokctl"), append([]string{"--name", c.name, "etcdctl"}, args...)...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.root)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("etcdctl %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), err
}

// ComponentPID returns the process id of a running component (APIServer,
// Etcd, ...), as kwokctl recorded it.
func (c *Cluster) ComponentPID(name string) (int, error) {
	raw, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("component %s of cluster %s is not running", name, c.name)
		}
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0, fmt.Errorf("pid file of %s: %w", name, err)
	}
	if !alive(pid) {
		return 0, fmt.Errorf("component %s of cluster %s (pid %d) has exited", name, c.name, pid)
	}
	return pid, nil
}

func (c *Cluster) pidFile(name string) string {
	return filepath.Join(c.workdir, "pids", name+".pid")
}

// StopComponent kills a component with SIGKILL, as a crash would (and as
// `kwokctl stop cluster` does), and returns once it is gone. Stopping a
// stopped component does nothing.
func (c *Cluster) StopComponent(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopComponent(name)
}

func (c *Cluster) stopComponent(name string) error {
	raw, err := os.ReadFile(c.pidFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("pid file of %s: %w", name, err)
	}
	if alive(pid) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %s (pid %d): %w", name, pid, err)
		}
		if !waitGone(pid, 10*time.Second) {
			return fmt.Errorf("%s (pid %d) still runs 10s after SIGKILL", name, pid)
		}
	}
	// kwokctl takes a component whose pid file names a live process for
	// running, and pid 1 may leave the killed one a zombie forever: without
	// its pid file, `kwokctl start cluster` starts it again.
	if err := os.Remove(c.pidFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StartComponents starts every stopped component (`kwokctl start cluster`;
// kwokctl cannot start just one) and waits until the cluster is ready again.
// Components keep their ports, so clients reconnect to the same address.
func (c *Cluster) StartComponents() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startComponents()
}

func (c *Cluster) startComponents() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.kwokctl(ctx, "start", "cluster"); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	var last error
	for {
		if last = c.ready(ctx, cs); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s not ready after start: %w%s", c.name, last, c.logTails(APIServer, Etcd, KwokController))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RestartComponent kills a component with SIGKILL and starts it again,
// returning once the cluster is ready.
func (c *Cluster) RestartComponent(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stopComponent(name); err != nil {
		return err
	}
	return c.startComponents()
}

// StartIfExited starts component name again if it has exited, and says
// whether it had. A controller-manager or scheduler whose leader lease ran
// out while the API server was down exits, as the real ones do; the test
// bed has no supervisor (a kubelet, systemd) to start it again.
func (c *Cluster) StartIfExited(name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, err := os.ReadFile(c.pidFile(name))
	if err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && alive(pid) {
			return false, nil
		}
	}
	if err := c.stopComponent(name); err != nil {
		return false, err
	}
	return true, c.startComponents()
}

// StopAPIServer kills the API server with SIGKILL; clients then get
// "connection refused" on its address until StartAPIServer.
func (c *Cluster) StopAPIServer() error { return c.StopComponent(APIServer) }

// StartAPIServer starts the API server again on the same address (and any
// other stopped component) and returns once it is ready.
func (c *Cluster) StartAPIServer() error { return c.StartComponents() }

// StopCluster stops every component (`kwokctl stop cluster`, which kills
// them with SIGKILL). StartComponents starts them again with their data.
func (c *Cluster) StopCluster() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.kwokctl(ctx, "stop", "cluster")
	return err
}

// logTails returns the end of the named components' logs, to explain a
// failure.
func (c *Cluster) logTails(components ...string) string {
	var b strings.Builder
	for _, name := range components {
		raw, err := os.ReadFile(filepath.Join(c.workdir, "logs", name+".log"))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- end of %s.log:\n%s", name, lastLines(string(raw), 10))
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
