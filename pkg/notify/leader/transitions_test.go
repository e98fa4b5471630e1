package leader

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		from, to deployment.Status
		want     webhook.Kind
	}{
		{deployment.Progressing, deployment.Failed, webhook.Failed},
		{deployment.Running, deployment.Failed, webhook.Failed},
		{deployment.Failed, deployment.Progressing, webhook.Recovered},
		{deployment.Failed, deployment.Running, webhook.Recovered},
		{deployment.Failed, deployment.ScaledToZero, webhook.Recovered},
		{deployment.Running, deployment.Progressing, webhook.Started},
		{deployment.Degraded, deployment.Progressing, webhook.Started},
		{deployment.Progressing, deployment.Running, webhook.Completed},
		{deployment.Running, deployment.Running, ""},
		{deployment.Failed, deployment.Failed, ""},
		{deployment.Running, deployment.Scaling, ""},
		{deployment.Scaling, deployment.Running, ""},
		{deployment.Progressing, deployment.Degraded, ""},
		{deployment.Degraded, deployment.Running, ""},
		{deployment.Progressing, deployment.Failing, webhook.Failing},
		{deployment.Failed, deployment.Failing, webhook.Failing},
		{deployment.Failing, deployment.Failed, webhook.Failed},
		{deployment.Failing, deployment.Progressing, ""},
		{deployment.Failing, deployment.Failing, ""},
	} {
		if got := KindOf(c.from, c.to); got != c.want {
			t.Errorf("KindOf(%s, %s) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

func TestParsing(t *testing.T) {
	if k, err := ParseKinds([]string{"failed", " Recovered", "started", "completed"}); err != nil || len(k) != 4 || k[1] != webhook.Recovered {
		t.Errorf("ParseKinds(all) = %v, %v", k, err)
	}
	for _, bad := range [][]string{{"fail"}, {}, {"failed", ""}} {
		if _, err := ParseKinds(bad); err == nil || !strings.Contains(err.Error(), "--notify-on") {
			t.Errorf("ParseKinds(%q) = %v, want an error naming --notify-on", bad, err)
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

// TestNewMessage: the message a claim stores and every leader sends, field
// by field as the JSON body carries it.
func TestNewMessage(t *testing.T) {
	s := deployment.Summary{
		Namespace: "payments", Name: "api", UID: "u1", ResourceVersion: "42",
		Status: deployment.Failed, Message: "ProgressDeadlineExceeded: too slow",
		Containers: []deployment.Container{{Name: "app", Image: "api:2"}},
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	m := newMessage(webhook.Failed, deployment.Progressing, s, 3, term{Lease: "l1", Transitions: 7, Holder: "replica-2"}, now)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"u1/failed/42","kind":"failed","seq":3,"term":7,"leader":"replica-2","deployment":"api","namespace":"payments","uid":"u1","oldStatus":"Progressing","newStatus":"Failed","message":"ProgressDeadlineExceeded: too slow","images":["api:2"],"timestamp":"2026-11-23T09:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON body\n%s\nwant\n%s", b, want)
	}
	if m.Text() != "payments/api is Failed: ProgressDeadlineExceeded: too slow" {
		t.Errorf("text %q", m.Text())
	}
	s.Status, s.Message = deployment.Running, ""
	if got := newMessage(webhook.Recovered, deployment.Failed, s, 4, term{}, now).Text(); got != "payments/api recovered: Failed -> Running (api:2)" {
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
