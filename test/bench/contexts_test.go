package bench

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchContexts: three clusters of their own with N Deployments each; how
// long until one merged `watch --all-contexts` has shown all 3N, against
// three `kubectl get deploy -w` started at once, one per cluster (the
// slowest of them is what a user waits for). The merged view starts its
// contexts in parallel, so it should take about the slowest single
// cluster, not the sum.
func benchContexts(t *testing.T, r *report) {
	perCluster := pick(1000, 100)
	names := []string{"one", "two", "three"}
	cs := testbed.StartContexts(t, names...)
	ctx := context.Background()
	t0 := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, name := range names {
		config := cs.Clusters[name].RESTConfig()
		config.QPS, config.Burst = 2000, 4000
		client, err := kubernetes.NewForConfig(config)
		if err != nil {
			t.Fatal(err)
		}
		jobs := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					// No replicas: the Deployments are what is listed; pods
					// would only load the shared machine.
					d := testutil.Deployment(fmt.Sprintf("app-%04d", i), testutil.Replicas(0))
					if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
						failed.Add(1)
					}
				}
			})
		}
		wg.Go(func() {
			for i := range perCluster {
				jobs <- i
			}
			close(jobs)
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d creates failed", n)
	}
	created := time.Since(t0)

	// count starts cmd and returns when it has printed want items, or how
	// long that took after start.
	count := func(name string, cmd *exec.Cmd, json bool, want int64, start time.Time) time.Duration {
		var n, doneAt atomic.Int64
		on := func(at time.Time, k int64) {
			if c := n.Add(k); c >= want && c-k < want {
				doneAt.Store(at.UnixNano())
			}
		}
		var p *proc
		if json {
			p = startJSON(t, name, cmd, func(v map[string]any, at time.Time) {
				if items, ok := v["items"].([]any); ok {
					on(at, int64(len(items)))
				} else {
					on(at, 1)
				}
			})
		} else {
			p = startLines(t, name, cmd, func(_ []byte, at time.Time) { on(at, 1) })
		}
		testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%s to print %d items (%d so far; stderr %s)", name, want, n.Load(), p.stderr.String()),
			func() bool { return doneAt.Load() != 0 })
		p.stop()
		return time.Unix(0, doneAt.Load()).Sub(start)
	}
	const runs = 3
	var merged, slowest, single []time.Duration
	for run := range runs {
		cmd := cs.Clusters[names[0]].KubectlCmd(ctx, "deploywatch", "watch", "--all-contexts", "-A", "-o", "ndjson")
		cmd.Env = cs.Env()
		m := count("deploywatch watch --all-contexts -A -o ndjson", cmd, false, int64(len(names)*perCluster), time.Now())

		// Three at once, one per cluster: what a user runs today; the
		// slowest is when they have seen everything.
		together := func(name string, args func(string) []string, json bool, env bool) time.Duration {
			start := time.Now()
			took := make([]time.Duration, len(names))
			var kw sync.WaitGroup
			for i, c := range names {
				kw.Go(func() {
					cmd := cs.Clusters[c].KubectlCmd(ctx, args(c)...)
					if env {
						cmd.Env = cs.Env()
					}
					took[i] = count(name+" ("+c+")", cmd, json, int64(perCluster), start)
				})
			}
			kw.Wait()
			t.Logf("run %d: %s per cluster %v", run, name, took)
			return max(took[0], took[1], took[2])
		}
		k := together("kubectl get deploy -A -w -o json", func(string) []string {
			return []string{"get", "deploy", "-A", "-w", "-o", "json"}
		}, true, false)
		d := together("deploywatch watch --context C -A -o ndjson", func(c string) []string {
			return []string{"deploywatch", "watch", "--context", c, "-A", "-o", "ndjson"}
		}, false, true)
		t.Logf("run %d: merged %v; slowest kubectl %v, slowest single deploywatch %v", run, m.Round(time.Millisecond), k.Round(time.Millisecond), d.Round(time.Millisecond))
		merged, slowest, single = append(merged, m), append(slowest, k), append(single, d)
	}
	sec := section{
		title: fmt.Sprintf("Contexts: %d clusters of %d Deployments each, median of %d runs", len(names), perCluster, runs),
		head:  []string{"client", "start to all shown"},
		rows: [][]string{
			{"deploywatch watch --all-contexts -A -o ndjson (one merged view)", ms(percentile(merged, 50))},
			{"3 x deploywatch watch --context C -A -o ndjson, started together (the slowest)", ms(percentile(single, 50))},
			{"3 x kubectl get deploy -A -w -o json, started together (the slowest)", ms(percentile(slowest, 50))},
		},
	}
	sec.notes = append(sec.notes, fmt.Sprintf("Three test-bed clusters of the benchmark's own on this machine; the Deployments (0 replicas, so no pods) were created in %v.", created.Round(time.Millisecond)))
	r.add(sec)
}
