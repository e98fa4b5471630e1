package cmd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
)

// TestFailedWaitPrintsNextSteps: the error line of a failed
// --until-complete is as before; each failure's next steps follow it, one
// command a line with what it does as a shell comment, and every other
// failure has an error line of its own. Any other error stays one line.
func TestFailedWaitPrintsNextSteps(t *testing.T) {
	api := summary("api", deployment.Failed, "ProgressDeadlineExceeded: timed out")
	api.Revision = 2
	api.Problems = []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: "api-5d8c-x2k4", Pods: 1}}
	db := summary("db", deployment.Paused, "rollout paused before it started: no pods until resumed")
	db.Generation, db.ObservedGeneration, db.Replicas.Desired = 1, 1, 2
	view := gate.NewView(nopSink{}, func() {}, gate.ViewOptions{FailingGrace: time.Minute, Target: gate.Target{Context: "prod"}})
	view.OnSynced([]deployment.Summary{api, db, summary("web", deployment.Running, "")})

	for _, tt := range []struct {
		name string
		err  error
		code int
		want string
	}{
		{"a failed wait", exitOf(context.Background(), view.Result(context.Background(), 0)), exitFailure,
			`error: deployment shop/api is Failed: ProgressDeadlineExceeded: timed out
  kubectl deploywatch undo api -n shop --context prod         # roll back to the previous revision
  kubectl deploywatch history api -n shop --context prod      # list its revisions and their images
  kubectl describe pod api-5d8c-x2k4 -n shop --context prod   # the state and events of a pod with ImagePullBackOff
error: deployment shop/db is Paused: rollout paused before it started: no pods until resumed
  kubectl deploywatch resume db -n shop --context prod   # start the rollout: it has no pods until resumed
`},
		{"any other error", errors.New("deployment \"api\" not found\nin namespace \"shop\""), exitFailure,
			"error: deployment \"api\" not found in namespace \"shop\"\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := &cobra.Command{Use: "fails", SilenceUsage: true, SilenceErrors: true,
				RunE: func(*cobra.Command, []string) error { return tt.err }}
			root.SetArgs(nil)
			streams, _, _, errOut := genericiooptions.NewTestIOStreams()
			if code := executeWith(root, streams, nil); code != tt.code || errOut.String() != tt.want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and:\n%s", code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}

// TestStepTarget: next steps repeat --kubeconfig and one --context, never
// a list of contexts (each Deployment then names its own).
func TestStepTarget(t *testing.T) {
	cf := genericclioptions.NewConfigFlags(false)
	if got := stepTarget(cf); got != (gate.Target{}) {
		t.Errorf("no flags: %+v", got)
	}
	*cf.KubeConfig, *cf.Context = "/tmp/kc", "prod"
	if got := stepTarget(cf); got != (gate.Target{Kubeconfig: "/tmp/kc", Context: "prod"}) {
		t.Errorf("both flags: %+v", got)
	}
	*cf.Context = "east,west"
	if got := stepTarget(cf); got != (gate.Target{Kubeconfig: "/tmp/kc"}) {
		t.Errorf("several contexts: %+v", got)
	}
	if got := stepTarget(nil); got != (gate.Target{}) {
		t.Errorf("nil flags: %+v", got)
	}
}
