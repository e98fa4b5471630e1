package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// ImageRequest asks for container images of a workload's pod template to
// change.
type ImageRequest struct {
	// Kind is the workload's: Deployment (the zero value), StatefulSet or
	// DaemonSet.
	Kind      Kind
	Namespace string
	Name      string
	// Images to set; a Container of AllContainers ("*") sets every
	// container and init container that is not named otherwise.
	Images []ContainerImage
	// ResourceVersion, when set, is a precondition: change only if the
	// Deployment is still at this version.
	ResourceVersion string
	DryRun          DryRunMode
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r ImageRequest) Validate() error {
	ps := validateTarget(r.Kind, r.Namespace, r.Name, r.DryRun)
	ps = append(ps, ValidateImages(r.Images)...)
	return badRequest(ps)
}

// SetImages sets container images with a JSON patch, never with a
// read-modify-write update that could overwrite a concurrent edit.
//
// It reads the Deployment first, to check the container names (an unknown
// one is an error listing the names there are), the resourceVersion
// precondition, and whether anything would change at all. The patch then
// replaces only the images that change, each guarded by "test" ops on the
// container's name and on the image it had when read (and, with a
// precondition, on the resourceVersion). If the Deployment changed between
// the read and the write, the API server applies nothing and SetImages
// reads again: a container of the change that was removed, or whose image
// someone else changed meanwhile, is a Conflict (their edit is kept);
// containers that only moved are planned again from the fresh read.
func SetImages(ctx context.Context, client WorkloadsGetter, req ImageRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	w := workloads{kind: req.Kind, namespace: req.Namespace, client: client}
	a := imageAccess.of(req.Kind)
	var sent *lostPatch // the last patch sent, and what it was planned from
	return readPlanWrite(ctx, change[object]{
		namespace: req.Namespace, name: req.Name, dryRun: req.DryRun, access: a,
		read: func(ctx context.Context) (object, error) {
			return w.get(ctx, req.Name)
		},
		plan: func(_ context.Context, current object, refused error, attempt int) (plan[object], error) {
			if req.ResourceVersion != "" && current.GetResourceVersion() != req.ResourceVersion {
				return plan[object]{}, preconditionFailed(req.Kind, req.Namespace, req.Name,
					fmt.Sprintf("is at resourceVersion %s, expected %s", current.GetResourceVersion(), req.ResourceVersion))
			}
			if refused != nil {
				// The API server refused the patch with 422: either a test op
				// failed (the Deployment changed since it was read) or it
				// refused the change itself. Told apart by what the Deployment
				// is now, not by the error's text.
				sent.err = refused
				if err := sent.explain(current, req); err != nil {
					return plan[object]{}, err
				}
				if attempt > maxAttempts {
					return plan[object]{}, &Error{Reason: Conflict, Err: refused,
						Message: fmt.Sprintf("%s %q in namespace %q kept changing while its images were being set; nothing was changed", req.Kind.Noun(), req.Name, req.Namespace),
						Hint:    "try again"}
				}
			}
			p, err := planImages(req.Kind, current, req.Images)
			if err != nil {
				return plan[object]{}, err
			}
			if len(p.edits) == 0 {
				return plan[object]{changes: p.asked}, nil
			}
			patch, err := p.jsonPatch(req.ResourceVersion)
			if err != nil {
				return plan[object]{}, err
			}
			sent = &lostPatch{plan: p, read: current}
			return plan[object]{
				changes: p.changes(),
				local:   func() (runtime.Object, error) { return p.apply(current), nil },
				send: func(ctx context.Context, dryRun []string) (object, error) {
					return w.patch(ctx, req.Name, types.JSONPatchType, patch, dryRun)
				},
			}, nil
		},
		// A 422 may be a test op that failed: the next read tells.
		again: func(err error, _ int) (bool, error) {
			if apierrors.IsInvalid(err) {
				return true, nil
			}
			return false, apiError(err, req.Namespace, req.Name, a)
		},
	})
}

// lostPatch is a patch the API server refused with 422, with the state it
// was planned from.
type lostPatch struct {
	plan *imagePlan
	read object
	err  error
}

// explain decides, from the Deployment as it is now, why the patch was
// refused. It returns nil when the patch may be planned again (only the
// containers' order changed, or someone else set the very images asked
// for), a Conflict when a container of the change was removed or got
// another image meanwhile, and the API server's own refusal when nothing
// the patch tested has changed.
func (l *lostPatch) explain(now object, req ImageRequest) error {
	if now.GetResourceVersion() == l.read.GetResourceVersion() && l.plan.holds(templateOf(now)) {
		return apiError(l.err, req.Namespace, req.Name, imageAccess.of(req.Kind))
	}
	noun := req.Kind.Noun()
	for _, e := range l.plan.edits {
		c, ok := findContainer(templateOf(now), e.init, e.container)
		what := "container"
		if e.init {
			what = "init container"
		}
		switch {
		case !ok:
			return &Error{Reason: Conflict, Err: l.err,
				Message: fmt.Sprintf("%s %q of %s %q in namespace %q was removed while its image was being set; nothing was changed", what, e.container, noun, req.Name, req.Namespace),
				Hint:    retryHint(req.Kind, req.Namespace, req.Name)}
		case c.Image != e.from && c.Image != e.to:
			return &Error{Reason: Conflict, Err: l.err,
				Message: fmt.Sprintf("the image of %s %q of %s %q in namespace %q changed from %s to %s while it was being set; nothing was changed", what, e.container, noun, req.Name, req.Namespace, e.from, c.Image),
				Hint:    retryHint(req.Kind, req.Namespace, req.Name)}
		}
	}
	return nil
}

