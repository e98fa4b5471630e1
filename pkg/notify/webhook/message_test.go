package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func TestParsing(t *testing.T) {
	if f, err := ParseFormat("Slack"); err != nil || f != Slack {
		t.Errorf("ParseFormat(Slack) = %q, %v", f, err)
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "use json or slack") {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	for _, good := range []string{"http://127.0.0.1:9/hook", "https://hooks.slack.com/services/T/B/X"} {
		if err := ValidateURL(good); err != nil {
			t.Errorf("ValidateURL(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "hooks.slack.com/x", "ftp://h/x", "http://", "http:///path", "://x", "http://[::1"} {
		err := ValidateURL(bad)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--notify-webhook") {
			t.Errorf("ValidateURL(%q) = %v, want a one-line error naming the flag", bad, err)
		}
	}
}

func TestBody(t *testing.T) {
	m := Message{
		ID: "u1/failed/42", Kind: Failed, Seq: 3, Term: 7, Leader: "replica-2",
		Deployment: "api", Namespace: "payments", UID: "u1", OldStatus: deployment.Progressing, NewStatus: deployment.Failed,
		Message: "ProgressDeadlineExceeded: too slow", Images: []string{"api:2"}, Timestamp: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
	}
	b, err := body(m, JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"u1/failed/42","kind":"failed","seq":3,"term":7,"leader":"replica-2","deployment":"api","namespace":"payments","uid":"u1","oldStatus":"Progressing","newStatus":"Failed","message":"ProgressDeadlineExceeded: too slow","images":["api:2"],"timestamp":"2026-11-23T09:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON body\n%s\nwant\n%s", b, want)
	}
	b, err = body(m, Slack)
	if err != nil {
		t.Fatal(err)
	}
	var slack map[string]string
	if err := json.Unmarshal(b, &slack); err != nil || len(slack) != 1 || slack["text"] != "payments/api is Failed: ProgressDeadlineExceeded: too slow" {
		t.Errorf("Slack body %s", b)
	}
	m.Kind, m.OldStatus, m.NewStatus, m.Message = Recovered, deployment.Failed, deployment.Running, ""
	if got := m.Text(); got != "payments/api recovered: Failed -> Running (api:2)" {
		t.Errorf("recovered text %q", got)
	}
}

func TestIdempotencyKey(t *testing.T) {
	for id, want := range map[string]string{
		"0f6c1b6e-5d4a-4b1e-9c47-3b2a8f1d7e90/failed/4812": `"0f6c1b6e-5d4a-4b1e-9c47-3b2a8f1d7e90/failed/4812"`,
		`a"b\c`: `"a\"b\\c"`,
	} {
		if got := idempotencyKey(Message{ID: id}); got != want {
			t.Errorf("idempotencyKey(%q) = %s, want %s", id, got, want)
		}
	}
}

// TestTextNamesTheWorkload: a Deployment's lines are as they were before
// other kinds, whether its message carries its kind or (claimed before the
// field) none; a StatefulSet and a DaemonSet are named as kubectl names
// them, in every kind of line.
func TestTextNamesTheWorkload(t *testing.T) {
	base := Message{Namespace: "payments", OldStatus: deployment.Progressing, NewStatus: deployment.Failed, Images: []string{"app:2"}}
	lines := map[Kind]string{
		Failed:    "%s is Failed: why",
		Recovered: "%s recovered: Progressing -> Failed: why (app:2)",
		Started:   "%s rollout started: why (app:2)",
		Completed: "%s rollout completed: why (app:2)",
		Failing:   "%s is Failing: why",
	}
	for _, c := range []struct{ kind, name, want string }{
		{"", "api", "payments/api"},
		{deployment.KindDeployment, "api", "payments/api"},
		{deployment.KindStatefulSet, "db", "payments/sts/db"},
		{deployment.KindDaemonSet, "agent", "payments/ds/agent"},
	} {
		for _, k := range Kinds {
			m := base
			m.Kind, m.WorkloadKind, m.Deployment, m.Message = k, c.kind, c.name, "why"
			if got, want := m.Text(), strings.Replace(lines[k], "%s", c.want, 1); got != want {
				t.Errorf("%s %q, %s: text %q, want %q", c.kind, c.name, k, got, want)
			}
		}
	}
	m := base
	m.Kind, m.WorkloadKind, m.Deployment = Failing, deployment.KindStatefulSet, "db"
	b, err := body(m, JSON)
	if err != nil || !strings.Contains(string(b), `"deployment":"db","workloadKind":"StatefulSet","namespace":"payments"`) {
		t.Errorf("JSON body %s (%v); want the name and the workload's kind", b, err)
	}
}
