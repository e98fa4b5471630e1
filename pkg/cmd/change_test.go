package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// changeClient is a fake cluster with Deployment shop/web (3 replicas,
// container web=nginx:1.27) that serves deployments/scale as the API server
// does.
func changeClient() *fake.Clientset {
	replicas := int32(3)
	c := fake.NewClientset(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "7", Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}},
	})
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		obj, err := c.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion},
			Spec: autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas}}, nil
	})
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		return true, a.(k8stesting.UpdateAction).GetObject(), nil
	})
	return c
}

func runChange(t *testing.T, newCmd func(genericiooptions.IOStreams, *clients) *cobra.Command, args ...string) (*fake.Clientset, string, error) {
	t.Helper()
	c := changeClient()
	out := &bytes.Buffer{}
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: out}
	cmd := newCmd(streams, &clients{Kube: c, Config: &rest.Config{Host: "https://127.0.0.1:6443"}, Namespace: "shop"})
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return c, out.String(), err
}

func scaleCmd(streams genericiooptions.IOStreams, c *clients) *cobra.Command {
	o := NewScaleOptions(nil, streams)
	o.clients = c
	return newCmdScale(o)
}

func setImageCmd(streams genericiooptions.IOStreams, c *clients) *cobra.Command {
	o := NewSetImageOptions(nil, streams)
	o.clients = c
	return newCmdSetImage(o)
}

