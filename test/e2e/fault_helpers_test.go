package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// faultProxy is a TCP proxy between the plugin and the API server that a
// test can cut, so changes happen while the plugin cannot see them.
type faultProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]struct{}
	refused atomic.Int64 // connections refused while cut
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			p.refused.Add(1)
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *faultProxy) pipe(c net.Conn) {
	defer p.drop(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *faultProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *faultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *faultProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// faultBed is a private cluster for a fault test, with a namespace and the
// environment that points the plugin at it (through a proxy, if asked).
type faultBed struct {
	c     *testbed.Cluster
	cs    kubernetes.Interface
	ns    string
	proxy *faultProxy
	env   []string // KUBECONFIG for the plugin
}

func newFaultBed(t *testing.T, opts testbed.Options, proxied bool) *faultBed {
	t.Helper()
	c := testbed.StartWith(t, opts)
	b := &faultBed{c: c, cs: c.Clientset(t), ns: "fault"}
	if _, err := b.cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := c.Kubeconfig()
	if proxied {
		u, err := url.Parse(c.RESTConfig().Host)
		if err != nil {
			t.Fatal(err)
		}
		b.proxy = newFaultProxy(t, u.Host)
		kubeconfig = rewriteServer(t, kubeconfig, "https://"+b.proxy.Addr())
	}
	b.env = []string{"KUBECONFIG=" + kubeconfig}
	return b
}

// rewriteServer copies a kubeconfig with every cluster's server replaced.
// The API server's certificate names 127.0.0.1, so TLS still verifies.
func rewriteServer(t *testing.T, path, server string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	out := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// create makes a Deployment of pause containers in the bed's namespace.
func (b *faultBed) create(t *testing.T, name string, replicas int32) {
	t.Helper()
	b.createWith(t, name, replicas, nil)
}

// createWith is create with edit changing the Deployment first.
func (b *faultBed) createWith(t *testing.T, name string, replicas int32, edit func(*appsv1.Deployment)) {
	t.Helper()
	d := testutil.Deployment(name, testutil.Replicas(replicas), testutil.Edit(edit))
	if _, err := b.cs.AppsV1().Deployments(b.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func (b *faultBed) scale(t *testing.T, name string, replicas int32) error {
	t.Helper()
	ctx := context.Background()
	s, err := b.cs.AppsV1().Deployments(b.ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	s.Spec.Replicas = replicas
	_, err = b.cs.AppsV1().Deployments(b.ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
	return err
}

// endOutage starts the API server again, scales name to replicas and waits
// until the controller has observed the scale, starting the
// controller-manager again if it lost its leader lease in the outage and
// exited. The rollout itself is not waited for: after a restart kwok does
// not always start the pods of a scale, so views must end at whatever the
// truth is.
func (b *faultBed) endOutage(t *testing.T, name string, replicas int32) {
	t.Helper()
	if err := b.c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := b.scale(t, name, replicas); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Minute, "the controller to observe the scale", func() bool {
		if restarted, err := b.c.StartIfExited(testbed.ControllerManager); err != nil {
			t.Fatal(err)
		} else if restarted {
			t.Log("the controller-manager lost its leader lease in the outage and exited; started it again")
		}
		d := b.truth(t)[name]
		return d.Status.ObservedGeneration >= d.Generation
	})
}

// truth is what the API server holds, by name.
func (b *faultBed) truth(t *testing.T) map[string]*appsv1.Deployment {
	t.Helper()
	list, err := b.cs.AppsV1().Deployments(b.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list deployments: %v", err)
	}
	out := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// waitSettled waits until every Deployment of the bed has rolled out.
func (b *faultBed) waitSettled(t *testing.T) map[string]*appsv1.Deployment {
	t.Helper()
	var truth map[string]*appsv1.Deployment
	testutil.Eventually(t, 2*time.Minute, "every deployment to roll out", func() bool {
		truth = b.truth(t)
		for _, d := range truth {
			if !opsRolledOut(d) {
				return false
			}
		}
		return true
	})
	return truth
}

// lastByName is the last event of each Deployment still present.
func lastByName(events []deployment.Event) map[string]deployment.Event {
	out := map[string]deployment.Event{}
	for _, e := range events {
		if e.Type == deployment.Deleted {
			delete(out, e.Name)
		} else {
			out[e.Name] = e
		}
	}
	return out
}

// matchesAll says how the last events differ from the truth; "" if not.
func matchesAll(last map[string]deployment.Event, truth map[string]*appsv1.Deployment) string {
	var diffs []string
	for name, d := range truth {
		e, ok := last[name]
		if !ok {
			diffs = append(diffs, name+" missing")
			continue
		}
		if diff := matchesTruth(e, d); diff != "" {
			diffs = append(diffs, name+": "+diff)
		}
	}
	for name := range last {
		if _, ok := truth[name]; !ok {
			diffs = append(diffs, name+" shown but gone")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// duplicates lists consecutive events of one Deployment that show the same
// thing: what dedup must never print.
func duplicates(events []deployment.Event) []string {
	prev := map[string]deployment.Event{}
	var dups []string
	for i, e := range events {
		if p, ok := prev[e.Name]; ok && p.Type == e.Type && sameShown(&p, &e) && p.Message == e.Message {
			dups = append(dups, fmt.Sprintf("#%d %s %s %s", i, e.Type, e.Name, e.Status))
		}
		prev[e.Name] = e
	}
	return dups
}

func (p *watchProc) allEvents() []deployment.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// sseFollower applies a stream's events to a view of the namespace, as the
// web page does.
type sseFollower struct {
	mu        sync.Mutex
	state     sseView
	events    []deployment.Event // upserts and deletes, in order
	snapshots int
	reconnect int
	upstream  []string // the states of upstream events, in order
	lastID    string
	ended     chan struct{}
}

func follow(t *testing.T, s *sseStream) *sseFollower {
	f := &sseFollower{state: sseView{}, ended: make(chan struct{})}
	go func() {
		defer close(f.ended)
		for ev := range s.events {
			f.apply(t, ev)
		}
	}()
	return f
}

func (f *sseFollower) apply(t *testing.T, ev sseEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.ID != "" {
		f.lastID = ev.ID
	}
	switch ev.Event {
	case "snapshot":
		f.snapshots++
		if _, err := f.state.apply(ev.Event, ev.Data); err != nil {
			t.Error(err)
		}
	case "upsert", "delete":
		e, err := f.state.apply(ev.Event, ev.Data)
		if err != nil {
			t.Error(err)
			return
		}
		f.events = append(f.events, e)
	case "reconnect":
		f.reconnect++
	case "upstream":
		var u struct{ State, Error string }
		if err := jsonUnmarshal(ev.Data, &u); err != nil || u.State == "" || (u.State == "reconnecting") != (u.Error != "") {
			t.Errorf("upstream %q: %v; want a state, and an error exactly when reconnecting", ev.Data, err)
			return
		}
		f.upstream = append(f.upstream, u.State)
	}
}

func (f *sseFollower) view() map[string]deployment.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.state)
}

// sseView is the Deployments by name as a stream's snapshot, upsert and
// delete events tell them.
type sseView map[string]deployment.Event

// apply applies one event of those kinds (others are ignored) and returns
// the Deployment an upsert or delete names.
func (v *sseView) apply(kind, data string) (deployment.Event, error) {
	var e deployment.Event
	switch kind {
	case "snapshot":
		var all []deployment.Event
		if err := json.Unmarshal([]byte(data), &all); err != nil {
			return e, fmt.Errorf("snapshot %q: %w", data, err)
		}
		*v = sseView{}
		for _, e := range all {
			(*v)[e.Name] = e
		}
	case "upsert", "delete":
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return e, fmt.Errorf("%s %q: %w", kind, data, err)
		}
		if kind == "delete" {
			delete(*v, e.Name)
		} else {
			(*v)[e.Name] = e
		}
	}
	return e, nil
}

func (f *sseFollower) upstreams() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.upstream)
}

func (f *sseFollower) all() []deployment.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// rssBytes reads a process's resident memory from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of pid %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb); err != nil {
				t.Fatalf("VmRSS of pid %d: %q: %v", pid, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
