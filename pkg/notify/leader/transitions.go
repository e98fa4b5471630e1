package leader

import (
	"fmt"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

// DefaultKinds are notified unless --notify-on says otherwise: the two a
// person must act on or may stop acting on.
var DefaultKinds = []webhook.Kind{webhook.Failed, webhook.Recovered}

// KindOf is the transition from status from to status to, or "" when the
// change is none a user is notified about (scaling, a blip of Degraded).
// Failed wins over the rollout kinds: Progressing to Failed is a failure,
// Failed to Progressing a recovery.
func KindOf(from, to deployment.Status) webhook.Kind {
	switch {
	case from == to:
		return ""
	case to == deployment.Failed:
		return webhook.Failed
	case to == deployment.Failing:
		return webhook.Failing // also from Failed: a new rollout failing before its deadline
	case from == deployment.Failed:
		return webhook.Recovered
	case to == deployment.Progressing && from != deployment.Failing:
		return webhook.Started // a Failing rollout that recovers did not start again
	case from == deployment.Progressing && to == deployment.Running:
		return webhook.Completed
	}
	return ""
}

// ParseKinds reads --notify-on's values.
func ParseKinds(values []string) ([]webhook.Kind, error) {
	var out []webhook.Kind
	for _, v := range values {
		k := webhook.Kind(strings.ToLower(strings.TrimSpace(v)))
		ok := false
		for _, known := range webhook.Kinds {
			ok = ok || k == known
		}
		if !ok {
			return nil, fmt.Errorf("invalid --notify-on value %q: use a comma-separated list of failed, recovered, started, completed", v)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--notify-on is empty: use a comma-separated list of failed, recovered, started, completed")
	}
	return out, nil
}

// ValidateTimings checks the leader election's durations; client-go would
// refuse them too, with a less helpful message.
func ValidateTimings(lease, renew, retry time.Duration) error {
	switch {
	case retry <= 0 || renew <= 0 || lease <= 0:
		return fmt.Errorf("--leader-elect-lease-duration (%s), --leader-elect-renew-deadline (%s) and --leader-elect-retry-period (%s) must all be positive", lease, renew, retry)
	case !(retry < renew && renew < lease):
		return fmt.Errorf("leader election needs --leader-elect-retry-period (%s) < --leader-elect-renew-deadline (%s) < --leader-elect-lease-duration (%s); e.g. 2s < 10s < 15s", retry, renew, lease)
	}
	return nil
}

// newMessage describes the transition of s from status old, claimed as
// message seq of s by the leadership t. Its ID names the workload (its
// UID), the kind and the resourceVersion the transition was decided on,
// and is stored with the claim: every send of it, by any leader, carries
// the same one.
func newMessage(kind webhook.Kind, old deployment.Status, s deployment.Summary, seq int64, t term, now time.Time) webhook.Message {
	images := make([]string, 0, len(s.Containers))
	for _, c := range s.Containers {
		images = append(images, c.Image)
	}
	return webhook.Message{
		ID:           fmt.Sprintf("%s/%s/%s", s.UID, kind, s.ResourceVersion),
		Kind:         kind,
		Seq:          seq,
		Term:         t.Transitions,
		Leader:       t.Holder,
		Deployment:   s.Name,
		WorkloadKind: kindOf(s.Kind),
		Namespace:    s.Namespace,
		UID:          string(s.UID),
		OldStatus:    old,
		NewStatus:    s.Status,
		Message:      s.Message,
		Images:       images,
		Timestamp:    now.UTC(),
	}
}

// kindOf is kind, or Deployment when it is empty: a summary, record or
// message from before other kinds has none.
func kindOf(kind string) string {
	if kind == "" {
		return deployment.KindDeployment
	}
	return kind
}