func TestChangeCommands(t *testing.T) {
	tests := []struct {
		name    string
		cmd     func(genericiooptions.IOStreams, *clients) *cobra.Command
		args    []string
		out     string   // exact output, when set
		errs    []string // substrings of the error
		actions []string
	}{
		{name: "scale", cmd: scaleCmd, args: []string{"web", "--replicas=5"},
			out: "deployment.apps/web scaled\n", actions: []string{"get deployments/scale", "update deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale TYPE/NAME", cmd: scaleCmd, args: []string{"deploy/web", "--replicas", "5"},
			out: "deployment.apps/web scaled\n", actions: []string{"get deployments/scale", "update deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale unchanged", cmd: scaleCmd, args: []string{"web", "--replicas=3"},
			out: "deployment.apps/web unchanged\n", actions: []string{"get deployments/scale"}},
		{name: "scale client dry run", cmd: scaleCmd, args: []string{"web", "--replicas=5", "--dry-run=client"},
			out: "deployment.apps/web scaled (dry run)\n  replicas 3 -> 5\n", actions: []string{"get deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale bare --dry-run is client", cmd: scaleCmd, args: []string{"web", "--replicas=5", "--dry-run"},
			out: "deployment.apps/web scaled (dry run)\n  replicas 3 -> 5\n", actions: []string{"get deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale server dry run", cmd: scaleCmd, args: []string{"web", "--replicas=5", "--dry-run=server"},
			out: "deployment.apps/web scaled (server dry run)\n  replicas 3 -> 5\n", actions: []string{"get deployments/scale", "update deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale -o name", cmd: scaleCmd, args: []string{"web", "--replicas=5", "-o", "name"},
			out: "deployment.apps/web\n", actions: []string{"get deployments/scale", "update deployments/scale", "list horizontalpodautoscalers"}},
		{name: "scale every bad input at once", cmd: scaleCmd, args: []string{"--replicas=abc", "--current-replicas=-1", "--dry-run=maybe", "-o", "xml", "--timeout=1m"},
			errs: []string{"no deployment given", `--replicas must be a whole number, got "abc"`, "current replicas must not be negative",
				`unknown dry-run mode "maybe"`, "-o xml", "--timeout only applies with --wait"}},
		{name: "scale missing and negative", cmd: scaleCmd, args: []string{"a", "b"},
			errs: []string{`scale takes one deployment, got 2 arguments`, "--replicas is required"}},
		{name: "scale negative", cmd: scaleCmd, args: []string{"web", "--replicas=-2"},
			errs: []string{"replicas must not be negative, got -2"}},
		{name: "scale fail-on-gap without wait", cmd: scaleCmd, args: []string{"web", "--replicas=2", "--fail-on-gap"},
			errs: []string{"--fail-on-gap only applies with --wait; add --wait or drop --fail-on-gap"}},
		{name: "scale wait and dry run", cmd: scaleCmd, args: []string{"web", "--replicas=2", "--wait", "--dry-run=server"},
			errs: []string{"--wait has nothing to follow with --dry-run"}},
		{name: "scale precondition", cmd: scaleCmd, args: []string{"web", "--replicas=5", "--current-replicas=2"},
			errs: []string{`deployment "web" in namespace "shop" has 3 replicas, expected 2; nothing was changed`}, actions: []string{"get deployments/scale"}},
		{name: "set-image", cmd: setImageCmd, args: []string{"web", "web=nginx:1.28"},
			out: "deployment.apps/web image updated\n", actions: []string{"get deployments", "patch deployments"}},
		{name: "set-image unchanged", cmd: setImageCmd, args: []string{"web", "web=nginx:1.27"},
			out: "deployment.apps/web unchanged\n", actions: []string{"get deployments"}},
		{name: "set-image server dry run", cmd: setImageCmd, args: []string{"web", "*=nginx:1.28", "--dry-run=server"},
			out: "deployment.apps/web image updated (server dry run)\n  container web: nginx:1.27 -> nginx:1.28\n", actions: []string{"get deployments", "patch deployments"}},
		{name: "set-image client dry run", cmd: setImageCmd, args: []string{"web", "web=nginx:1.28", "--dry-run=client"},
			out: "deployment.apps/web image updated (dry run)\n  container web: nginx:1.27 -> nginx:1.28\n", actions: []string{"get deployments"}},
		{name: "scale unchanged dry run", cmd: scaleCmd, args: []string{"web", "--replicas=3", "--dry-run=client"},
			out: "deployment.apps/web unchanged (dry run)\n", actions: []string{"get deployments/scale"}},
		{name: "set-image every bad input at once", cmd: setImageCmd, args: []string{"web", "nginx", "side=", "x=Bad", "--dry-run=now"},
			errs: []string{`"nginx" is not CONTAINER=IMAGE`, `container "side": empty image`, `container "x": invalid image "Bad"`, `unknown dry-run mode "now"`}},
		{name: "set-image no pairs", cmd: setImageCmd, args: []string{"web"},
			errs: []string{"no CONTAINER=IMAGE given"}},
		{name: "set-image unknown container", cmd: setImageCmd, args: []string{"web", "api=nginx"},
			errs: []string{`has no container "api"; its containers: web`}, actions: []string{"get deployments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out, err := runChange(t, tt.cmd, tt.args...)
			if len(tt.errs) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, want := range tt.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not say %q", err, want)
				}
			}
			if tt.out != "" && out != tt.out {
				t.Errorf("output %q, want %q", out, tt.out)
			}
			var got []string
			for _, a := range c.Actions() {
				s := a.GetVerb() + " " + a.GetResource().Resource
				if a.GetSubresource() != "" {
					s += "/" + a.GetSubresource()
				}
				got = append(got, s)
			}
			if strings.Join(got, ",") != strings.Join(tt.actions, ",") {
				t.Errorf("actions %v, want %v", got, tt.actions)
			}
		})
	}
}

// TestScaleWarnsOfAutoscaler: a scale of a Deployment an HPA targets prints
// one warning line that names it, and is still made; an unchanged scale
// does not look.
func TestScaleWarnsOfAutoscaler(t *testing.T) {
	min := int32(2)
	newCmd := func(streams genericiooptions.IOStreams, c *clients) *cobra.Command {
		if err := c.Kube.(*fake.Clientset).Tracker().Add(&autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "web-hpa", Namespace: "shop"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: 6,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
		}); err != nil {
			t.Fatal(err)
		}
		return scaleCmd(streams, c)
	}
	_, out, err := runChange(t, newCmd, "web", "--replicas=5")
	if err != nil {
		t.Fatal(err)
	}
	want := `warning: HorizontalPodAutoscaler "web-hpa" (min 2, max 6 replicas) targets deployment "web" in namespace "shop" and will undo this change of its replicas; change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead`
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], want) || lines[1] != "deployment.apps/web scaled" {
		t.Errorf("output %q, want the warning line, then the result", out)
	}
	_, out, err = runChange(t, newCmd, "web", "--replicas=3")
	if err != nil || out != "deployment.apps/web unchanged\n" {
		t.Errorf("unchanged: %q, %v", out, err)
	}
}

func TestChangeOutputObject(t *testing.T) {
	for _, tt := range []struct {
		cmd        func(genericiooptions.IOStreams, *clients) *cobra.Command
		args       []string
		apiVersion string
		kind       string
	}{
		{scaleCmd, []string{"web", "--replicas=5", "-o", "json"}, "autoscaling/v1", "Scale"},
		{setImageCmd, []string{"web", "web=nginx:1.28", "-o", "json", "--dry-run=client"}, "apps/v1", "Deployment"},
	} {
		_, out, err := runChange(t, tt.cmd, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("%v: output is not one JSON object: %v\n%s", tt.args, err, out)
		}
		if obj.APIVersion != tt.apiVersion || obj.Kind != tt.kind {
			t.Errorf("%v: printed %s %s, want %s %s", tt.args, obj.APIVersion, obj.Kind, tt.apiVersion, tt.kind)
		}
		if tt.kind == "Deployment" && !strings.Contains(out, `"image": "nginx:1.28"`) {
			t.Errorf("client dry run output does not show the new image:\n%s", out)
		}
	}
}
