package gate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// maxWarnedInSummary bounds the Deployments the closing line names.
const maxWarnedInSummary = 10

// WarningsSummary is the closing line of a wait about the rollout-safety
// warnings (see deployment.Warning) of the Deployments it saw last, each
// with their count and ids: "rollout-safety warnings on 2 deployments:
// shop/api 3 (rollout-drops-all-pods, no-readiness-probe, no-prestop),
// shop/web 1 (no-pdb); ...". "" when none has any.
func (v *View) WarningsSummary() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var warned []*deployment.Summary
	for _, s := range v.state {
		if len(s.Warnings) > 0 {
			warned = append(warned, &s)
		}
	}
	if len(warned) == 0 {
		return ""
	}
	sort.Slice(warned, func(i, j int) bool { return deployment.Compare(warned[i], warned[j]) < 0 })
	parts := make([]string, 0, min(len(warned), maxWarnedInSummary+1))
	for i, s := range warned {
		if i == maxWarnedInSummary {
			parts = append(parts, fmt.Sprintf("and %d more", len(warned)-i))
			break
		}
		ids := make([]string, len(s.Warnings))
		for j, w := range s.Warnings {
			ids[j] = w.ID
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s)", s.Where(), len(ids), strings.Join(ids, ", ")))
	}
	what := "deployment"
	if len(warned) > 1 {
		what = "deployments"
	}
	return fmt.Sprintf("rollout-safety warnings on %d %s: %s; 'kubectl deploywatch check' says how to fix each",
		len(warned), what, strings.Join(parts, ", "))
}
