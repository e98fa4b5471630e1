package tracker

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Strip is the informer transform: it keeps only what a summary reads, so a
// cluster with thousands of Deployments costs little memory. Managed fields,
// annotations, labels and all of the pod template but its labels (which
// Services select), container names and images, and what the rollout-safety
// rules read (ports, whether there are probes, preStop hooks, the grace
// period) are dropped before the object enters the cache; of the spec, the
// replicas, paused, minReadySeconds and the strategy (what a rollout
// promises to keep serving) stay.
func Strip(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil // a DeletedFinalStateUnknown tombstone: leave as is
	}
	out := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:              d.Name,
			Namespace:         d.Namespace,
			UID:               d.UID,
			ResourceVersion:   d.ResourceVersion,
			Generation:        d.Generation,
			DeletionTimestamp: d.DeletionTimestamp,
			CreationTimestamp: d.CreationTimestamp,
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: d.Spec.Replicas,
			Paused:   d.Spec.Paused,
			Strategy: d.Spec.Strategy,
		},
		Status: d.Status,
	}
	out.Spec.Template.Labels = d.Spec.Template.Labels
	if rev, ok := d.Annotations[RevisionAnnotation]; ok {
		out.Annotations = revisionOnly(rev) // tells the new ReplicaSet
	}
	out.Spec.MinReadySeconds = d.Spec.MinReadySeconds
	out.Spec.Template.Spec.TerminationGracePeriodSeconds = d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if len(d.Spec.Template.Spec.Containers) > 0 {
		cs := make([]corev1.Container, len(d.Spec.Template.Spec.Containers))
		for i := range d.Spec.Template.Spec.Containers {
			cs[i] = stripContainer(&d.Spec.Template.Spec.Containers[i])
		}
		out.Spec.Template.Spec.Containers = cs
	}
	for i := range d.Spec.Template.Spec.InitContainers {
		c := &d.Spec.Template.Spec.InitContainers[i]
		if p := c.RestartPolicy; p != nil && *p == corev1.ContainerRestartPolicyAlways { // a sidecar: it may serve
			sc := stripContainer(c)
			sc.RestartPolicy = p
			out.Spec.Template.Spec.InitContainers = append(out.Spec.Template.Spec.InitContainers, sc)
		}
	}
	conds := d.Status.Conditions
	if len(conds) > 0 {
		out.Status.Conditions = make([]appsv1.DeploymentCondition, len(conds))
		for i, c := range conds {
			// The timestamps say since when a Deployment is in its state
			// (Summary.Since); they are not part of what counts as a change.
			out.Status.Conditions[i] = appsv1.DeploymentCondition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message,
				LastTransitionTime: c.LastTransitionTime, LastUpdateTime: c.LastUpdateTime}
		}
	}
	return out, nil
}

// stripContainer keeps a container's name and image, and what the safety
// rules read: its ports' names and numbers, whether it has a readiness or
// startup probe (an empty one stands for it), and its preStop hook (a sleep
// or an exec is kept as it is, which tells how long it sleeps).
func stripContainer(c *corev1.Container) corev1.Container {
	out := corev1.Container{Name: c.Name, Image: c.Image}
	for _, p := range c.Ports {
		out.Ports = append(out.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort})
	}
	if c.ReadinessProbe != nil {
		out.ReadinessProbe = &corev1.Probe{}
	}
	if c.StartupProbe != nil {
		out.StartupProbe = &corev1.Probe{}
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		h := c.Lifecycle.PreStop
		out.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: h.Sleep, Exec: h.Exec}}
	}
	return out
}

// revisionMaps holds one annotations map per revision, shared read-only
// by every cached Deployment and ReplicaSet at that revision: a map of one
// entry costs about 300 bytes, and most of them say "1". Nothing writes to
// an informer's cached objects. It holds one map per revision value seen,
// so the cluster's highest revision bounds it.
var revisionMaps sync.Map // revision → map[string]string

// revisionOnly is the shared annotations map that holds revision rev alone.
func revisionOnly(rev string) map[string]string {
	if m, ok := revisionMaps.Load(rev); ok {
		return m.(map[string]string)
	}
	m, _ := revisionMaps.LoadOrStore(rev, map[string]string{RevisionAnnotation: rev})
	return m.(map[string]string)
}

// StripPDB keeps what says which pods a PodDisruptionBudget guards: its
// selector.
func StripPDB(obj any) (any, error) {
	p, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return obj, nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: p.Spec.Selector},
	}, nil
}

// controllerOnly keeps the one owner reference the diagnosis follows.
func controllerOnly(m metav1.Object) []metav1.OwnerReference {
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
		return []metav1.OwnerReference{*ref}
	}
	return nil
}

// ReplicaSet is what the ReplicaSets' informer keeps of one: an
// appsv1.ReplicaSet is 1.2 KB before it holds anything, most of it a pod
// template nothing here reads; this is a fifth of that. Full gives the
// ReplicaSet the diagnosis takes.
type ReplicaSet struct {
	metav1.ObjectMeta
	Replicas *int32
	Status   appsv1.ReplicaSetStatus
}

