// Package notify tells webhooks about Deployment status transitions (into
// Failed, out of Failed, a rollout starting or completing), from exactly one
// of several `serve` replicas. It reuses pkg/tracker for watching and knows
// nothing of cobra or HTTP serving.
//
// The protocol. A coordination.k8s.io Lease elects the sender; its term is
// the Lease's UID, spec.leaseTransitions and holder, read once it is
// acquired. The state is Shards ConfigMaps (<lease>-state-N, a record per
// Deployment in the shard its key hashes to), each written only with the
// resourceVersion last read and stamped with the writer's term.
//   - Claim: the leader writes a transition into its record (status, seq+1,
//     the message pending) before sending it, and removes the message once
//     delivered. Of two replicas that both believe they lead, only one
//     writes a given version of a shard.
//   - Fence: a new leader first writes its term into every shard. A deposed
//     leader's next write there conflicts; it reads the shard again, finds a
//     term the Lease confirms and stops. A claim it wrote before the fence
//     is read by the fencing write.
//   - Resend: whenever a leader reads a shard (the fence, a Conflict), it
//     resends every pending message there it has not queued itself, as
//     claimed (ID, seq, term). So a claim is delivered unless given up on.
//
// A record also keeps the resourceVersion its status was decided on, so a
// lagging watch (a resumed leader's queued events, a new leader's informer
// behind the old one's) does not read a past state as a transition.
//
// A deposed leader may still deliver what it claimed before the fence, so
// a message can arrive twice (same ID) or late: receivers keep, per
// Deployment UID, the highest seq handled and drop the rest.
package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Kind is the kind of transition a notification reports.
type Kind string

const (
	// Failed: into Failed (the rollout exceeded its progress deadline).
	Failed Kind = "failed"
	// Recovered: out of Failed, into any other status.
	Recovered Kind = "recovered"
	// Started: into Progressing, a rollout starting.
	Started Kind = "started"
	// Completed: into Running after Progressing, a rollout done.
	Completed Kind = "completed"
	// Failing: into Failing (the new pods fail; the message says why),
	// before the progress deadline.
	Failing Kind = "failing"
)

// Kinds are every Kind, in the order the docs list them.
var Kinds = []Kind{Failed, Recovered, Started, Completed, Failing}

// DefaultKinds are notified unless --notify-on says otherwise: the two a
// person must act on or may stop acting on.
var DefaultKinds = []Kind{Failed, Recovered}

// KindOf is the transition from status from to status to, or "" when the
// change is none a user is notified about (scaling, a blip of Degraded).
// Failed wins over the rollout kinds: Progressing to Failed is a failure,
// Failed to Progressing a recovery.
func KindOf(from, to deployment.Status) Kind {
	switch {
	case from == to:
		return ""
	case to == deployment.Failed:
		return Failed
	case to == deployment.Failing:
		return Failing // also from Failed: a new rollout failing before its deadline
	case from == deployment.Failed:
		return Recovered
	case to == deployment.Progressing && from != deployment.Failing:
		return Started // a Failing rollout that recovers did not start again
	case from == deployment.Progressing && to == deployment.Running:
		return Completed
	}
	return ""
}

// ParseKinds reads --notify-on's values.
func ParseKinds(values []string) ([]Kind, error) {
	var out []Kind
	for _, v := range values {
		k := Kind(strings.ToLower(strings.TrimSpace(v)))
		ok := false
		for _, known := range Kinds {
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

// Format is the body's shape.
type Format string

const (
	// JSON posts the Message as it is.
	JSON Format = "json"
	// Slack posts Slack's incoming-webhook shape, {"text": "..."}.
	Slack Format = "slack"
)

// ParseFormat reads --notify-format.
func ParseFormat(v string) (Format, error) {
	switch f := Format(strings.ToLower(v)); f {
	case JSON, Slack:
		return f, nil
	}
	return "", fmt.Errorf("invalid --notify-format %q: use json or slack", v)
}

// ValidateWebhook checks a --notify-webhook URL: absolute http(s) with a host.
func ValidateWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("invalid --notify-webhook %q: use an absolute http:// or https:// URL, e.g. https://hooks.slack.com/services/T0/B0/XXXX", raw)
	}
	return nil
}

// redact shows a webhook URL without its path and query, which often carry
// the secret (Slack's do), for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + "/..."
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

// Message is one notification: the JSON body of --notify-format json.
type Message struct {
	// ID is the same for every delivery of one transition, including a
	// resend by a new leader: receivers may deduplicate on it.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Seq grows by one with every message claimed for this Deployment
	// (its UID), whichever leader claims it: a receiver that keeps the
	// highest Seq it handled per UID drops a late, stale send by keeping
	// only larger ones.
	Seq int64 `json:"seq"`
	// Term and Leader name the leadership that claimed the transition: the
	// Lease's spec.leaseTransitions and holderIdentity at the time. A
	// resend keeps them.
	Term       int32             `json:"term"`
	Leader     string            `json:"leader"`
	Deployment string            `json:"deployment"`
	Namespace  string            `json:"namespace"`
	UID        string            `json:"uid"`
	OldStatus  deployment.Status `json:"oldStatus"`
	NewStatus  deployment.Status `json:"newStatus"`
	Message    string            `json:"message"`
	Images     []string          `json:"images"`
	Timestamp  time.Time         `json:"timestamp"`
}

// newMessage describes the transition of s from status old, claimed as
// message seq of s by the leadership t.
func newMessage(kind Kind, old deployment.Status, s deployment.Summary, seq int64, t term, now time.Time) Message {
	images := make([]string, 0, len(s.Containers))
	for _, c := range s.Containers {
		images = append(images, c.Image)
	}
	return Message{
		ID:         fmt.Sprintf("%s/%s/%s", s.UID, kind, s.ResourceVersion),
		Kind:       kind,
		Seq:        seq,
		Term:       t.Transitions,
		Leader:     t.Holder,
		Deployment: s.Name,
		Namespace:  s.Namespace,
		UID:        string(s.UID),
		OldStatus:  old,
		NewStatus:  s.Status,
		Message:    s.Message,
		Images:     images,
		Timestamp:  now.UTC(),
	}
}

// Text is the one line a person reads, e.g. "payments/api is Failed:
// ProgressDeadlineExceeded: ...".
func (m Message) Text() string {
	name := m.Namespace + "/" + m.Deployment
	var line string
	switch m.Kind {
	case Failed:
		line = fmt.Sprintf("%s is Failed", name)
	case Recovered:
		line = fmt.Sprintf("%s recovered: %s -> %s", name, m.OldStatus, m.NewStatus)
	case Started:
		line = fmt.Sprintf("%s rollout started", name)
	case Completed:
		line = fmt.Sprintf("%s rollout completed", name)
	case Failing:
		line = fmt.Sprintf("%s is Failing", name)
	default:
		line = fmt.Sprintf("%s: %s -> %s", name, m.OldStatus, m.NewStatus)
	}
	if m.Message != "" {
		line += ": " + m.Message
	}
	if len(m.Images) > 0 && m.Kind != Failed && m.Kind != Failing {
		line += " (" + strings.Join(m.Images, ", ") + ")"
	}
	return line
}

// Body is what is posted for m in format f.
func Body(m Message, f Format) ([]byte, error) {
	if f == Slack {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{m.Text()})
	}
	return json.Marshal(m)
}
