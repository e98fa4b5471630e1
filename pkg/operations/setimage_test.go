package operations

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// podOf is a Deployment with containers web and sidecar and init container
// migrate.
func podOf() *appsv1.Deployment {
	d := newDeployment(3,
		corev1.Container{Name: "web", Image: "nginx:1.27"},
		corev1.Container{Name: "sidecar", Image: "envoy:1.30"})
	d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "app:1"}}
	d.ResourceVersion = "7"
	return d
}

func images(d *appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.InitContainers {
		out = append(out, "init:"+c.Name+"="+c.Image)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		out = append(out, c.Name+"="+c.Image)
	}
	return out
}

func TestSetImages(t *testing.T) {
	const (
		get   = "get deployments"
		patch = "patch deployments"
	)
	before := []string{"init:migrate=app:1", "web=nginx:1.27", "sidecar=envoy:1.30"}
	tests := []struct {
		name    string
		req     ImageRequest
		setup   func(*fake.Clientset)
		reason  Reason
		message []string
		verbs   []string
		changed bool
		stored  []string // images afterwards
		result  []string // images of the result's object
		patch   []patchOp
	}{
		{name: "one container", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}},
			verbs: []string{get, patch}, changed: true,
			stored: []string{"init:migrate=app:1", "web=nginx:1.28", "sidecar=envoy:1.30"},
			patch: []patchOp{
				{"test", "/spec/template/spec/containers/0/name", "web"},
				{"test", "/spec/template/spec/containers/0/image", "nginx:1.27"},
				{"replace", "/spec/template/spec/containers/0/image", "nginx:1.28"}}},
		// kubectl's set_image.go: setImage(spec.InitContainers, "*", ...) and
		// setImage(spec.Containers, "*", ...) both match every name.
		{name: "star sets every container and init container, as kubectl", req: ImageRequest{Images: []ContainerImage{{"*", "busybox:1.36"}}},
			verbs: []string{get, patch}, changed: true,
			stored: []string{"init:migrate=busybox:1.36", "web=busybox:1.36", "sidecar=busybox:1.36"},
			patch: []patchOp{
				{"test", "/spec/template/spec/containers/0/name", "web"},
				{"test", "/spec/template/spec/containers/0/image", "nginx:1.27"},
				{"replace", "/spec/template/spec/containers/0/image", "busybox:1.36"},
				{"test", "/spec/template/spec/containers/1/name", "sidecar"},
				{"test", "/spec/template/spec/containers/1/image", "envoy:1.30"},
				{"replace", "/spec/template/spec/containers/1/image", "busybox:1.36"},
				{"test", "/spec/template/spec/initContainers/0/name", "migrate"},
				{"test", "/spec/template/spec/initContainers/0/image", "app:1"},
				{"replace", "/spec/template/spec/initContainers/0/image", "busybox:1.36"}}},
		{name: "init container when named, named wins over star", req: ImageRequest{Images: []ContainerImage{{"*", "busybox:1.36"}, {"migrate", "app:2"}, {"sidecar", "envoy:1.31"}}},
			verbs: []string{get, patch}, changed: true,
			stored: []string{"init:migrate=app:2", "web=busybox:1.36", "sidecar=envoy:1.31"},
			patch: []patchOp{
				{"test", "/spec/template/spec/containers/0/name", "web"},
				{"test", "/spec/template/spec/containers/0/image", "nginx:1.27"},
				{"replace", "/spec/template/spec/containers/0/image", "busybox:1.36"},
				{"test", "/spec/template/spec/containers/1/name", "sidecar"},
				{"test", "/spec/template/spec/containers/1/image", "envoy:1.30"},
				{"replace", "/spec/template/spec/containers/1/image", "envoy:1.31"},
				{"test", "/spec/template/spec/initContainers/0/name", "migrate"},
				{"test", "/spec/template/spec/initContainers/0/image", "app:1"},
				{"replace", "/spec/template/spec/initContainers/0/image", "app:2"}}},
		{name: "same image writes nothing", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.27"}}},
			verbs: []string{get}, stored: before, result: before},
		{name: "only what differs is patched", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.27"}, {"sidecar", "envoy:1.31"}}},
			verbs: []string{get, patch}, changed: true,
			stored: []string{"init:migrate=app:1", "web=nginx:1.27", "sidecar=envoy:1.31"},
			patch: []patchOp{
				{"test", "/spec/template/spec/containers/1/name", "sidecar"},
				{"test", "/spec/template/spec/containers/1/image", "envoy:1.30"},
				{"replace", "/spec/template/spec/containers/1/image", "envoy:1.31"}}},
		{name: "unknown containers are listed with the ones there are", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:2"}, {"api", "x"}, {"db", "y"}}},
			reason: BadRequest, message: []string{`deployment "web" in namespace "shop" has no containers "api", "db"; its containers: web, sidecar; its init containers: migrate`},
			verbs: []string{get}, stored: before},
		{name: "resource version holds", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}, ResourceVersion: "7"},
			verbs: []string{get, patch}, changed: true,
			stored: []string{"init:migrate=app:1", "web=nginx:1.28", "sidecar=envoy:1.30"},
			patch: []patchOp{
				{"test", "/metadata/resourceVersion", "7"},
				{"test", "/spec/template/spec/containers/0/name", "web"},
				{"test", "/spec/template/spec/containers/0/image", "nginx:1.27"},
				{"replace", "/spec/template/spec/containers/0/image", "nginx:1.28"}}},
		{name: "resource version does not hold", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}, ResourceVersion: "5"},
			reason: Conflict, message: []string{"is at resourceVersion 7, expected 5", "nothing was changed"},
			verbs: []string{get}, stored: before},
		{name: "client dry run reads only", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}, DryRun: DryRunClient},
			verbs: []string{get}, changed: true, stored: before,
			result: []string{"init:migrate=app:1", "web=nginx:1.28", "sidecar=envoy:1.30"}},
		{name: "server dry run sends dryRun=All", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}, DryRun: DryRunServer},
			setup: func(c *fake.Clientset) { // the fake would persist it: answer as the API server does
				c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
					d := podOf()
					d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
					return true, d, nil
				})
			},
			verbs: []string{get, patch}, changed: true, stored: before,
			result: []string{"init:migrate=app:1", "web=nginx:1.28", "sidecar=envoy:1.30"}},
		{name: "not found", req: ImageRequest{Name: "nope", Images: []ContainerImage{{"web", "nginx:1.28"}}},
			reason: NotFound, message: []string{`deployment "nope" not found in namespace "shop"`},
			verbs: []string{get}, stored: before},
		{name: "forbidden says what is needed", req: ImageRequest{Images: []ContainerImage{{"web", "nginx:1.28"}}},
			setup: func(c *fake.Clientset) {
				c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
				})
			},
			reason: Forbidden, message: []string{"set-image needs get and patch on deployments", "kubectl auth can-i patch deployments -n shop"},
			verbs: []string{get, patch}, stored: before},
		{name: "every bad input at once, before any request", req: ImageRequest{Namespace: "-x", Name: "a/b", DryRun: "yes",
			Images: []ContainerImage{{"web", ""}, {"", "nginx"}, {"side", "NOT VALID"}, {"web", "nginx"}}},
			reason: BadRequest, message: []string{`invalid namespace "-x"`, `invalid deployment name "a/b"`, `unknown dry-run mode "yes"`,
				`container "web": empty image`, "names no container", `container "side": invalid image "NOT VALID"`, `container "web" is given more than once`},
			stored: before},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, podOf())
			if tt.setup != nil {
				tt.setup(c)
			}
			req := tt.req
			if req.Namespace == "" {
				req.Namespace = "shop"
			}
			if req.Name == "" {
				req.Name = "web"
			}
			res, err := SetImages(context.Background(), c.AppsV1(), req)
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.reason)
			}
			for _, m := range tt.message {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not say %q", err, m)
				}
			}
			if got := verbs(c); !slices.Equal(got, tt.verbs) {
				t.Errorf("actions = %v, want %v", got, tt.verbs)
			}
			if got := images(deploymentOf(t, c)); !slices.Equal(got, tt.stored) {
				t.Errorf("stored images = %v, want %v", got, tt.stored)
			}
			for _, a := range c.Actions() {
				p, ok := a.(k8stesting.PatchActionImpl)
				if !ok {
					continue
				}
				if p.GetPatchType() != types.JSONPatchType {
					t.Errorf("patch type = %s, want a JSON patch", p.GetPatchType())
				}
				if got := slices.Equal(p.PatchOptions.DryRun, []string{metav1.DryRunAll}); got != (req.DryRun == DryRunServer) {
					t.Errorf("patch dryRun = %v for dry-run mode %q", p.PatchOptions.DryRun, req.DryRun)
				}
				if tt.patch != nil {
					var ops []patchOp
					if err := json.Unmarshal(p.GetPatch(), &ops); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ops, tt.patch) {
						t.Errorf("patch = %+v\nwant    %+v", ops, tt.patch)
					}
				}
			}
			if err != nil {
				return
			}
			if res.Changed != tt.changed {
				t.Errorf("changed = %v, want %v", res.Changed, tt.changed)
			}
			want := tt.result
			if want == nil {
				want = tt.stored
			}
			if got := images(res.Object.(*appsv1.Deployment)); !slices.Equal(got, want) {
				t.Errorf("result object images = %v, want %v", got, want)
			}
		})
	}
}

