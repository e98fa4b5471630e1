package tracker

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// Diagnose are the clients a tracker reads a rollout's ReplicaSets, Pods
// and Warning Events with, to say why it does not progress, and, when
// Services and EndpointSlices are set too, what the Services that select
// a Deployment's pods serve (Summary.Serving, serving gaps) and which
// rollout-safety rules fire on it (Summary.Warnings); with
// PodDisruptionBudgets too, the rule that wants one among them.
type Diagnose struct {
	ReplicaSets          appsv1client.ReplicaSetsGetter
	Pods                 corev1client.PodsGetter
	Events               corev1client.EventsGetter
	Services             corev1client.ServicesGetter
	EndpointSlices       discoveryv1client.EndpointSlicesGetter
	PodDisruptionBudgets policyv1client.PodDisruptionBudgetsGetter
	// ControllerRevisions, when set, tell a DaemonSet's newest revision,
	// whose pods are new as those of its template's generation are.
	ControllerRevisions appsv1client.ControllerRevisionsGetter
}

// DiagnoseWith reads everything through one clientset, serving included.
func DiagnoseWith(kube kubernetes.Interface) *Diagnose {
	return &Diagnose{ReplicaSets: kube.AppsV1(), Pods: kube.CoreV1(), Events: kube.CoreV1(),
		Services: kube.CoreV1(), EndpointSlices: kube.DiscoveryV1(), PodDisruptionBudgets: kube.PolicyV1(), ControllerRevisions: kube.AppsV1()}
}

// RevisionAnnotation is where the deployment controller records the
// revision of a Deployment and of each of its ReplicaSets.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// Index names of the secondary informers.
const (
	byOwner  = "owner"  // ReplicaSets by Deployment, Pods by ReplicaSet: "ns/name"
	byObject = "object" // Events by what they are about: "ns/Kind/name"
)

func ownerIndex(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil {
		return []string{m.GetNamespace() + "/" + ref.Name}, nil
	}
	return nil, nil
}

func objectIndex(obj any) ([]string, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return nil, nil
	}
	o := e.InvolvedObject
	return []string{cmp.Or(o.Namespace, e.Namespace) + "/" + o.Kind + "/" + o.Name}, nil
}

// secondary is one informer the diagnosis reads.
type secondary struct {
	name     string // for messages: "replicasets", "pods", "events"
	informer cache.SharedIndexInformer
}

// secondaries builds the diagnosis's informers, each keeping only what the
// diagnosis reads.
func (t *Tracker) secondaries(ctx context.Context) []*secondary {
	d := t.opts.Diagnose
	ns := t.opts.Namespace
	var rs appsv1client.ReplicaSetInterface
	if d.ReplicaSets != nil {
		rs = d.ReplicaSets.ReplicaSets(ns)
	}
	pods := d.Pods.Pods(ns)
	events := d.Events.Events(ns)
	mk := func(name string, lw *cache.ListWatch, client any, obj runtime.Object, transform cache.TransformFunc, indexers cache.Indexers) *secondary {
		lw = t.health.monitor(ctx, name, lw)
		inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), obj, cache.SharedIndexInformerOptions{ObjectDescription: name, Indexers: indexers})
		_ = inf.SetTransform(transform) // cannot fail before Run
		return &secondary{name: name, informer: inf}
	}
	warnings := func(o *metav1.ListOptions) { o.FieldSelector = "type=" + corev1.EventTypeWarning }
	// ReplicaSets, and serving and the warnings, are Deployments' alone.
	deployments := slices.Contains(t.kinds(), deployment.KindDeployment)
	var secs []*secondary
	if deployments {
		secs = append(secs, mk("replicasets", listWatch(rs, nil), d.ReplicaSets, &appsv1.ReplicaSet{}, StripReplicaSet, cache.Indexers{byOwner: ownerIndex}))
	}
	secs = append(secs,
		mk("pods", listWatch(pods, nil), d.Pods, &corev1.Pod{}, StripPod, cache.Indexers{byOwner: ownerIndex}),
		mk("events", listWatch(events, warnings), d.Events, &corev1.Event{}, StripEvent, cache.Indexers{byObject: objectIndex}))
	if slices.Contains(t.kinds(), deployment.KindDaemonSet) && d.ControllerRevisions != nil {
		secs = append(secs, mk("controllerrevisions", listWatch(d.ControllerRevisions.ControllerRevisions(ns), nil), d.ControllerRevisions,
			&appsv1.ControllerRevision{}, StripControllerRevision, cache.Indexers{byOwner: ownerIndex}))
	}
	if deployments && d.Services != nil && d.EndpointSlices != nil {
		secs = append(secs,
			mk("services", listWatch(d.Services.Services(ns), nil), d.Services, &corev1.Service{}, StripService, cache.Indexers{bySelector: selectorIndex}),
			mk("endpointslices", listWatch(d.EndpointSlices.EndpointSlices(ns), nil), d.EndpointSlices, &discoveryv1.EndpointSlice{}, StripEndpointSlice, cache.Indexers{byService: serviceIndex}))
		if d.PodDisruptionBudgets != nil {
			secs = append(secs, mk("poddisruptionbudgets", listWatch(d.PodDisruptionBudgets.PodDisruptionBudgets(ns), nil), d.PodDisruptionBudgets,
				&policyv1.PodDisruptionBudget{}, StripPDB, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}))
		}
	}
	return secs
}