func retryHint(k Kind, namespace, name string) string {
	return fmt.Sprintf("read its current state with 'kubectl get %s %s -n %s -o yaml' and try again", k.Noun(), name, namespace)
}

// holds reports whether every test op of the plan's patch holds on the pod
// template t.
func (p *imagePlan) holds(t *corev1.PodTemplateSpec) bool {
	for _, e := range p.edits {
		cs := t.Spec.Containers
		if e.init {
			cs = t.Spec.InitContainers
		}
		if e.index >= len(cs) || cs[e.index].Name != e.container || cs[e.index].Image != e.from {
			return false
		}
	}
	return true
}

func findContainer(t *corev1.PodTemplateSpec, init bool, name string) (corev1.Container, bool) {
	cs := t.Spec.Containers
	if init {
		cs = t.Spec.InitContainers
	}
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return corev1.Container{}, false
}

// imageEdit is one container whose image changes.
type imageEdit struct {
	init      bool
	index     int
	container string
	from, to  string
}

type imagePlan struct {
	edits []imageEdit
	asked []Change // every container the request names, changed or not
}

// planImages decides which containers of workload d (of kind k) change,
// and reports every container name the request gives that d does not have.
func planImages(k Kind, d object, images []ContainerImage) (*imagePlan, error) {
	want := map[string]string{}
	for _, ci := range images {
		want[ci.Container] = ci.Image
	}
	all, hasAll := want[AllContainers]
	used := map[string]bool{}
	p := &imagePlan{}
	visit := func(init bool, cs []corev1.Container) {
		for i, c := range cs {
			image, named := want[c.Name]
			used[c.Name] = used[c.Name] || named
			switch {
			case named:
			case hasAll: // init containers too, as kubectl's setImage does
				image = all
			default:
				continue
			}
			what := "container " + c.Name
			if init {
				what = "init container " + c.Name
			}
			p.asked = append(p.asked, Change{What: what, From: c.Image, To: image})
			if c.Image != image {
				p.edits = append(p.edits, imageEdit{init: init, index: i, container: c.Name, from: c.Image, to: image})
			}
		}
	}
	spec := &templateOf(d).Spec
	visit(false, spec.Containers)
	visit(true, spec.InitContainers)

	var unknown []string
	for _, ci := range images {
		if ci.Container != AllContainers && !used[ci.Container] {
			unknown = append(unknown, fmt.Sprintf("%q", ci.Container))
		}
	}
	if len(unknown) == 0 {
		return p, nil
	}
	noun := "container"
	if len(unknown) > 1 {
		noun = "containers"
	}
	msg := fmt.Sprintf("%s %q in namespace %q has no %s %s; its containers: %s",
		k.Noun(), d.GetName(), d.GetNamespace(), noun, strings.Join(unknown, ", "), strings.Join(names(spec.Containers), ", "))
	if len(spec.InitContainers) > 0 {
		msg += "; its init containers: " + strings.Join(names(spec.InitContainers), ", ")
	}
	return nil, &Error{Reason: BadRequest, Problems: []Problem{{Field: "images", Message: msg}}}
}

func names(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func (p *imagePlan) changes() []Change {
	out := make([]Change, 0, len(p.edits))
	for _, c := range p.asked {
		if c.From != c.To {
			out = append(out, c)
		}
	}
	return out
}

// apply returns a copy of d with the plan's images, for a client dry run.
func (p *imagePlan) apply(d object) object {
	d = d.DeepCopyObject().(object)
	t := templateOf(d)
	for _, e := range p.edits {
		cs := t.Spec.Containers
		if e.init {
			cs = t.Spec.InitContainers
		}
		cs[e.index].Image = e.to
	}
	return d
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// jsonPatch guards each replaced image with tests of its container's name
// and of its image as read, at that index, and the whole patch with a test
// of the resourceVersion when the caller asked for one.
func (p *imagePlan) jsonPatch(resourceVersion string) ([]byte, error) {
	var ops []patchOp
	if resourceVersion != "" {
		ops = append(ops, patchOp{"test", "/metadata/resourceVersion", resourceVersion})
	}
	for _, e := range p.edits {
		list := "containers"
		if e.init {
			list = "initContainers"
		}
		base := fmt.Sprintf("/spec/template/spec/%s/%d", list, e.index)
		ops = append(ops,
			patchOp{"test", base + "/name", e.container},
			patchOp{"test", base + "/image", e.from},
			patchOp{"replace", base + "/image", e.to})
	}
	return json.Marshal(ops)
}
