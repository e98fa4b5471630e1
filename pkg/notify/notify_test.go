package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		from, to deployment.Status
		want     Kind
	}{
		{deployment.Progressing, deployment.Failed, Failed},
		{deployment.Running, deployment.Failed, Failed},
		{deployment.Failed, deployment.Progressing, Recovered},
		{deployment.Failed, deployment.Running, Recovered},
		{deployment.Failed, deployment.ScaledToZero, Recovered},
		{deployment.Running, deployment.Progressing, Started},
		{deployment.Degraded, deployment.Progressing, Started},
		{deployment.Progressing, deployment.Running, Completed},
		{deployment.Running, deployment.Running, ""},
		{deployment.Failed, deployment.Failed, ""},
		{deployment.Running, deployment.Scaling, ""},
		{deployment.Scaling, deployment.Running, ""},
		{deployment.Progressing, deployment.Degraded, ""},
		{deployment.Degraded, deployment.Running, ""},
		{deployment.Progressing, deployment.Failing, Failing},
		{deployment.Failed, deployment.Failing, Failing},
		{deployment.Failing, deployment.Failed, Failed},
		{deployment.Failing, deployment.Progressing, ""},
		{deployment.Failing, deployment.Failing, ""},
	} {
		if got := KindOf(c.from, c.to); got != c.want {
			t.Errorf("KindOf(%s, %s) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

func TestParsing(t *testing.T) {
	if k, err := ParseKinds([]string{"failed", " Recovered", "started", "completed"}); err != nil || len(k) != 4 || k[1] != Recovered {
		t.Errorf("ParseKinds(all) = %v, %v", k, err)
	}
	for _, bad := range [][]string{{"fail"}, {}, {"failed", ""}} {
		if _, err := ParseKinds(bad); err == nil || !strings.Contains(err.Error(), "--notify-on") {
			t.Errorf("ParseKinds(%q) = %v, want an error naming --notify-on", bad, err)
		}
	}
	if f, err := ParseFormat("Slack"); err != nil || f != Slack {
		t.Errorf("ParseFormat(Slack) = %q, %v", f, err)
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "use json or slack") {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	for _, good := range []string{"http://127.0.0.1:9/hook", "https://hooks.slack.com/services/T/B/X"} {
		if err := ValidateWebhook(good); err != nil {
			t.Errorf("ValidateWebhook(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", "hooks.slack.com/x", "ftp://h/x", "http://", "http:///path", "://x", "http://[::1"} {
		err := ValidateWebhook(bad)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--notify-webhook") {
			t.Errorf("ValidateWebhook(%q) = %v, want a one-line error naming the flag", bad, err)
		}
	}
	if err := ValidateTimings(15*time.Second, 10*time.Second, 2*time.Second); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range [][3]time.Duration{
		{10 * time.Second, 10 * time.Second, 2 * time.Second},
		{15 * time.Second, 10 * time.Second, 10 * time.Second},
		{5 * time.Second, 10 * time.Second, 2 * time.Second},
		{15 * time.Second, 10 * time.Second, 0},
	} {
		err := ValidateTimings(c[0], c[1], c[2])
		if err == nil || !strings.Contains(err.Error(), "--leader-elect-retry-period") {
			t.Errorf("ValidateTimings(%v) = %v, want an error naming the flags", c, err)
		}
	}
}

func TestBody(t *testing.T) {
	s := deployment.Summary{
		Namespace: "payments", Name: "api", UID: "u1", ResourceVersion: "42",
		Status: deployment.Failed, Message: "ProgressDeadlineExceeded: too slow",
		Containers: []deployment.Container{{Name: "app", Image: "api:2"}},
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	m := newMessage(Failed, deployment.Progressing, s, 3, term{Lease: "l1", Transitions: 7, Holder: "replica-2"}, now)
	b, err := Body(m, JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"u1/failed/42","kind":"failed","seq":3,"term":7,"leader":"replica-2","deployment":"api","namespace":"payments","uid":"u1","oldStatus":"Progressing","newStatus":"Failed","message":"ProgressDeadlineExceeded: too slow","images":["api:2"],"timestamp":"2026-11-23T09:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON body\n%s\nwant\n%s", b, want)
	}
	b, err = Body(m, Slack)
	if err != nil {
		t.Fatal(err)
	}
	var slack map[string]string
	if err := json.Unmarshal(b, &slack); err != nil || len(slack) != 1 || slack["text"] != "payments/api is Failed: ProgressDeadlineExceeded: too slow" {
		t.Errorf("Slack body %s", b)
	}
	s.Status, s.Message = deployment.Running, ""
	if got := newMessage(Recovered, deployment.Failed, s, 4, term{}, now).Text(); got != "payments/api recovered: Failed -> Running (api:2)" {
		t.Errorf("recovered text %q", got)
	}
}

func TestRecordKey(t *testing.T) {
	if k := recordKey("ns", "web.v2"); k != "ns_web.v2" {
		t.Errorf("recordKey = %q", k)
	}
	long := strings.Repeat("a", 253)
	k1, k2 := recordKey("ns", long), recordKey("ns", long[:252]+"b")
	if len(k1) > 253 || k1 == k2 {
		t.Errorf("long keys %q and %q: want at most 253 characters and distinct", k1, k2)
	}
}