// lister is the part of a typed namespaced client an informer needs.
type lister[L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// listWatch lists and watches with c, narrowing every request with tweak
// when it is not nil.
func listWatch[L runtime.Object](c lister[L], tweak func(*metav1.ListOptions)) *cache.ListWatch {
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return c.Watch(ctx, o)
		},
	}
}

// diagnose reads the diagnosis of d from the secondary informers; nil when
// the tracker does not diagnose.
func (t *Tracker) diagnose(d *appsv1.Deployment) *deployment.Diagnosis {
	if t.rs == nil || t.pods == nil {
		return nil
	}
	if !t.diagnosable.Load() {
		return &deployment.Diagnosis{}
	}
	diag := &deployment.Diagnosis{Known: true}
	if d.Status.ObservedGeneration < d.Generation {
		return diag // its new ReplicaSet may not exist yet
	}
	newRS, older := t.newReplicaSet(d)
	diag.OlderReplicaSets = older
	if newRS == nil {
		return diag
	}
	diag.ReplicaSet = newRS.Name
	diag.NewReplicaSetCreated = newRS.CreationTimestamp.Time
	in := diagnosis.Input{ReplicaSet: newRS.Full()}
	pods, _ := t.pods.GetIndexer().ByIndex(byOwner, newRS.Namespace+"/"+newRS.Name)
	for _, o := range pods {
		if p, ok := o.(*corev1.Pod); ok {
			in.Pods = append(in.Pods, p)
		}
	}
	if t.events != nil {
		add := func(kind, name string) {
			evs, _ := t.events.GetIndexer().ByIndex(byObject, newRS.Namespace+"/"+kind+"/"+name)
			for _, o := range evs {
				if e, ok := o.(*corev1.Event); ok {
					in.Events = append(in.Events, e)
				}
			}
		}
		add("ReplicaSet", newRS.Name)
		for _, p := range in.Pods {
			add("Pod", p.Name)
		}
	}
	diag.Problems = diagnosis.Diagnose(in)
	return diag
}

// newReplicaSet is d's ReplicaSet of d's current revision among those d
// controls, and the names of those of an earlier revision. When none has
// d's revision, the highest revision stands in only if it is above d's (d's
// annotation is written after the ReplicaSet's); below it, the new
// ReplicaSet is not in the cache yet (informers are not ordered, so the
// ReplicaSets' may lag behind the Deployments'), and an older ReplicaSet,
// maybe one that ran out of its deadline, must not be judged as the new one.
func (t *Tracker) newReplicaSet(d *appsv1.Deployment) (*ReplicaSet, []string) {
	objs, _ := t.rs.GetIndexer().ByIndex(byOwner, d.Namespace+"/"+d.Name)
	want := d.Annotations[RevisionAnnotation]
	wantRev, err := strconv.ParseInt(want, 10, 64)
	if err != nil {
		wantRev = -1
	}
	var match, best *ReplicaSet
	bestRev := int64(-1)
	var older []string
	for _, o := range objs {
		rs, ok := o.(*ReplicaSet)
		if !ok {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(rs); ref == nil || ref.UID != d.UID {
			continue // an old Deployment's, by the same name
		}
		rev := rs.Annotations[RevisionAnnotation]
		if want != "" && rev == want {
			match = rs
			continue
		}
		n, err := strconv.ParseInt(rev, 10, 64)
		if err != nil {
			continue
		}
		if n < wantRev {
			older = append(older, rs.Name)
		}
		if n > bestRev {
			best, bestRev = rs, n
		}
	}
	slices.Sort(older) // the index's order is a map's
	switch {
	case match != nil:
		return match, older
	case bestRev < wantRev:
		return nil, older
	}
	return best, older
}

// deploymentKeyOf maps a ReplicaSet, Pod or Event to the key of the
// Deployment it belongs to, or "".
func (t *Tracker) deploymentKeyOf(obj any) string {
	if w, key := t.ownerOf(obj); w != nil && w.kind == deployment.KindDeployment {
		return key
	}
	return ""
}

func (t *Tracker) rsOwner(ns, name string) string {
	if t.rs == nil {
		return "" // Deployments are not followed
	}
	o, ok, _ := t.rs.GetIndexer().GetByKey(ns + "/" + name)
	if !ok {
		return ""
	}
	rs := o.(*ReplicaSet)
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && ref.Kind == "Deployment" {
		return ns + "/" + ref.Name
	}
	return ""
}
