package tracker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// This file is the kinds of workload the tracker follows: Deployments,
// StatefulSets and DaemonSets, one informer each, handled alike. Only what
// reads an object of one kind (its transform, its summary, its diagnosis)
// differs.

// workload is one kind the tracker follows.
type workload struct {
	kind     string // deployment.KindDeployment, ...
	resource string // "deployments", for messages and the health
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
	// startErr gets the first error of the first list that waiting cannot
	// fix; stop ends this kind's informer alone.
	startErr chan error
	ctx      context.Context
	stop     context.CancelFunc
	// summarize summarizes an object of this kind, with the tracker's
	// lock held.
	summarize func(obj any) deployment.Summary
}

// key is the summary key (deployment.Summary.Key) of the workload of this
// kind with this store key (namespace/name).
func (w *workload) key(storeKey string) string {
	if w.kind == deployment.KindDeployment {
		return storeKey
	}
	ns, name, _ := strings.Cut(storeKey, "/")
	s := deployment.Summary{Kind: w.kind, Namespace: ns, Name: name}
	return s.Key()
}

// kinds are the kinds followed, in deployment.Kinds' order.
func (t *Tracker) kinds() []string {
	if len(t.opts.Kinds) == 0 {
		return []string{deployment.KindDeployment}
	}
	return t.opts.Kinds
}

// workload is the tracker's workload of kind, nil when not followed.
func (t *Tracker) workload(kind string) *workload {
	for _, w := range t.workloads {
		if w.kind == kind {
			return w
		}
	}
	return nil
}

// newWorkload builds the informer of one kind, with its transform and its
// start errors (see startErrors). indexers are the Deployments' (serving's
// and the warnings').
func (t *Tracker) newWorkload(ctx context.Context, kind string, indexers cache.Indexers, synced *atomic.Bool) (*workload, error) {
	w := &workload{kind: kind, resource: strings.ToLower(kind) + "s", startErr: make(chan error, 1)}
	var lw cache.ListerWatcher
	var obj runtime.Object
	var transform cache.TransformFunc
	ns := t.opts.Namespace
	if kind != deployment.KindDeployment && t.opts.Workloads == nil {
		return nil, fmt.Errorf("tracker: following %ss needs Options.Workloads", kind)
	}
	switch kind {
	case deployment.KindStatefulSet:
		lw = workloadListWatch(ctx, t, w.resource, t.opts.Workloads.StatefulSets(ns), t.opts.Workloads)
		obj, transform = &appsv1.StatefulSet{}, StripStatefulSet
		w.summarize = func(o any) deployment.Summary {
			sts := o.(*appsv1.StatefulSet)
			return deployment.SummarizeStatefulSet(sts, t.diagnoseStatefulSet(sts))
		}
		indexers = nil
	case deployment.KindDaemonSet:
		lw = workloadListWatch(ctx, t, w.resource, t.opts.Workloads.DaemonSets(ns), t.opts.Workloads)
		obj, transform = &appsv1.DaemonSet{}, StripDaemonSet
		w.summarize = func(o any) deployment.Summary {
			ds := o.(*appsv1.DaemonSet)
			return deployment.SummarizeDaemonSet(ds, t.diagnoseDaemonSet(ds))
		}
		indexers = nil
	default:
		lw = t.listWatch(ctx)
		obj, transform = &appsv1.Deployment{}, Strip
		w.summarize = func(o any) deployment.Summary { return t.summarizeLocked(o.(*appsv1.Deployment)) }
	}
	w.informer = cache.NewSharedIndexInformerWithOptions(lw, obj,
		cache.SharedIndexInformerOptions{ObjectDescription: w.resource, Indexers: indexers})
	if err := w.informer.SetTransform(transform); err != nil {
		return nil, err
	}
	if err := w.informer.SetWatchErrorHandlerWithContext(t.startErrors(synced, w.startErr)); err != nil {
		return nil, err
	}
	return w, nil
}

// workloadListWatch lists and watches one kind other than Deployments
// through c, with the tracker's selectors, under the health's eye.
func workloadListWatch[L runtime.Object](ctx context.Context, t *Tracker, resource string, c lister[L], client any) cache.ListerWatcher {
	lw := listWatch(c, func(o *metav1.ListOptions) {
		o.LabelSelector = t.opts.LabelSelector
		o.FieldSelector = t.opts.FieldSelector
	})
	return cache.ToListWatcherWithWatchListSemantics(t.health.monitor(ctx, resource, lw), client)
}

// Labels the StatefulSet and DaemonSet controllers put on their pods.
const (
	revisionHashLabel     = appsv1.ControllerRevisionHashLabelKey // "controller-revision-hash"
	templateGenerationKey = "pod-template-generation"
	// templateGenerationAnnotation is where the API server numbers a
	// DaemonSet's pod template.
	templateGenerationAnnotation = appsv1.DeprecatedTemplateGeneration
)

