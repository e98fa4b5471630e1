package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// Pods per Deployment in benchServeMemory, and Deployments per namespace.
const (
	memPodsPerDeployment   = 50
	memDeploymentsPerNS    = 10
	memRunningPollInterval = 5 * time.Second
)

// benchServeMemory: serve's memory with the cluster-wide watch (deploy/'s
// default) against a cluster of 1,000, 10,000 and 50,000 Running pods
// (issue 29): the pods, their ReplicaSets and Deployments are what its
// informers hold. The cluster grows from one size to the next; at each,
// serve starts afresh, once as it is and once with deploy/'s GOMEMLIMIT, and
// its memory is read once its cluster-wide watches have synced.
func benchServeMemory(t *testing.T, r *report) {
	// e.g. BENCH_PODS=50000 for one size.
	sizes := benchSizes(t, "BENCH_PODS", pick([]int{1000, 10000, 50000}, []int{1000, 10000}))
	c := testbed.Start(t)
	config := c.RESTConfig()
	config.QPS, config.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("no nodes: %v", err)
	}
	sec := section{
		title: "serve's memory against the cluster's pods: the cluster-wide watch (deploy/'s default), synced, one viewer of the namespace list",
		head: []string{"Running pods (Deployments, namespaces)", "GOMEMLIMIT", "time to synced", "serve RSS", "serve RSS peak (VmHWM)",
			"Go heap in use", "Go heap objects"},
	}
	made := 0
	var makeTook time.Duration
	for _, size := range sizes {
		t0 := time.Now()
		made = growPods(t, c, cs, nodes.Items, made, size)
		makeTook += time.Since(t0)
		for _, limit := range []string{"", "200MiB"} {
			t.Run(fmt.Sprintf("%d/GOMEMLIMIT=%s", size, limit), func(t *testing.T) {
				row := measureServeMemory(t, c, limit)
				deployments := size / memPodsPerDeployment
				sec.rows = append(sec.rows, append([]string{
					fmt.Sprintf("%d (%d, %d)", size, deployments, (deployments+memDeploymentsPerNS-1)/memDeploymentsPerNS),
					cmpOr(limit, "none"),
				}, row...))
			})
		}
	}
	sec.notes = append(sec.notes, fmt.Sprintf("Pods are made as the controllers would have (a Deployment of %d replicas, its ReplicaSet, its pods "+
		"owned by it and placed on kwok's nodes; the controller-manager stopped while they are written, so its 20 requests a second do not "+
		"take an hour), then kwok runs them: every pod is Running and Ready when serve starts. Making them took %s. serve starts with "+
		"--watch-scope=cluster --linger=1h; one GET /api/namespaces starts its cluster-wide watches (Deployments, ReplicaSets, Pods, "+
		"Warning Events, Services, EndpointSlices, PodDisruptionBudgets, Namespaces); figures are read once deploywatch_informers_running "+
		"is 1 (synced). RSS and VmHWM from /proc; heap in use and objects from its /metrics (go_memstats_heap_inuse_bytes, "+
		"go_memstats_heap_objects) at the same moment, so not after a collection.", memPodsPerDeployment, makeTook.Round(time.Second)))
	r.add(sec)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// measureServeMemory starts serve with GOMEMLIMIT=limit (none if empty),
// has it sync its cluster-wide watches, and returns the row's figures
// after the first two columns.
func measureServeMemory(t *testing.T, c *testbed.Cluster, limit string) []string {
	var env []string
	if limit != "" {
		env = []string{"GOMEMLIMIT=" + limit}
	}
	start := time.Now()
	s := startServeEnvOn(t, c, env, "--watch-scope=cluster", "--linger=1h")
	defer s.stop()
	resp, err := s.get("/api/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/namespaces: %d", resp.StatusCode)
	}
	testutil.Eventually(t, 15*time.Minute, "serve's cluster-wide watches to sync", func() bool {
		return s.metric("deploywatch_informers_running") == 1
	})
	took := time.Since(start)
	rss, hwm := procStatus(s.pid(), "VmRSS"), procStatus(s.pid(), "VmHWM")
	heap, objects := s.metric("go_memstats_heap_inuse_bytes"), s.metric("go_memstats_heap_objects")
	return []string{
		fmt.Sprintf("%.1f s", took.Seconds()), mb(rss), mb(hwm),
		fmt.Sprintf("%.0f MB", heap/(1<<20)), strconv.FormatFloat(objects, 'f', 0, 64),
	}
}

