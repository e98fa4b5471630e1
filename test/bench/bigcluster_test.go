package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchBigCluster: 10,000 Deployments in 100 namespaces on a cluster of the
// benchmark's own; how long until each tool has shown them all, and its
// memory.
func benchBigCluster(t *testing.T, r *report) {
	namespaces, perNS := pick(100, 10), 100
	total := namespaces * perNS
	pc := startPodCluster(t, "big", namespaces, perNS)
	c, ctx, created := pc.c, context.Background(), pc.created
	testbed.BuildPlugin(t)

	type result struct {
		took []time.Duration
		hwm  []int64
	}
	tools := []struct {
		name string
		args []string
		json bool
		// lines each object takes: the table has a header line first
		header int
	}{
		{"deploywatch watch -A (table, piped)", []string{"deploywatch", "watch", "-A"}, false, 1},
		{"deploywatch watch -A --diagnose=false (Deployments alone, as before the diagnosis)", []string{"deploywatch", "watch", "-A", "--diagnose=false"}, false, 1},
		{"deploywatch watch -A -o ndjson", []string{"deploywatch", "watch", "-A", "-o", "ndjson"}, false, 0},
		{"kubectl get deploy -A -w -o json", []string{"get", "deploy", "-A", "-w", "-o", "json"}, true, 0},
	}
	results := make([]result, len(tools))
	const runs = 3
	for run := range runs {
		for i, tool := range tools {
			var count atomic.Int64
			var doneAt atomic.Int64
			var hwm atomic.Int64
			want := int64(total + tool.header)
			cmd := c.KubectlCmd(ctx, tool.args...)
			start := time.Now()
			onItem := func(at time.Time, n int64) {
				if c := count.Add(n); c >= want && c-n < want {
					doneAt.Store(at.UnixNano())
					hwm.Store(procStatus(cmd.Process.Pid, "VmHWM"))
				}
			}
			var p *proc
			if tool.json {
				// kubectl prints what it lists first as one List, then an object per event.
				p = startJSON(t, tool.name, cmd, func(v map[string]any, at time.Time) {
					if items, ok := v["items"].([]any); ok {
						onItem(at, int64(len(items)))
					} else {
						onItem(at, 1)
					}
				})
			} else {
				p = startLines(t, tool.name, cmd, func(_ []byte, at time.Time) { onItem(at, 1) })
			}
			testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%s (run %d) to print %d items (%d so far; stderr %s)", tool.name, run, want, count.Load(), p.stderr.String()),
				func() bool { return doneAt.Load() != 0 })
			p.stop()
			t.Logf("run %d: %s printed %d items in %v", run, tool.name, want, time.Unix(0, doneAt.Load()).Sub(start).Round(time.Millisecond))
			results[i].took = append(results[i].took, time.Unix(0, doneAt.Load()).Sub(start))
			results[i].hwm = append(results[i].hwm, hwm.Load())
		}
	}
	sec := section{
		title: fmt.Sprintf("5. Big cluster: %d Deployments in %d namespaces, each with a running pod, median of %d runs each", total, namespaces, runs),
		head:  []string{"client", "start to all shown", "peak RSS"},
	}
	for i, tool := range tools {
		slices.Sort(results[i].hwm)
		sec.rows = append(sec.rows, []string{tool.name, ms(percentile(results[i].took, 50)), mb(results[i].hwm[len(results[i].hwm)/2])})
	}
	sec.notes = append(sec.notes, fmt.Sprintf("A cluster of the benchmark's own (one kwok node per 100 pods); the Deployments were created, and their pods ran, in %v (32 parallel clients). "+
		"Time from starting the command to reading the table's last row (the first table is printed once the informer has synced) or the last object; "+
		"RSS is the process's VmHWM then (kubectl execs the plugin, so its pid is the plugin's). Target: RSS under 150 MB, the first complete view within 1 s with the diagnosis (which also lists and watches every ReplicaSet, Pod and Warning Event).", created.Round(time.Second)))
	r.add(sec)
}

// podCluster is a cluster of a section's own with namespaces × perNS
// Deployments (app-NNNN in PREFIX-NNN), each with one pod that kwok runs:
// the shape the diagnosis reads (a ReplicaSet and a pod per Deployment).
type podCluster struct {
	c  *testbed.Cluster
	cs kubernetes.Interface
	// nodes is how many kwok nodes it has; created is how long the
	// Deployments took to be made and their pods to run.
	nodes   int
	created time.Duration
}

// startPodCluster starts a podCluster and waits until every pod runs.
func startPodCluster(t *testing.T, prefix string, namespaces, perNS int) *podCluster {
	total := namespaces * perNS
	// The controllers' default 20 requests a second would take half an
	// hour to make 10,000 ReplicaSets and pods.
	c := testbed.StartWith(t, testbed.Options{ControllerManagerArgs: map[string]string{"kube-api-qps": "1000", "kube-api-burst": "2000"}})
	pc := &podCluster{c: c, nodes: total/100 + 1} // a kwok node takes 110 pods, as a kubelet's default maxPods
	pc.scaleNodes(t, pc.nodes)
	config := c.RESTConfig()
	config.QPS, config.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	pc.cs = cs
	t0 := time.Now()
	createMany(t, cs, prefix, namespaces, perNS, func(int) int32 { return 1 })
	pc.waitRunning(t, total)
	pc.created = time.Since(t0)
	return pc
}

func (pc *podCluster) scaleNodes(t *testing.T, n int) {
	if out, err := pc.c.Kwokctl("scale", "node", "--replicas", strconv.Itoa(n)); err != nil {
		t.Fatalf("scale to %d nodes: %v: %s", n, err, out)
	}
	pc.nodes = n
}

// waitRunning waits until at least n pods run.
func (pc *podCluster) waitRunning(t *testing.T, n int) {
	testutil.Eventually(t, 20*time.Minute, fmt.Sprintf("%d pods to run", n), func() bool {
		pods, err := pc.cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "status.phase=Running", ResourceVersion: "0"})
		return err == nil && len(pods.Items) >= n
	})
}