// ownedPods are the pods in ns whose controller is the object with this
// kind, name and UID.
func (t *Tracker) ownedPods(ns, kind, name string, uid types.UID) []*corev1.Pod {
	objs, _ := t.pods.GetIndexer().ByIndex(byOwner, ns+"/"+name)
	var out []*corev1.Pod
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.Kind == kind && ref.UID == uid {
			out = append(out, p)
		}
	}
	return out
}

// eventsAbout are the Warning Events about the object of this kind and
// name in ns, and about each of pods.
func (t *Tracker) eventsAbout(ns, kind, name string, pods []*corev1.Pod) []*corev1.Event {
	if t.events == nil {
		return nil
	}
	var out []*corev1.Event
	add := func(kind, name string) {
		evs, _ := t.events.GetIndexer().ByIndex(byObject, ns+"/"+kind+"/"+name)
		for _, o := range evs {
			if e, ok := o.(*corev1.Event); ok {
				out = append(out, e)
			}
		}
	}
	if name != "" {
		add(kind, name)
	}
	for _, p := range pods {
		add("Pod", p.Name)
	}
	return out
}

// diagnoseStatefulSet reads the diagnosis of sts: its new pods (of
// status.updateRevision) and its FailedCreate events; under OrderedReady
// with RollingUpdate, also its old pods that fail, which the controller
// waits on (Problem.Blocking). nil when the tracker does not diagnose.
func (t *Tracker) diagnoseStatefulSet(sts *appsv1.StatefulSet) *deployment.Diagnosis {
	if t.pods == nil {
		return nil
	}
	if !t.diagnosable.Load() {
		return &deployment.Diagnosis{}
	}
	diag := &deployment.Diagnosis{Known: true}
	if sts.Status.ObservedGeneration < sts.Generation || sts.Status.UpdateRevision == "" {
		return diag // which pods are new is not known yet
	}
	desired := int32(1)
	if sts.Spec.Replicas != nil {
		desired = *sts.Spec.Replicas
	}
	var fresh, old []*corev1.Pod
	for _, p := range t.ownedPods(sts.Namespace, "StatefulSet", sts.Name, sts.UID) {
		if p.Labels[revisionHashLabel] == sts.Status.UpdateRevision {
			fresh = append(fresh, p)
		} else {
			old = append(old, p)
		}
	}
	owner := &diagnosis.Owner{Kind: "StatefulSet", Name: sts.Name, Missing: sts.Status.Replicas < desired}
	diag.Problems = diagnosis.Diagnose(diagnosis.Input{Owner: owner, Pods: fresh, Events: t.eventsAbout(sts.Namespace, "StatefulSet", sts.Name, fresh)})
	if deployment.OrderedReady(sts) && sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && len(old) > 0 {
		blocking := diagnosis.Diagnose(diagnosis.Input{Owner: &diagnosis.Owner{Kind: "StatefulSet", Name: sts.Name},
			Pods: old, Events: t.eventsAbout(sts.Namespace, "", "", old)})
		for _, p := range blocking {
			if p.Pod == "" {
				continue
			}
			p.Blocking = true
			diag.Problems = append(diag.Problems, p)
		}
	}
	return diag
}

// diagnoseDaemonSet reads the diagnosis of ds: its new pods (of its pod
// template's generation) and its FailedCreate events, and its old pods on
// nodes that are not ready, which keep it from being available. nil when
// the tracker does not diagnose.
func (t *Tracker) diagnoseDaemonSet(ds *appsv1.DaemonSet) *deployment.Diagnosis {
	if t.pods == nil {
		return nil
	}
	if !t.diagnosable.Load() {
		return &deployment.Diagnosis{}
	}
	diag := &deployment.Diagnosis{Known: true}
	generation := ds.Annotations[templateGenerationAnnotation]
	if ds.Status.ObservedGeneration < ds.Generation || generation == "" {
		return diag
	}
	// The controller's own rule: a pod is updated when it has the hash of
	// the newest revision, or the template's generation.
	hash := t.newestRevisionHash(ds.Namespace, ds.Name, ds.UID)
	var fresh, old []*corev1.Pod
	for _, p := range t.ownedPods(ds.Namespace, "DaemonSet", ds.Name, ds.UID) {
		if p.Labels[templateGenerationKey] == generation || (hash != "" && p.Labels[revisionHashLabel] == hash) {
			fresh = append(fresh, p)
		} else {
			old = append(old, p)
		}
	}
	owner := &diagnosis.Owner{Kind: "DaemonSet", Name: ds.Name, Missing: ds.Status.CurrentNumberScheduled < ds.Status.DesiredNumberScheduled}
	diag.Problems = diagnosis.Diagnose(diagnosis.Input{Owner: owner, Pods: fresh, Events: t.eventsAbout(ds.Namespace, "DaemonSet", ds.Name, fresh)})
	if len(old) > 0 {
		for _, p := range diagnosis.Diagnose(diagnosis.Input{Owner: &diagnosis.Owner{Kind: "DaemonSet", Name: ds.Name},
			Pods: old, Events: t.eventsAbout(ds.Namespace, "", "", old)}) {
			if p.Reason == "NodeNotReady" {
				diag.Problems = append(diag.Problems, p)
			}
		}
	}
	return diag
}

