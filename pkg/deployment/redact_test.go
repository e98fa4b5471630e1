package deployment

import (
	"slices"
	"strings"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// TestWithoutDiagnosis: nothing read from Pods or Events is left, neither
// in Problems nor in the message, and the shared Changed is not touched.
func TestWithoutDiagnosis(t *testing.T) {
	problems := []diagnosis.Problem{{Reason: "Unschedulable", Message: "0/2 nodes are available", Pod: "web-7d9-abcde", Pods: 1}}
	cause := diagnosis.Describe(problems, 1, 1)
	for _, tc := range []struct {
		name string
		in   Summary
		want string
	}{
		{"failing", Summary{Status: Failing, Message: cause, Problems: problems}, UndiagnosedMessage},
		{"failed", Summary{Status: Failed, Message: `ProgressDeadlineExceeded: ReplicaSet "web-7d9" has timed out progressing. (` + cause + ")", Problems: problems},
			`ProgressDeadlineExceeded: ReplicaSet "web-7d9" has timed out progressing.`},
		{"progressing", Summary{Status: Progressing, Message: "0 of 1 new replicas updated", Problems: problems}, "0 of 1 new replicas updated"},
		{"running", Summary{Status: Running}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := []string{"message", "problems"}
			e := Event{Summary: tc.in, Changed: changed}.WithoutDiagnosis()
			if e.Problems != nil || e.Message != tc.want {
				t.Errorf("got problems %v, message %q; want none and %q", e.Problems, e.Message, tc.want)
			}
			if strings.Contains(e.Message, "web-7d9-abcde") || strings.Contains(e.Message, "nodes are available") {
				t.Errorf("message %q quotes the diagnosis", e.Message)
			}
			if !slices.Equal(e.Changed, []string{"message"}) || !slices.Equal(changed, []string{"message", "problems"}) {
				t.Errorf("changed %v (the original now %v), want [message] and the original untouched", e.Changed, changed)
			}
		})
	}
}
