package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// seen records when each resourceVersion of one Deployment was printed.
type seen struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newSeen() *seen { return &seen{at: map[string]time.Time{}} }

func (s *seen) add(rv string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[rv]; !ok {
		s.at[rv] = at
	}
}

func (s *seen) get(rv string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[rv]
	return at, ok
}

// benchLatency: change-to-output latency of deploywatch, kubectl and a raw
// watch, all three watching the same changes at once.
func benchLatency(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	const name = "lat"
	changes := pick(240, 200)
	createDeployment(t, cs, ns, testutil.Deployment(name, testutil.Replicas(1), testutil.PodSpec(unschedulable)))
	waitSettled(t, cs, ns, name, false)

	rawBin := buildRawWatch(t)
	tools := []string{"deploywatch watch -o ndjson", "kubectl get deploy -w -o json", "client-go watch (floor)"}
	seens := []*seen{newSeen(), newSeen(), newSeen()}
	ctx := context.Background()
	lineRV := func(s *seen) func([]byte, time.Time) {
		return func(line []byte, at time.Time) {
			var v struct {
				Name            string `json:"name"`
				ResourceVersion string `json:"resourceVersion"`
			}
			if json.Unmarshal(bytes.TrimSpace(line), &v) == nil && v.Name == name {
				s.add(v.ResourceVersion, at)
			}
		}
	}
	startLines(t, tools[0], c.KubectlCmd(ctx, "deploywatch", "watch", ns, "-o", "ndjson"), lineRV(seens[0]))
	startJSON(t, tools[1], c.KubectlCmd(ctx, "get", "deploy", name, "-n", ns, "-w", "-o", "json"), func(v map[string]any, at time.Time) {
		if md, ok := v["metadata"].(map[string]any); ok {
			rv, _ := md["resourceVersion"].(string)
			seens[1].add(rv, at)
		}
	})
	raw := c.KubectlCmd(ctx) // for its environment
	raw.Path, raw.Args = rawBin, []string{rawBin, "-n", ns}
	startLines(t, tools[2], raw, lineRV(seens[2]))

	// Every watcher has printed the Deployment before the first change.
	time.Sleep(time.Second)
	first := scale(t, cs, ns, name, 2)
	for i, s := range seens {
		testutil.Eventually(t, time.Minute, tools[i]+" to print the first change", func() bool { _, ok := s.get(first); return ok })
	}
	waitSettled(t, cs, ns, name, false)

	lat := make([][]time.Duration, len(tools))
	fromStart := make([][]time.Duration, len(tools))
	var diff []time.Duration // deploywatch minus the raw watch, per change
	replicas := int32(2)
	for i := range changes {
		time.Sleep(20 * time.Millisecond) // let the controller's status update pass
		var rv string
		var done time.Time
		began := time.Now()
		if i%2 == 0 {
			replicas = 3 - replicas // 1, 2, 1, ...
			rv = scale(t, cs, ns, name, replicas)
		} else {
			rv = setImage(t, cs, ns, name, "app", fmt.Sprintf("registry.k8s.io/pause:3.%d", 9+(i/2)%2))
		}
		done = time.Now()
		ats := make([]time.Time, len(tools))
		for j, s := range seens {
			testutil.Eventually(t, time.Minute, fmt.Sprintf("%s to print change %d (resourceVersion %s)", tools[j], i, rv), func() bool {
				var ok bool
				ats[j], ok = s.get(rv)
				return ok
			})
			lat[j] = append(lat[j], ats[j].Sub(done))
			fromStart[j] = append(fromStart[j], ats[j].Sub(began))
		}
		diff = append(diff, ats[0].Sub(ats[2]))
	}

	sec := section{
		title: fmt.Sprintf("1. Change-to-output latency (%d changes, alternating scale and image; all three watching at once)", changes),
		head:  []string{"client", "p50", "p99", "p50 vs floor", "p99 vs floor", "p50 from the call's start", "p99 from the call's start"},
	}
	floor50, floor99 := percentile(lat[2], 50), percentile(lat[2], 99)
	for j, tool := range tools {
		p50, p99 := percentile(lat[j], 50), percentile(lat[j], 99)
		sec.rows = append(sec.rows, []string{tool, ms(p50), ms(p99), fmt.Sprintf("%+.1f ms", float64(p50-floor50)/1e6), fmt.Sprintf("%+.1f ms", float64(p99-floor99)/1e6),
			ms(percentile(fromStart[j], 50)), ms(percentile(fromStart[j], 99))})
	}
	sec.notes = append(sec.notes, fmt.Sprintf("Measured from the write call's return (the API server has committed it) to the line read from the tool's stdout; "+
		"a watch event can arrive before the write's response is read, so the call's start is shown too (the commit lies between the two). "+
		"Paired per change, deploywatch minus the floor: p50 %s, p99 %s. Target: deploywatch's p99 within 5 ms of the floor and not behind kubectl's.",
		ms(percentile(diff, 50)), ms(percentile(diff, 99))))
	r.add(sec)
}
