package leader

import (
	"encoding/json"
	"fmt"
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
	want := `{"id":"u1/failed/42","kind":"failed","seq":3,"term":7,"leader":"replica-2","deployment":"api","workloadKind":"Deployment","namespace":"payments","uid":"u1","oldStatus":"Progressing","newStatus":"Failed","message":"ProgressDeadlineExceeded: too slow","images":["api:2"],"timestamp":"2026-11-23T09:00:00Z"}`
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

	// Other kinds: the same fields, their kind, and named as kubectl names
	// them in the text.
	s = deployment.Summary{
		Kind: deployment.KindStatefulSet, Namespace: "payments", Name: "db", UID: "u2", ResourceVersion: "43",
		Status: deployment.Failing, Message: "ImagePullBackOff: not found (1 of 1 new pod, 3 wanted; pod db-2)",
		Containers: []deployment.Container{{Name: "db", Image: "postgres:18"}},
	}
	m = newMessage(webhook.Failing, deployment.Progressing, s, 1, term{Lease: "l1", Transitions: 7, Holder: "replica-2"}, now)
	if b, _ = json.Marshal(m); string(b) != `{"id":"u2/failing/43","kind":"failing","seq":1,"term":7,"leader":"replica-2","deployment":"db","workloadKind":"StatefulSet","namespace":"payments","uid":"u2","oldStatus":"Progressing","newStatus":"Failing","message":"ImagePullBackOff: not found (1 of 1 new pod, 3 wanted; pod db-2)","images":["postgres:18"],"timestamp":"2026-11-23T09:00:00Z"}` {
		t.Errorf("StatefulSet's JSON body\n%s", b)
	}
	if got := m.Text(); got != "payments/sts/db is Failing: ImagePullBackOff: not found (1 of 1 new pod, 3 wanted; pod db-2)" {
		t.Errorf("StatefulSet's text %q", got)
	}
	s.Kind, s.Name, s.Status, s.Message = deployment.KindDaemonSet, "agent", deployment.Running, ""
	if got := newMessage(webhook.Completed, deployment.Progressing, s, 2, term{}, now).Text(); got != "payments/ds/agent rollout completed (postgres:18)" {
		t.Errorf("DaemonSet's text %q", got)
	}
}

func TestRecordKey(t *testing.T) {
	for _, c := range []struct{ kind, want string }{
		{"", "ns_web.v2"}, // a Deployment's, as before other kinds: an upgrade finds its records
		{deployment.KindDeployment, "ns_web.v2"},
		{deployment.KindStatefulSet, "ns_sts_web.v2"},
		{deployment.KindDaemonSet, "ns_ds_web.v2"},
	} {
		if k := recordKey(c.kind, "ns", "web.v2"); k != c.want {
			t.Errorf("recordKey(%q) = %q, want %q", c.kind, k, c.want)
		}
	}
	// No workload's key is another's, one name of every kind included.
	keys := map[string]string{}
	for _, w := range [][3]string{
		{deployment.KindDeployment, "ns", "db"}, {deployment.KindStatefulSet, "ns", "db"}, {deployment.KindDaemonSet, "ns", "db"},
		{deployment.KindDeployment, "ns", "sts.db"}, {deployment.KindDeployment, "ns", "sts-db"}, {deployment.KindDeployment, "ns-sts", "db"},
	} {
		k := recordKey(w[0], w[1], w[2])
		if prev, dup := keys[k]; dup {
			t.Errorf("%v and %s share the key %q", w, prev, k)
		}
		keys[k] = fmt.Sprint(w)
	}
	long := strings.Repeat("a", 253)
	k1, k2 := recordKey("", "ns", long), recordKey("", "ns", long[:252]+"b")
	if len(k1) > 253 || k1 == k2 {
		t.Errorf("long keys %q and %q: want at most 253 characters and distinct", k1, k2)
	}
	if k3 := recordKey(deployment.KindStatefulSet, "ns", long); len(k3) > 253 || k3 == k1 {
		t.Errorf("long keys %q and %q: want at most 253 characters and distinct across kinds", k1, k3)
	}
}