// TestSetImagesRace: when the Deployment changes between the read and the
// patch, the patch's test ops make the API server apply nothing; SetImages
// reads again and either plans again (containers only moved) or reports a
// Conflict that keeps the other writer's edit (a container of the change
// removed, or given another image).
func TestSetImagesRace(t *testing.T) {
	const (
		get   = "get deployments"
		patch = "patch deployments"
	)
	tests := []struct {
		name    string
		other   func(*appsv1.Deployment)
		always  bool // race every patch, not only the first
		reason  Reason
		message []string
		verbs   []string
		changed bool
		stored  []string
	}{
		{name: "containers reordered: patched at the new index",
			other: func(d *appsv1.Deployment) {
				cs := d.Spec.Template.Spec.Containers
				cs[0], cs[1] = cs[1], cs[0]
			},
			verbs: []string{get, patch, get, patch}, changed: true,
			stored: []string{"init:migrate=app:1", "sidecar=envoy:1.30", "web=nginx:1.28"}},
		{name: "container removed: a conflict, nothing added",
			other: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[1:]
			},
			reason:  Conflict,
			message: []string{`container "web" of deployment "web" in namespace "shop" was removed while its image was being set; nothing was changed`, "try again"},
			verbs:   []string{get, patch, get},
			stored:  []string{"init:migrate=app:1", "sidecar=envoy:1.30"}},
		{name: "last container removed: a conflict, not a 422",
			other: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
			},
			reason:  Conflict,
			message: []string{`container "sidecar" of deployment "web" in namespace "shop" was removed`},
			verbs:   []string{get, patch, get},
			stored:  []string{"init:migrate=app:1", "web=nginx:1.27"}},
		{name: "image changed by another writer: kept, a conflict",
			other: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.29"
			},
			reason:  Conflict,
			message: []string{`the image of container "web" of deployment "web" in namespace "shop" changed from nginx:1.27 to nginx:1.29 while it was being set; nothing was changed`},
			verbs:   []string{get, patch, get},
			stored:  []string{"init:migrate=app:1", "web=nginx:1.29", "sidecar=envoy:1.30"}},
		{name: "init container image changed by another writer: kept, a conflict",
			other: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.InitContainers[0].Image = "app:9"
			},
			reason:  Conflict,
			message: []string{`the image of init container "migrate"`, "changed from app:1 to app:9"},
			verbs:   []string{get, patch, get},
			stored:  []string{"init:migrate=app:9", "web=nginx:1.27", "sidecar=envoy:1.30"}},
		{name: "the same images set by another writer: unchanged",
			other: func(d *appsv1.Deployment) {
				for _, cs := range [][]corev1.Container{d.Spec.Template.Spec.Containers, d.Spec.Template.Spec.InitContainers} {
					for i := range cs {
						cs[i].Image = "nginx:1.29"
					}
				}
			},
			verbs:  []string{get, patch, get},
			stored: []string{"init:migrate=nginx:1.29", "web=nginx:1.29", "sidecar=nginx:1.29"}},
		{name: "changing all the time: gives up",
			other: func(d *appsv1.Deployment) {
				cs := d.Spec.Template.Spec.Containers
				cs[0], cs[1] = cs[1], cs[0]
			},
			always:  true,
			reason:  Conflict,
			message: []string{"kept changing while its images were being set; nothing was changed"},
			verbs:   []string{get, patch, get, patch, get, patch, get, patch, get, patch, get},
			stored:  []string{"init:migrate=app:1", "sidecar=envoy:1.30", "web=nginx:1.27"}}, // swapped 5 times
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, podOf())
			raced := false
			c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				if !raced || tt.always {
					raced = true
					d := deploymentOf(t, c).DeepCopy()
					tt.other(d)
					bumpResourceVersion(d)
					if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
						t.Fatal(err)
					}
				}
				return false, nil, nil
			})
			asked := []ContainerImage{{"web", "nginx:1.28"}}
			switch {
			case strings.Contains(tt.name, "init") || strings.Contains(tt.name, "same images"):
				asked = []ContainerImage{{"*", "nginx:1.29"}}
			case strings.Contains(tt.name, "last container"):
				asked = []ContainerImage{{"sidecar", "envoy:1.31"}}
			}
			res, err := SetImages(context.Background(), c.AppsV1(), ImageRequest{Namespace: "shop", Name: "web", Images: asked})
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.reason)
			}
			for _, m := range tt.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not say %q", err, m)
				}
			}
			if got := verbs(c); !slices.Equal(got, tt.verbs) {
				t.Errorf("actions = %v, want %v", got, tt.verbs)
			}
			if got := images(deploymentOf(t, c)); !slices.Equal(got, tt.stored) {
				t.Errorf("stored images = %v, want %v", got, tt.stored)
			}
			if err == nil && res.Changed != tt.changed {
				t.Errorf("changed = %v, want %v", res.Changed, tt.changed)
			}
		})
	}
}

// TestSetImagesRefused: a 422 the API server gives for the change itself,
// with nothing changed meanwhile, is reported as Invalid at once, not
// retried as a race.
func TestSetImagesRefused(t *testing.T) {
	c := newClient(t, podOf())
	c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web",
			field.ErrorList{field.Invalid(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("image"), "x", "refused by a webhook")})
	})
	_, err := SetImages(context.Background(), c.AppsV1(), ImageRequest{Namespace: "shop", Name: "web", Images: []ContainerImage{{"web", "nginx:1.28"}}})
	if got := ReasonOf(err); got != Invalid {
		t.Fatalf("reason = %q (err %v), want Invalid", got, err)
	}
	if got, want := verbs(c), []string{"get deployments", "patch deployments", "get deployments"}; !slices.Equal(got, want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
}
