package bench

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchServing: what serving costs. N Deployments, each with a running
// pod, watched with `watch -A` (the diagnosis and serving) and with
// --diagnose=false, first without Services, then with one Service per
// Deployment and the EndpointSlice the real endpointslice controller makes
// for it: time to the full view and peak RSS.
func benchServing(t *testing.T, r *report) {
	namespaces, perNS := pick(100, 20), 100
	total := namespaces * perNS
	pc := startPodCluster(t, "srv", namespaces, perNS)
	c, cs, ctx, created := pc.c, pc.cs, context.Background(), pc.created
	testbed.BuildPlugin(t)

	tools := []struct {
		name string
		args []string
	}{
		{"deploywatch watch -A (diagnosis and serving)", []string{"deploywatch", "watch", "-A"}},
		{"deploywatch watch -A --diagnose=false (Deployments alone)", []string{"deploywatch", "watch", "-A", "--diagnose=false"}},
	}
	const runs = 3
	measure := func(phase string) [][2]string {
		out := make([][2]string, len(tools))
		for i, tool := range tools {
			out[i] = medianView(t, c, phase+": "+tool.name, tool.args, int64(total)+1, runs) // the header, then a row each
		}
		return out
	}
	without := measure("without Services")

	t1 := time.Now()
	createServices(t, cs, "srv", namespaces, perNS)
	testutil.Eventually(t, 15*time.Minute, fmt.Sprintf("%d EndpointSlices with a ready endpoint", total), func() bool {
		list, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName, ResourceVersion: "0"})
		if err != nil {
			return false
		}
		ready := 0
		for _, es := range list.Items {
			for _, e := range es.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready >= total
	})
	servicesMade := time.Since(t1)
	with := measure("with Services")

	sec := section{
		title: fmt.Sprintf("13. Serving: %d Deployments in %d namespaces, each with a running pod, without and with a Service each (and its EndpointSlice), median of %d runs", total, namespaces, runs),
		head:  []string{"client", "no Services: all shown", "peak RSS", fmt.Sprintf("%d Services: all shown", total), "peak RSS"},
	}
	for i, tool := range tools {
		sec.rows = append(sec.rows, []string{tool.name, without[i][0], without[i][1], with[i][0], with[i][1]})
	}
	sec.notes = append(sec.notes, fmt.Sprintf("A cluster of the benchmark's own (one kwok node per 100 pods); the Deployments were created, and their pods ran, in %v; "+
		"the Services' slices were made and ready %v after the Services were created (32 parallel clients). Time from starting the command to reading the piped table's last row; "+
		"RSS is the process's VmHWM then; \"file\" is how much of the RSS then was the binary's own pages mapped from its file (RssFile), the rest is the program's memory (RssAnon). With the diagnosis, deploywatch lists and watches Deployments, ReplicaSets, Pods, Warning Events, Services and EndpointSlices. "+
		"Target (issue 26): 10,000 Deployments with 10,000 Services and their slices under 200 MB and 2 s.", created.Round(time.Second), servicesMade.Round(time.Second)))
	r.add(sec)
}

// memAt is a process's peak RSS and its file-backed RSS at one moment, in kB.
type memAt struct{ hwm, file int64 }

// medianView runs timeToView runs times and returns the median time and
// the median peak RSS (with its file-backed part) as the tables print them.
func medianView(t *testing.T, c *testbed.Cluster, name string, args []string, want int64, runs int) [2]string {
	var took []time.Duration
	var hwm []memAt
	for run := range runs {
		d, m := timeToView(t, c, args, want)
		t.Logf("%s, run %d: %v, %s (%s of it the binary's mapped pages)", name, run, d.Round(time.Millisecond), mb(m.hwm), mb(m.file))
		took, hwm = append(took, d), append(hwm, m)
	}
	slices.SortFunc(hwm, func(a, b memAt) int { return cmp.Compare(a.hwm, b.hwm) })
	m := hwm[len(hwm)/2]
	return [2]string{ms(percentile(took, 50)), fmt.Sprintf("%s (%s file)", mb(m.hwm), mb(m.file))}
}

// timeToView starts kubectl args and returns how long until it printed
// want lines, and its peak RSS then.
func timeToView(t *testing.T, c *testbed.Cluster, args []string, want int64) (time.Duration, memAt) {
	var count, doneAt, hwm, file atomic.Int64
	cmd := c.KubectlCmd(context.Background(), args...)
	start := time.Now()
	p := startLines(t, args[len(args)-1], cmd, func(_ []byte, at time.Time) {
		if count.Add(1) == want {
			doneAt.Store(at.UnixNano())
			hwm.Store(procStatus(cmd.Process.Pid, "VmHWM"))
			file.Store(procStatus(cmd.Process.Pid, "RssFile"))
		}
	})
	testutil.Eventually(t, 5*time.Minute, fmt.Sprintf("%v to print %d lines (%d so far; stderr %s)", args, want, count.Load(), p.stderr.String()),
		func() bool { return doneAt.Load() != 0 })
	p.stop()
	return time.Unix(0, doneAt.Load()).Sub(start), memAt{hwm.Load(), file.Load()}
}

// createServices makes a Service per Deployment of createMany, selecting
// its pods (headless).
func createServices(t *testing.T, cs kubernetes.Interface, prefix string, namespaces, perNS int) {
	ctx := context.Background()
	inParallel(t, 32, 0, namespaces*perNS, "Service creates", func(i int) error {
		name := fmt.Sprintf("app-%04d", i%perNS)
		// Headless: the test bed's API server has the default Service
		// range, a /24; the slices are the same.
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		}}
		_, err := cs.CoreV1().Services(fmt.Sprintf("%s-%03d", prefix, i/perNS)).Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
}
