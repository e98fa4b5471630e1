package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeManyClientsShareOneWatch: 200 event streams on one namespace cost
// the API server exactly one Deployment watch, and all 200 see a change made
// with kubectl.
func TestServeManyClientsShareOneWatch(t *testing.T) {
	const clients = 200
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	baseline := deploymentWatches(t)
	if baseline != 1 {
		t.Logf("the API server has %d deployment watches before serve starts (1 on a fresh test bed)", baseline)
	}
	p := startServe(t)

	streams := make([]*sseStream, clients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	var mu sync.Mutex
	var failures []string
	for i := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, status, body := p.tryStream(t, ns, nil)
			if status != 200 {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("client %d: %d %s", i, status, body))
				mu.Unlock()
				return
			}
			streams[i] = s
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d clients could not connect: %v", len(failures), failures[0])
	}
	for _, s := range streams {
		snapshotOf(t, s.next(t, time.Minute))
	}
	if got := p.metric(t, "deploywatch_sse_clients"); got != clients {
		t.Fatalf("serve counts %v clients, want %d", got, clients)
	}
	if got := p.metric(t, "deploywatch_informers_running"); got != 1 {
		t.Fatalf("serve runs %v informers, want 1", got)
	}
	if got := deploymentWatches(t); got != baseline+1 {
		t.Fatalf("the API server has %d deployment watches with %d clients, want %d (%d before serve + 1)", got, clients, baseline+1, baseline)
	}

	start := time.Now()
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=2")
	wrote := time.Now()
	latencies := make([]time.Duration, clients)
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.until(t, time.Minute, fmt.Sprintf("client %d to see the scale", i), desiredIs(t, "web", 2))
			latencies[i] = time.Since(wrote)
		}()
	}
	wg.Wait()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("kubectl scale took %s; after it returned, all %d clients had the change within %s (median %s)",
		wrote.Sub(start).Round(time.Millisecond), clients, latencies[clients-1].Round(time.Millisecond), latencies[clients/2].Round(time.Millisecond))
	if got := deploymentWatches(t); got != baseline+1 {
		t.Fatalf("the API server has %d deployment watches after the change, want %d", got, baseline+1)
	}
}

// TestServeStalledClientDelaysNobody: while one client stops reading, a
// burst of changes reaches the other client in full; when the stalled one
// reads again, it ends at the true state (its missed events coalesced: the
// burst is more than the server's queue per client holds).
func TestServeStalledClientDelaysNobody(t *testing.T) {
	const deployments, rounds = 10, 60
	ns := testbed.NewNamespace(t)
	for i := range deployments {
		// Eight containers with long image names make each event about 2 KB,
		// so the burst outgrows the sockets' buffers and really stalls.
		// Pods that no node takes keep the churn to the API server.
		createDeploymentSpec(t, ns, fmt.Sprintf("d%02d", i), 0, func(spec *corev1.PodSpec) {
			spec.NodeSelector = map[string]string{"deploywatch-test": "no-such-node"}
			spec.Containers = nil
			for c := range 8 {
				spec.Containers = append(spec.Containers, corev1.Container{
					Name:  fmt.Sprintf("c%d", c),
					Image: fmt.Sprintf("registry.example.com/%s/component-%d:v1.2.3", strings.Repeat("long-path-segment/", 9), c),
				})
			}
		})
	}
	p := startServe(t)

	gate := testutil.NewStalledConn(nil) // its receive buffer is small, so the server's writes back up soon
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	stalledClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		gate.Conn = c
		return gate, err
	}}}
	req, err := http.NewRequest("GET", p.base+"/api/namespaces/"+ns+"/deployments/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := stalledClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stalled client's stream: %v %v", resp, err)
	}
	stalled := &sseStream{resp: resp, events: make(chan sseEvent, 1<<16), done: make(chan struct{})}
	t.Cleanup(stalled.close)
	go stalled.read()
	stalledView := newDesired()
	stalledView.apply(t, stalled.next(t, time.Minute))
	gate.Stall() // from now on it reads nothing

	live := p.openStream(t, ns, nil)
	liveView := newDesired()
	liveView.apply(t, live.next(t, time.Minute))

	// The live client reads all along, as a page does: left unread during
	// the burst (its stream holds 1,024 events), it would fall behind and
	// be a stalled client too, the more so the busier the machine.
	liveEvents := make(chan sseEvent, 1<<16)
	go func() {
		defer close(liveEvents)
		for ev := range live.events {
			liveEvents <- ev
		}
	}()

	// A burst: every Deployment scaled up and down, each scale followed by
	// the controller's status updates.
	apps := testbed.Clientset(t).AppsV1().Deployments(ns)
	truth := map[string]int32{}
	for r := range rounds {
		for i := range deployments {
			name := fmt.Sprintf("d%02d", i)
			replicas := int32((r+i)%3 + 1)
			if r == rounds-1 {
				replicas = int32(i%4 + 1)
			}
			if _, err := apps.UpdateScale(context.Background(), name, &autoscalingv1.Scale{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
			}, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("scale %s: %v", name, err)
			}
			truth[name] = replicas
		}
	}
	wrote := time.Now()
	// The live client gets there while the stalled one still reads nothing.
	for !liveView.equals(truth) {
		select {
		case ev, ok := <-liveEvents:
			if !ok {
				t.Fatalf("live stream ended: %v", live.err)
			}
			liveView.apply(t, ev)
		case <-time.After(time.Minute):
			t.Fatalf("the live client did not reach the true state within a minute: %v, want %v", liveView.state, truth)
		}
	}
	t.Logf("the live client had all %d scales %s after the last write, with one client stalled", deployments*rounds, time.Since(wrote).Round(time.Millisecond))
	if got := p.metric(t, "deploywatch_sse_clients"); got != 2 {
		t.Fatalf("serve counts %v clients, want the stalled one still connected", got)
	}

	gate.Resume()
	for !stalledView.equals(truth) {
		select {
		case ev, ok := <-stalled.events:
			if !ok {
				t.Fatalf("stalled stream ended before it caught up: %v", stalled.err)
			}
			stalledView.apply(t, ev)
		case <-time.After(time.Minute):
			t.Fatalf("the stalled client did not reach the true state once it read again: %v, want %v", stalledView.state, truth)
		}
	}
	coalesced := p.metric(t, "deploywatch_sse_events_coalesced_total")
	t.Logf("the stalled client caught up after %d events (the live one needed %d); serve coalesced %v events",
		stalledView.events, liveView.events, coalesced)
	if coalesced == 0 || stalledView.events >= liveView.events {
		t.Fatalf("nothing was coalesced: the burst never backed up to the server, so this test proved nothing; make it bigger")
	}
}

// desired is a client's view: desired replicas by Deployment.
type desired struct {
	state  map[string]int32
	events int
}

func newDesired() *desired { return &desired{state: map[string]int32{}} }

func (d *desired) apply(t *testing.T, ev sseEvent) {
	t.Helper()
	d.events++
	switch ev.Event {
	case "snapshot":
		d.state = map[string]int32{}
		for _, e := range snapshotOf(t, ev) {
			d.state[e.Name] = e.Replicas.Desired
		}
	case "upsert":
		e := eventOf(t, ev)
		d.state[e.Name] = e.Replicas.Desired
	case "delete":
		delete(d.state, eventOf(t, ev).Name)
	}
}

func (d *desired) equals(truth map[string]int32) bool {
	if len(d.state) != len(truth) {
		return false
	}
	for k, v := range truth {
		if d.state[k] != v {
			return false
		}
	}
	return true
}