// startServeEnvOn is startServeOn with env added to serve's environment.
func startServeEnvOn(t *testing.T, c *testbed.Cluster, env []string, args ...string) *serveProc {
	t.Helper()
	addr := make(chan [2]string, 1)
	cmd := c.KubectlCmd(context.Background(), append([]string{"deploywatch", "serve", "--address", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	p := startLines(t, "serve", cmd, func(line []byte, _ time.Time) {
		if m := servingLine.FindSubmatch(line); m != nil {
			token, _ := url.QueryUnescape(string(m[2]))
			addr <- [2]string{string(m[1]), token}
		}
	})
	select {
	case a := <-addr:
		return &serveProc{proc: p, addr: a[0], token: a[1]}
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve printed no URL; stderr:\n%s", p.stderr.String())
		return nil
	}
}

// growPods makes Deployments of memPodsPerDeployment Running pods until
// the cluster has want pods (it has have), and returns want. The
// controller-manager is stopped while the Deployments, their ReplicaSets
// and pods are written, so that its ReplicaSet controller, which would
// make the pods at 20 a second, finds them made; started again, it rolls
// the Deployments out over them as over its own.
func growPods(t *testing.T, c *testbed.Cluster, cs kubernetes.Interface, nodes []corev1.Node, have, want int) int {
	t.Helper()
	ctx := context.Background()
	if err := c.StopComponent(testbed.ControllerManager); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.StartComponents(); err != nil {
			t.Errorf("start the controller-manager again: %v", err)
		}
	}()
	first, last := have/memPodsPerDeployment, want/memPodsPerDeployment
	for ns := first / memDeploymentsPerNS; ns <= (last-1)/memDeploymentsPerNS; ns++ {
		if ns*memDeploymentsPerNS < first {
			continue // made with the last size
		}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: memNamespace(ns)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The pods' admission needs it, and the controller that makes it
		// is stopped.
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
		if _, err := cs.CoreV1().ServiceAccounts(memNamespace(ns)).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	inParallel(t, 32, first, last, "Deployments", func(i int) error { return makeDeploymentPods(ctx, cs, nodes, i) })
	// A list of 50,000 pods is no small read: every few seconds.
	tick := time.NewTicker(memRunningPollInterval)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running", ResourceVersion: "0"})
		if err == nil && len(pods.Items) >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d pods Running after 30 minutes", want)
		}
		<-tick.C
	}
	return want
}

func memNamespace(i int) string { return fmt.Sprintf("mem-%04d", i) }

// makeDeploymentPods writes Deployment i (app-NNNNN in its namespace), a
// ReplicaSet it controls with the same template, and its pods, owned by
// the ReplicaSet and placed on nodes in turn, as the controllers and the
// scheduler would have.
func makeDeploymentPods(ctx context.Context, cs kubernetes.Interface, nodes []corev1.Node, i int) error {
	ns := memNamespace(i / memDeploymentsPerNS)
	name := fmt.Sprintf("app-%05d", i)
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, testutil.Deployment(name, testutil.Replicas(memPodsPerDeployment)), metav1.CreateOptions{})
	if err != nil {
		return err
	}
	hash := fmt.Sprintf("%010x", i)
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels["pod-template-hash"] = hash
	replicas := int32(memPodsPerDeployment)
	controller := true
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: name + "-" + hash, Labels: tmpl.Labels,
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller, BlockOwnerDeletion: &controller}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name, "pod-template-hash": hash}},
			Template: tmpl,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	for p := range memPodsPerDeployment {
		spec := *tmpl.Spec.DeepCopy()
		spec.NodeName = nodes[(i*memPodsPerDeployment+p)%len(nodes)].Name
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%05d", rs.Name, p), Labels: tmpl.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller, BlockOwnerDeletion: &controller}},
			},
			Spec: spec,
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
