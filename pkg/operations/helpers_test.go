package operations

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
)

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// newDeployment is a Running Deployment "web" in namespace "shop".
func newDeployment(replicas int32, containers ...corev1.Container) *appsv1.Deployment {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "web", Image: "nginx:1.27"}}
	}
	return testutil.Deployment("web", testutil.Namespace("shop"), testutil.Replicas(replicas),
		testutil.Containers(containers...), testutil.Observed(4))
}

// newClient is a fake clientset holding objs that also serves the
// deployments/scale subresource, which the fake does not know, the way the
// API server does: generation bumps on a changed spec.replicas, and an
// update carrying a stale resourceVersion is a 409 Conflict.
func newClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	c := fake.NewClientset(objs...)
	tracker := c.Tracker()
	get := func(ns, name string) (*appsv1.Deployment, error) {
		obj, err := tracker.Get(deploymentsGVR, ns, name)
		if err != nil {
			return nil, err
		}
		return obj.(*appsv1.Deployment), nil
	}
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga := a.(k8stesting.GetAction)
		if ga.GetSubresource() != "scale" {
			return false, nil, nil
		}
		d, err := get(ga.GetNamespace(), ga.GetName())
		if err != nil {
			return true, nil, err
		}
		return true, scaleOf(d), nil
	})
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		if ua.GetSubresource() != "scale" {
			return false, nil, nil
		}
		s := ua.GetObject().(*autoscalingv1.Scale)
		d, err := get(ua.GetNamespace(), s.Name)
		if err != nil {
			return true, nil, err
		}
		if s.ResourceVersion != "" && s.ResourceVersion != d.ResourceVersion {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, s.Name,
				fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		d = d.DeepCopy()
		if *d.Spec.Replicas != s.Spec.Replicas {
			d.Generation++
		}
		d.Spec.Replicas = &s.Spec.Replicas
		if len(ua.(k8stesting.UpdateActionImpl).UpdateOptions.DryRun) == 0 {
			bumpResourceVersion(d)
			if err := tracker.Update(deploymentsGVR, d, d.Namespace); err != nil {
				return true, nil, err
			}
		}
		return true, scaleOf(d), nil
	})
	// A JSON patch the tracker cannot apply (a failed "test" op, a path
	// that is gone) is answered as the API server answers it: 422 with
	// json-patch's message and no kind or name (apiserver's patch handler).
	c.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.JSONPatchType || pa.GetSubresource() != "" {
			return false, nil, nil
		}
		handled, obj, err := k8stesting.ObjectReaction(tracker)(a)
		if _, ok := err.(apierrors.APIStatus); err != nil && !ok {
			err = apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return handled, obj, err
	})
	return c
}

func scaleOf(d *appsv1.Deployment) *autoscalingv1.Scale {
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
		Status:     autoscalingv1.ScaleStatus{Replicas: d.Status.Replicas},
	}
}

func bumpResourceVersion(d metav1.Object) {
	n, _ := strconv.Atoi(d.GetResourceVersion())
	d.SetResourceVersion(strconv.Itoa(n + 1))
}

// verbs lists the client's actions as "verb resource[/subresource]".
func verbs(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		out = append(out, s)
	}
	return out
}

func int32p(n int32) *int32 { return &n }

// deploymentOf reads web back from the fake.
func deploymentOf(t *testing.T, c *fake.Clientset) *appsv1.Deployment {
	t.Helper()
	obj, err := c.Tracker().Get(deploymentsGVR, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*appsv1.Deployment)
}
