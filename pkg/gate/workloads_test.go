package gate

import (
	"strings"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// A StatefulSet that failed a view names its kind, and its next steps are
// kubectl's: the pod the OrderedReady rollout waits on first.
func TestStatefulSetFailureSteps(t *testing.T) {
	s := &deployment.Summary{Kind: deployment.KindStatefulSet, Namespace: "shop", Name: "db", Status: deployment.Failing, Message: "stuck",
		Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: "db-2", Pods: 1, Blocking: true}}}
	f := every{target: Target{Context: "prod"}}.failure(s)
	if f.Message != "statefulset shop/db is Failing: stuck" {
		t.Errorf("message %q", f.Message)
	}
	var got []string
	for _, st := range f.Steps {
		got = append(got, st.Command)
	}
	want := []string{
		"kubectl delete pod db-2 -n shop --context prod",
		"kubectl rollout history statefulset/db -n shop --context prod",
		"kubectl describe pod db-2 -n shop --context prod",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ds := &deployment.Summary{Kind: deployment.KindDaemonSet, Namespace: "shop", Name: "agent", Status: deployment.Paused}
	if steps := stepsFor(ds, Target{}, stepKinds{undo: true, history: true}); len(steps) != 1 || steps[0].Command != "kubectl rollout history daemonset/agent -n shop" {
		t.Errorf("daemonset steps %+v: no deploywatch resume, undo or history", steps)
	}
}
