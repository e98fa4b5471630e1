package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// benchDiagnose: a set-image to a tag that cannot be pulled; how long until
// `kubectl deploywatch --until-complete` (default --failing-grace) and
// `kubectl rollout status` each exit with a failure, started together on
// the same Deployment.
func benchDiagnose(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	// kubectl fails at the progress deadline: its default (600 s) in a full
	// run, 60 s in a quick one.
	deadline := pick(int32(600), int32(60))
	d := testutil.Deployment("web", testutil.Replicas(2))
	d.Spec.ProgressDeadlineSeconds = &deadline
	createDeployment(t, cs, ns, d)
	waitSettled(t, cs, ns, "web", true)

	type outcome struct {
		took   time.Duration
		code   int
		output string
	}
	run := func(args ...string) outcome {
		cctx, cancel := context.WithTimeout(ctx, time.Duration(deadline)*time.Second+3*time.Minute)
		defer cancel()
		cmd := c.KubectlCmd(cctx, args...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		o := outcome{took: time.Since(start), output: strings.TrimSpace(string(out))}
		if exit, ok := err.(*exec.ExitError); ok {
			o.code = exit.ExitCode()
		} else if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		return o
	}
	var wg sync.WaitGroup
	var dw, kc outcome
	setImage(t, cs, ns, "web", "app", testbed.FaultImage(testbed.FaultImagePull))
	wg.Add(2)
	go func() { defer wg.Done(); dw = run("deploywatch", "watch", ns, "--until-complete") }()
	go func() {
		defer wg.Done()
		kc = run("rollout", "status", "deployment/web", "-n", ns, fmt.Sprintf("--timeout=%ds", deadline+120))
	}()
	wg.Wait()
	last := func(s string) string {
		lines := strings.Split(s, "\n")
		return lines[len(lines)-1]
	}
	if dw.code != 1 || !strings.Contains(dw.output, "ImagePull") {
		t.Errorf("deploywatch: exit %d, output %q; want 1 naming the image pull", dw.code, dw.output)
	}
	if kc.code != 1 {
		t.Errorf("kubectl rollout status: exit %d, output %q; want 1 at the deadline", kc.code, kc.output)
	}
	var cur appsv1.Deployment
	if got, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err == nil {
		cur = *got
	}
	r.add(section{
		title: "8. A broken set-image: time to a failed CI wait, started together on the same Deployment",
		head:  []string{"client", "exit", "time to exit", "its last line"},
		rows: [][]string{
			{"kubectl deploywatch NS --until-complete (--failing-grace 30s)", fmt.Sprint(dw.code), ms(dw.took), last(dw.output)},
			{"kubectl rollout status deployment/web", fmt.Sprint(kc.code), ms(kc.took), last(kc.output)},
		},
		notes: []string{fmt.Sprintf("The image is the test bed's %s (ErrImagePull / ImagePullBackOff from kwok Stages, as a kubelet reports a tag that does not exist); "+
			"progressDeadlineSeconds %d (the default is 600; a quick run uses 60). Target: deploywatch under 45 s with its defaults. "+
			"The Deployment ended with %d of %d replicas available: the old pods kept serving.", testbed.FaultImage(testbed.FaultImagePull), deadline,
			cur.Status.AvailableReplicas, 2)},
	})
}
