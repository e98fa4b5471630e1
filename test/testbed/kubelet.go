package testbed

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// This file stops and starts the kubelet of one node, as a node that loses
// power or its network does: its kubelet stops renewing the node's Lease
// and reporting the node's and its pods' status. What it relies on, read in
// kwok v0.7.0 (pkg/kwok/controllers: controller.go, node_lease_controller.go,
// node_controller.go, pod_controller.go) and k8s.io/kubernetes v1.37.2
// (pkg/controller/nodelifecycle, pkg/controller/util/node), and checked on
// the test bed on 2026-12-07:
//
//   - kwok renews each node's Lease in kube-node-lease every quarter of its
//     duration, and only while it holds it: a Lease held by someone else
//     that has not expired it leaves alone. So holding the Lease under
//     another name stops the node's heartbeat. Stages alone cannot: kwok
//     would go on renewing the Lease, and the node stays Ready while its
//     Lease is renewed. kwok still plays pod Stages on that node's pods
//     (seen: the resync stage made a pod the controller had just marked
//     Ready again 0.4 s later), so StopKubelet also labels the node's pods
//     with stoppedLabel, which the resync stage skips.
//   - The node lifecycle controller turns the node's conditions Unknown
//     once neither its Lease nor its Ready condition's heartbeat has moved for
//     --node-monitor-grace-period; only then (not when a kubelet reports
//     Ready False itself) does it set Ready False on the node's pods and
//     record a Warning NodeNotReady event, "Node is not ready", on each
//     (MarkPodsNotReady). Before that its lease circuit breaker reads the
//     Lease again and gives up while it differs from the last renewal seen:
//     the Lease must be taken with a renewal (seen in the test bed: taken
//     without one, the node stayed Ready). It taints the node unreachable;
//     DaemonSet pods tolerate the NoExecute taint and stay.
//   - Once the Lease is deleted, kwok makes a new one within a quarter of the
//     lease duration, manages the node again and plays its stages: the
//     testbed-node-ready stage (stages.go) makes it Ready. kwok's default pod stages never
//     touch a pod that has an IP again, so the pods would stay not ready; a
//     real kubelet that comes back reports them anew, which the
//     testbed-kubelet-resync stage does here (stages.go).

// kubeletStopsOptions are the kwokctl options of a cluster with
// Options.KubeletStops: the node lifecycle controller looks at the nodes
// every second and finds a node silent after 20 s without a Lease renewal
// (kwokctl's defaults, 25 s and 200 s, are the kubelet's times 5, its
// heartbeatFactor), and kwok renews every Lease every 5 s (a quarter of
// its 20 s), so a healthy node misses 4 renewals before it is taken for
// silent, as with a real kubelet's 10 s and the controller's 50 s.
const kubeletStopsOptions = `  heartbeatFactor: 1
  nodeLeaseDurationSeconds: 20
  kubeControllerManagerNodeMonitorPeriodMilliseconds: 1000
  kubeControllerManagerNodeMonitorGracePeriodMilliseconds: 20000
`

// stoppedHolder holds the Lease of a node whose kubelet is stopped.
const stoppedHolder = "deploywatch-testbed-stopped-kubelet"

// stoppedLabel marks the pods of a node whose kubelet is stopped: no stage
// that stands for the kubelet plays on them.
const stoppedLabel = "testbed.deploywatch.dev/kubelet-stopped"

// StopKubelet stops the kubelet of node, which kwok plays, and returns once
// the node lifecycle controller has found the node silent (its Ready
// condition Unknown, "Kubelet stopped posting node status."): it has then
// set Ready False on the node's pods and recorded a NodeNotReady event on
// each. Until StartKubelet nothing changes the node's or its pods' status
// but the control plane. The cluster needs Options.KubeletStops.
func (c *Cluster) StopKubelet(node string) error {
	cs, ctx, cancel, err := c.kubeletClient()
	if err != nil {
		return err
	}
	defer cancel()
	if err := labelPodsOf(ctx, cs, node, `{"metadata":{"labels":{"`+stoppedLabel+`":"true"}}}`); err != nil {
		return fmt.Errorf("stop the kubelet of node %s: %w", node, err)
	}
	leases := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := leases.Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// One last renewal, as a kubelet's just before it dies: the node
		// lifecycle controller's lease circuit breaker (Beta, on in v1.37)
		// never marks a node whose live Lease differs from the last renewal
		// it saw, so a Lease changed without a later renew time would keep
		// the node Ready for ever. The day keeps kwok from taking it for
		// expired.
		l.Spec.HolderIdentity = ptr.To(stoppedHolder)
		l.Spec.LeaseDurationSeconds = ptr.To[int32](24 * 60 * 60)
		l.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("stop the kubelet of node %s: take its lease: %w", node, err)
	}
	return c.waitUntil(ctx, func() error { return nodeReadyIs(ctx, cs, node, corev1.ConditionUnknown) })
}

// StartKubelet starts the kubelet of node again and returns once the node
// is Ready. Its pods become ready again soon after (testbed-kubelet-resync).
func (c *Cluster) StartKubelet(node string) error {
	cs, ctx, cancel, err := c.kubeletClient()
	if err != nil {
		return err
	}
	defer cancel()
	err = cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, node, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("start the kubelet of node %s: give its lease back: %w", node, err)
	}
	if err := c.waitUntil(ctx, func() error { return nodeReadyIs(ctx, cs, node, corev1.ConditionTrue) }); err != nil {
		return err
	}
	if err := labelPodsOf(ctx, cs, node, `{"metadata":{"labels":{"`+stoppedLabel+`":null}}}`); err != nil {
		return fmt.Errorf("start the kubelet of node %s: %w", node, err)
	}
	return nil
}

// labelPodsOf merge-patches the labels of every pod on node with patch.
func labelPodsOf(ctx context.Context, cs kubernetes.Interface, node, patch string) error {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return fmt.Errorf("list the pods of node %s: %w", node, err)
	}
	for _, p := range pods.Items {
		_, err := cs.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("label pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

func (c *Cluster) kubeletClient() (kubernetes.Interface, context.Context, context.CancelFunc, error) {
	if !c.stoppable {
		return nil, nil, nil, errors.New("testbed: the cluster cannot stop kubelets: start it with Options{KubeletStops: true}")
	}
	cs, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	return cs, ctx, cancel, nil
}

// nodeReadyIs says how node's Ready condition differs from want.
func nodeReadyIs(ctx context.Context, cs kubernetes.Interface, node string, want corev1.ConditionStatus) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status == want {
				return nil
			}
			return fmt.Errorf("node %s is Ready %s (%s), not %s", node, cond.Status, cond.Reason, want)
		}
	}
	return fmt.Errorf("node %s has no Ready condition", node)
}
