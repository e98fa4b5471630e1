package gate

import (
	"context"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestWarningsSummary: the closing line names each Deployment with
// warnings, its count and ids, in the order views list them; none when
// no Deployment has any; a deleted one is no longer named.
func TestWarningsSummary(t *testing.T) {
	v := NewView(nopSink{}, func() {}, ViewOptions{})
	api := summary("api", deployment.Running, "")
	api.Warnings = []deployment.Warning{{ID: "rollout-drops-all-pods"}, {ID: "no-readiness-probe"}, {ID: "no-prestop"}}
	web := summary("web", deployment.Running, "")
	web.Warnings = []deployment.Warning{{ID: "no-pdb", Level: "notice"}}
	plain := summary("db", deployment.Running, "")
	v.OnSynced([]deployment.Summary{web, plain, api})
	want := "rollout-safety warnings on 2 deployments: shop/api 3 (rollout-drops-all-pods, no-readiness-probe, no-prestop), shop/web 1 (no-pdb); 'kubectl deploywatch check' says how to fix each"
	if got := v.WarningsSummary(); got != want {
		t.Errorf("summary %q,\nwant %q", got, want)
	}
	if err := v.Result(context.Background(), 0); err != nil {
		t.Errorf("the wait ended with %v; warnings do not fail it", err)
	}
	v.OnEvent(deployment.Event{Type: deployment.Deleted, Summary: api})
	if got := v.WarningsSummary(); got != "rollout-safety warnings on 1 deployment: shop/web 1 (no-pdb); 'kubectl deploywatch check' says how to fix each" {
		t.Errorf("after api's deletion: %q", got)
	}

	none := NewView(nopSink{}, func() {}, ViewOptions{})
	none.OnSynced([]deployment.Summary{plain})
	if got := none.WarningsSummary(); got != "" {
		t.Errorf("no warnings, yet %q", got)
	}
}
