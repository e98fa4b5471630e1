// Package webhook posts serve's rollout notifications to webhooks: the
// message and its JSON or Slack body, a bounded queue delivered in order in
// the background, retries with backoff, and the metrics of all that. Every
// post carries the message's ID as its Idempotency-Key header, so a receiver
// can drop a message it already has, whichever replica sent it. It knows
// nothing of leader election or Kubernetes: the caller says what to send
// (see pkg/notify/leader) and whether it may still send.
package webhook

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

// ValidateURL checks a --notify-webhook URL: absolute http(s) with a host.
func ValidateURL(raw string) error {
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

// Message is one notification: the JSON body of --notify-format json.
type Message struct {
	// ID is the same for every delivery of one transition, including a
	// resend by a new leader: receivers may deduplicate on it. It is also
	// every post's Idempotency-Key.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Seq grows by one with every message claimed for this workload
	// (its UID), whichever leader claims it: a receiver that keeps the
	// highest Seq it handled per UID drops a late, stale send by keeping
	// only larger ones.
	Seq int64 `json:"seq"`
	// Term and Leader name the leadership that claimed the transition: the
	// Lease's spec.leaseTransitions and holderIdentity at the time. A
	// resend keeps them.
	Term   int32  `json:"term"`
	Leader string `json:"leader"`
	// Deployment is the workload's name, whatever its kind (the field
	// kept its name from when only Deployments were notified).
	Deployment string `json:"deployment"`
	// WorkloadKind is the workload's kind: Deployment, StatefulSet or
	// DaemonSet ("kind" is the transition's). Empty in a message claimed
	// before it existed, which is a Deployment's.
	WorkloadKind string            `json:"workloadKind,omitempty"`
	Namespace    string            `json:"namespace"`
	UID          string            `json:"uid"`
	OldStatus    deployment.Status `json:"oldStatus"`
	NewStatus    deployment.Status `json:"newStatus"`
	Message      string            `json:"message"`
	Images       []string          `json:"images"`
	Timestamp    time.Time         `json:"timestamp"`
}

// Workload names the workload in its namespace: "payments/api" for a
// Deployment, as before other kinds; others as kubectl names them,
// "payments/sts/db", "payments/ds/agent".
func (m Message) Workload() string {
	if m.WorkloadKind == "" || m.WorkloadKind == deployment.KindDeployment {
		return m.Namespace + "/" + m.Deployment
	}
	return m.Namespace + "/" + deployment.ShortKind(m.WorkloadKind) + "/" + m.Deployment
}

// Text is the one line a person reads, e.g. "payments/api is Failed:
// ProgressDeadlineExceeded: ...", "payments/sts/db is Failing: ...".
func (m Message) Text() string {
	name := m.Workload()
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

// body is what is posted for m in format f.
func body(m Message, f Format) ([]byte, error) {
	if f == Slack {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{m.Text()})
	}
	return json.Marshal(m)
}

// idempotencyKey is m's Idempotency-Key header value: a Structured Field
// String (RFC 8941), as draft-ietf-httpapi-idempotency-key-header says.
// IDs are printable ASCII; quotes and backslashes are escaped.
func idempotencyKey(m Message) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(m.ID) + `"`
}