// newestRevisionHash is the hash of the newest ControllerRevision of the
// DaemonSet with this name and UID in ns, "" when unknown.
func (t *Tracker) newestRevisionHash(ns, name string, uid types.UID) string {
	if t.revisions == nil || t.revisionsOff.Load() {
		return ""
	}
	objs, _ := t.revisions.GetIndexer().ByIndex(byOwner, ns+"/"+name)
	var newest *appsv1.ControllerRevision
	for _, o := range objs {
		cr, ok := o.(*appsv1.ControllerRevision)
		if !ok {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(cr); ref == nil || ref.Kind != "DaemonSet" || ref.UID != uid {
			continue
		}
		if newest == nil || cr.Revision > newest.Revision {
			newest = cr
		}
	}
	if newest == nil {
		return ""
	}
	return newest.Labels[revisionHashLabel]
}

// ownerOf maps a ReplicaSet, Pod or Event to the workload it belongs to
// and that workload's store key (namespace/name), or nil.
func (t *Tracker) ownerOf(obj any) (*workload, string) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	switch o := obj.(type) {
	case *ReplicaSet:
		if ref := metav1.GetControllerOfNoCopy(o); ref != nil && ref.Kind == "Deployment" {
			return t.workload(deployment.KindDeployment), o.Namespace + "/" + ref.Name
		}
	case *appsv1.ControllerRevision:
		if ref := metav1.GetControllerOfNoCopy(o); ref != nil && ref.Kind == "DaemonSet" {
			return t.workload(deployment.KindDaemonSet), o.Namespace + "/" + ref.Name
		}
	case *corev1.Pod:
		ref := metav1.GetControllerOfNoCopy(o)
		if ref == nil {
			return nil, ""
		}
		switch ref.Kind {
		case "ReplicaSet":
			if key := t.rsOwner(o.Namespace, ref.Name); key != "" {
				return t.workload(deployment.KindDeployment), key
			}
		case "StatefulSet", "DaemonSet":
			return t.workload(ref.Kind), o.Namespace + "/" + ref.Name
		}
	case *corev1.Event:
		io := o.InvolvedObject
		switch io.Kind {
		case "ReplicaSet":
			if key := t.rsOwner(io.Namespace, io.Name); key != "" {
				return t.workload(deployment.KindDeployment), key
			}
		case "StatefulSet", "DaemonSet":
			return t.workload(io.Kind), io.Namespace + "/" + io.Name
		case "Pod":
			if p, ok, _ := t.pods.GetIndexer().GetByKey(io.Namespace + "/" + io.Name); ok {
				return t.ownerOf(p)
			}
		}
	}
	return nil, ""
}

// StripStatefulSet keeps what a StatefulSet's summary reads: its replicas,
// update strategy and pod management policy, its containers' names and
// images, and its status.
func StripStatefulSet(obj any) (any, error) {
	sts, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return obj, nil
	}
	out := &appsv1.StatefulSet{
		ObjectMeta: stripMeta(&sts.ObjectMeta),
		Spec: appsv1.StatefulSetSpec{
			Replicas: sts.Spec.Replicas, UpdateStrategy: sts.Spec.UpdateStrategy, PodManagementPolicy: sts.Spec.PodManagementPolicy,
		},
		Status: sts.Status,
	}
	out.Spec.Template.Spec.Containers = namesAndImages(sts.Spec.Template.Spec.Containers)
	out.Status.Conditions = nil
	return out, nil
}

// StripDaemonSet keeps what a DaemonSet's summary reads: its update
// strategy, its pod template's generation (which tells its new pods), its
// containers' names and images, and its status.
func StripDaemonSet(obj any) (any, error) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return obj, nil
	}
	out := &appsv1.DaemonSet{
		ObjectMeta: stripMeta(&ds.ObjectMeta),
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: ds.Spec.UpdateStrategy},
		Status:     ds.Status,
	}
	if g, ok := ds.Annotations[templateGenerationAnnotation]; ok {
		out.Annotations = map[string]string{templateGenerationAnnotation: g}
	}
	out.Spec.Template.Spec.Containers = namesAndImages(ds.Spec.Template.Spec.Containers)
	out.Status.Conditions = nil
	return out, nil
}

// StripControllerRevision keeps what tells a DaemonSet's newest revision:
// its owner, its number and its hash label; not the template it holds.
func StripControllerRevision(obj any) (any, error) {
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return obj, nil
	}
	out := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: cr.Name, Namespace: cr.Namespace, UID: cr.UID, ResourceVersion: cr.ResourceVersion,
			OwnerReferences: controllerOnly(cr)},
		Revision: cr.Revision,
	}
	if h, ok := cr.Labels[revisionHashLabel]; ok {
		out.Labels = map[string]string{revisionHashLabel: h}
	}
	return out, nil
}

func stripMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, DeletionTimestamp: m.DeletionTimestamp, CreationTimestamp: m.CreationTimestamp}
}

func namesAndImages(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image}
	}
	return out
}
