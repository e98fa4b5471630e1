package operations

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestReadPlanWrite: the rounds of one change, with a store that moves on
// every read: what is read, planned and sent, what each mode returns, and
// that the write's refusal reaches the next round's plan.
func TestReadPlanWrite(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name      string
		dryRun    DryRunMode
		refuse    int // how many writes are refused
		unchanged bool
		want      []string // what happened, in order
		changed   bool
		version   string // the result's resourceVersion
		err       error
	}{
		{name: "written", want: []string{"read 1", "plan 1 <nil>", "send 1 []"}, changed: true, version: "written"},
		{name: "already as asked", unchanged: true, want: []string{"read 1", "plan 1 <nil>"}, version: "1"},
		{name: "client dry run sends nothing", dryRun: DryRunClient, want: []string{"read 1", "plan 1 <nil>", "local 1"}, changed: true, version: "1"},
		{name: "server dry run", dryRun: DryRunServer, want: []string{"read 1", "plan 1 <nil>", "send 1 [All]"}, changed: true, version: "written"},
		{name: "refused once, then written", refuse: 1,
			want:    []string{"read 1", "plan 1 <nil>", "send 1 []", "again 1", "read 2", "plan 2 refused", "send 2 []"},
			changed: true, version: "written"},
		{name: "refused until again says no", refuse: 9,
			want: []string{"read 1", "plan 1 <nil>", "send 1 []", "again 1", "read 2", "plan 2 refused", "send 2 []", "again 2"},
			err:  refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			reads, writes := 0, 0
			res, err := readPlanWrite(context.Background(), change[*autoscalingv1.Scale]{
				namespace: "shop", name: "web", dryRun: tt.dryRun, access: scaleAccess,
				read: func(context.Context) (*autoscalingv1.Scale, error) {
					reads++
					got = append(got, "read "+strconv.Itoa(reads))
					return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.Itoa(reads)}}, nil
				},
				plan: func(_ context.Context, current *autoscalingv1.Scale, lost error, attempt int) (plan[*autoscalingv1.Scale], error) {
					got = append(got, "plan "+strconv.Itoa(attempt)+" "+errString(lost))
					p := plan[*autoscalingv1.Scale]{changes: []Change{{What: "replicas", From: "1", To: "2"}}}
					if tt.unchanged {
						return p, nil
					}
					p.local = func() (runtime.Object, error) {
						got = append(got, "local "+current.ResourceVersion)
						return current, nil
					}
					p.send = func(_ context.Context, dryRun []string) (*autoscalingv1.Scale, error) {
						writes++
						got = append(got, "send "+current.ResourceVersion+" "+dryRunString(dryRun))
						if writes <= tt.refuse {
							return nil, refused
						}
						return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "written"}}, nil
					}
					return p, nil
				},
				again: func(err error, attempt int) (bool, error) {
					got = append(got, "again "+strconv.Itoa(attempt))
					return attempt < 2, err
				},
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rounds:\n got %q\nwant %q", got, tt.want)
			}
			if err != nil {
				return
			}
			if res.Changed != tt.changed || res.ResourceVersion != tt.version || len(res.Changes) != 1 {
				t.Errorf("result changed %v, resourceVersion %q, changes %v; want %v, %q and the plan's", res.Changed, res.ResourceVersion, res.Changes, tt.changed, tt.version)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func dryRunString(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return "[" + s[0] + "]"
}