// Full is rs as an appsv1.ReplicaSet, sharing its fields.
func (rs *ReplicaSet) Full() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: rs.ObjectMeta, Spec: appsv1.ReplicaSetSpec{Replicas: rs.Replicas}, Status: rs.Status}
}

// StripReplicaSet keeps what tells a Deployment's new ReplicaSet and its
// failure to create pods, as a *ReplicaSet.
func StripReplicaSet(obj any) (any, error) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return obj, nil // stripped already, or a tombstone
	}
	out := &ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: rs.Name, Namespace: rs.Namespace, UID: rs.UID, ResourceVersion: rs.ResourceVersion,
			CreationTimestamp: rs.CreationTimestamp, OwnerReferences: controllerOnly(rs),
		},
		Replicas: rs.Spec.Replicas,
		Status:   appsv1.ReplicaSetStatus{Replicas: rs.Status.Replicas, ReadyReplicas: rs.Status.ReadyReplicas, AvailableReplicas: rs.Status.AvailableReplicas},
	}
	if rev, ok := rs.Annotations[RevisionAnnotation]; ok {
		out.Annotations = revisionOnly(rev)
	}
	for _, c := range rs.Status.Conditions {
		out.Status.Conditions = append(out.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime,
		})
	}
	return out, nil
}

// StripPod keeps a pod's owner, node, phase, the conditions that are not
// true of scheduling and readiness, and container states: what says
// whether and why it fails; and of its labels the two that tell a
// StatefulSet's or DaemonSet's new pods. Specs, images, IDs, IPs and
// managed fields are dropped.
func StripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp, OwnerReferences: controllerOnly(p),
		},
		Spec: corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{
			Phase: p.Status.Phase, Reason: p.Status.Reason, Message: p.Status.Message,
			InitContainerStatuses: stripContainers(p.Status.InitContainerStatuses),
			ContainerStatuses:     stripContainers(p.Status.ContainerStatuses),
		},
	}
	for _, k := range []string{revisionHashLabel, templateGenerationKey} {
		if v, ok := p.Labels[k]; ok {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels[k] = v
		}
	}
	for _, c := range p.Status.Conditions {
		// The diagnosis reads a pod that is not scheduled or not ready; a
		// healthy pod's four or five conditions cost about 600 bytes.
		if c.Status == corev1.ConditionTrue || (c.Type != corev1.PodScheduled && c.Type != corev1.PodReady) {
			continue
		}
		out.Status.Conditions = append(out.Status.Conditions, corev1.PodCondition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime,
		})
	}
	return out, nil
}

func stripContainers(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, c := range in {
		out[i] = corev1.ContainerStatus{
			Name: c.Name, State: c.State, LastTerminationState: c.LastTerminationState,
			Ready: c.Ready, RestartCount: c.RestartCount,
		}
	}
	return out
}

// StripEvent keeps what an event says and about what.
func StripEvent(obj any) (any, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return obj, nil
	}
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace, ResourceVersion: e.ResourceVersion, CreationTimestamp: e.CreationTimestamp},
		InvolvedObject: corev1.ObjectReference{
			Kind: e.InvolvedObject.Kind, Namespace: e.InvolvedObject.Namespace, Name: e.InvolvedObject.Name, UID: e.InvolvedObject.UID,
		},
		Reason: e.Reason, Message: e.Message, Type: e.Type, Count: e.Count,
		FirstTimestamp: e.FirstTimestamp, LastTimestamp: e.LastTimestamp, EventTime: e.EventTime, Series: e.Series,
	}, nil
}

// StripService keeps what says which pods a Service sends traffic to: its
// selector, and its type and ports.
func StripService(obj any) (any, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, UID: svc.UID, ResourceVersion: svc.ResourceVersion},
		Spec:       corev1.ServiceSpec{Selector: svc.Spec.Selector, Type: svc.Spec.Type},
	}
	if len(svc.Spec.Ports) > 0 {
		out.Spec.Ports = make([]corev1.ServicePort, len(svc.Spec.Ports))
		for i, p := range svc.Spec.Ports {
			out.Spec.Ports[i] = corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort}
		}
	}
	return out, nil
}

// StripEndpointSlice keeps the Service a slice belongs to and, per
// endpoint, its ready, serving and terminating conditions and the pod
// behind it (or, with no pod, its first address, to count it once).
func StripEndpointSlice(obj any) (any, error) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	out := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: es.Name, Namespace: es.Namespace, UID: es.UID, ResourceVersion: es.ResourceVersion},
		AddressType: es.AddressType,
	}
	if svc, ok := es.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: svc}
	}
	if len(es.Endpoints) > 0 {
		out.Endpoints = make([]discoveryv1.Endpoint, len(es.Endpoints))
		for i, e := range es.Endpoints {
			ep := discoveryv1.Endpoint{Conditions: e.Conditions}
			if r := e.TargetRef; r != nil {
				ep.TargetRef = &corev1.ObjectReference{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
			} else if len(e.Addresses) > 0 {
				ep.Addresses = []string{e.Addresses[0]}
			}
			out.Endpoints[i] = ep
		}
	}
	return out, nil
}
