package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// notifyReceiver is a local webhook that keeps every message posted to it.
// Every post must carry the message's id as its Idempotency-Key.
type notifyReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notifyMessage
	// onPost, if set, sees each message before it is answered.
	onPost func(notifyMessage)
}

// notifyMessage is the JSON message of --notify-format json, decoded by
// field name as a receiver would.
type notifyMessage struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Seq        int64  `json:"seq"`
	Term       int32  `json:"term"`
	Leader     string `json:"leader"`
	UID        string `json:"uid"`
	Deployment string `json:"deployment"`
	// WorkloadKind: Deployment, StatefulSet or DaemonSet.
	WorkloadKind string    `json:"workloadKind"`
	Namespace    string    `json:"namespace"`
	OldStatus    string    `json:"oldStatus"`
	NewStatus    string    `json:"newStatus"`
	Message      string    `json:"message"`
	Images       []string  `json:"images"`
	Timestamp    time.Time `json:"timestamp"`
}

func newNotifyReceiver(t *testing.T) *notifyReceiver {
	r := &notifyReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m notifyMessage
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &m) != nil {
			t.Errorf("webhook got %s %s %q", req.Method, req.Header.Get("Content-Type"), b)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if key, want := req.Header.Get("Idempotency-Key"), strconv.Quote(m.ID); key != want {
			t.Errorf("message %s posted with Idempotency-Key %q, want %s", m.ID, key, want)
		}
		r.mu.Lock()
		r.got = append(r.got, m)
		onPost := r.onPost
		r.mu.Unlock()
		if onPost != nil {
			onPost(m)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *notifyReceiver) messages() []notifyMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notifyMessage(nil), r.got...)
}

func (r *notifyReceiver) count(kind string) int {
	n := 0
	for _, m := range r.messages() {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// notifyReplicas starts n serve processes that share one Lease in ns.
func notifyReplicas(t *testing.T, n int, ns, webhook string, timings ...string) map[string]*serveProc {
	t.Helper()
	procs := map[string]*serveProc{}
	for i := range n {
		id := fmt.Sprintf("replica-%d", i)
		args := []string{"--read-only",
			"--notify-webhook", webhook, "--notify-namespaces", ns, "--notify-on", "failed,recovered",
			"--leader-elect-resource-namespace", ns, "--leader-elect-resource-name", "notify-e2e", "--leader-elect-identity", id}
		procs[id] = startServe(t, append(args, timings...)...)
	}
	return procs
}

// leaseHolder is the Lease's holder, "" when released or absent.
func leaseHolder(t *testing.T, ns string) string {
	t.Helper()
	l, err := testbed.Clientset(t).CoordinationV1().Leases(ns).Get(context.Background(), "notify-e2e", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// notifyRecord is the state's record of one workload.
type notifyRecord struct {
	UID          types.UID         `json:"uid"`
	WorkloadKind string            `json:"workloadKind"` // empty for a Deployment
	Status       string            `json:"status"`
	Seq          int64             `json:"seq"`
	Pending      []json.RawMessage `json:"pending"`
}

// notifyShards are the state's ConfigMaps <lease>-state-N in ns.
func notifyShards(t *testing.T, ns, lease string) []corev1.ConfigMap {
	t.Helper()
	l, err := testbed.Clientset(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.ConfigMap
	for _, cm := range l.Items {
		if strings.HasPrefix(cm.Name, lease+"-state-") {
			out = append(out, cm)
		}
	}
	return out
}

// notifyRecordIn is the record of the Deployment ns/name in the state of
// lease in leaseNS, whichever shard holds it.
func notifyRecordIn(t *testing.T, leaseNS, lease, ns, name string) notifyRecord {
	t.Helper()
	r, _ := notifyRecordAt(t, leaseNS, lease, ns+"_"+name)
	return r
}

// notifyRecordAt is the record under key (e.g. "shop_sts_db") in the state
// of lease in leaseNS, and whether there is one.
func notifyRecordAt(t *testing.T, leaseNS, lease, key string) (notifyRecord, bool) {
	t.Helper()
	var r notifyRecord
	found := false
	for _, cm := range notifyShards(t, leaseNS, lease) {
		if v, ok := cm.Data[key]; ok {
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				t.Fatalf("record %q: %v", v, err)
			}
			found = true
		}
	}
	return r, found
}

func notifyRecordOf(t *testing.T, ns, name string) notifyRecord {
	t.Helper()
	return notifyRecordIn(t, ns, "notify-e2e", ns, name)
}

// createFailingDeployment creates a Deployment whose pods no node takes:
// Progressing, then Failed once its 5s progress deadline passes.
func createFailingDeployment(t *testing.T, ns, name string) {
	t.Helper()
	d := testutil.Deployment(name,
		testutil.PodSpec(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"deploywatch.test/no-such-node": "true"} }),
		testutil.Edit(func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5) }))
	_, err := testbed.Clientset(t).AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func recoverDeployment(t *testing.T, ns, name string) {
	t.Helper()
	testbed.Kubectl(t, "-n", ns, "patch", "deployment", name, "--type=json",
		"-p", `[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]`)
}

// leaderMetric reads the leader gauge for identity from p's /metrics.
func leaderMetric(t *testing.T, p *serveProc, identity string) (float64, bool) {
	t.Helper()
	status, body := p.request(t, "GET", "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d %s", status, body)
	}
	prefix := `deploywatch_notify_leader{identity="` + identity + `"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return map[bool]float64{true: 1}[strings.TrimSpace(v) == "1"], true
		}
	}
	return 0, false
}

// TestNotifyNewLeaderCatchesUpAfterKill runs three replicas with short
// lease timings: a Deployment fails and the receiver gets one "failed",
// whose delivery the leader records; the leader is SIGKILLed, the
// Deployment recovers during the handover, and the receiver gets one
// "recovered" from the new leader, which caught up, and no repeat of the
// recorded "failed". (A kill before the record is
// TestNotifyResendsWhenLeaderDiesBeforeRecording.)
func TestNotifyNewLeaderCatchesUpAfterKill(t *testing.T) {
	ns := testbed.NewNamespace(t)
	r := newNotifyReceiver(t)
	procs := notifyReplicas(t, 3, ns, r.srv.URL,
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s")

	var leader string
	testutil.Eventually(t, time.Minute, "a replica to hold the Lease", func() bool { leader = leaseHolder(t, ns); return procs[leader] != nil })
	// Every replica shows the leader's identity on /metrics.
	for id, p := range procs {
		testutil.Eventually(t, time.Minute, id+"'s /metrics to show the leader "+leader, func() bool {
			v, ok := leaderMetric(t, p, leader)
			return ok && v == 1
		})
	}
	if v := procs[leader].metric(t, `deploywatch_notify_is_leader{identity="`+leader+`"}`); v != 1 {
		t.Errorf("deploywatch_notify_is_leader on the leader is %v, want 1", v)
	}
	for id, p := range procs {
		if id != leader {
			if v := p.metric(t, `deploywatch_notify_is_leader{identity="`+id+`"}`); v != 0 {
				t.Errorf("deploywatch_notify_is_leader on %s, not the leader, is %v; want 0", id, v)
			}
		}
	}

	createFailingDeployment(t, ns, "api")
	testutil.Eventually(t, 2*time.Minute, "the failed message", func() bool { return len(r.messages()) >= 1 })
	// The leader records the delivery right after it; killing it before
	// then makes the next leader resend (see
	// TestNotifyResendsWhenLeaderDiesBeforeRecording).
	testutil.Eventually(t, time.Minute, "the delivery to be recorded", func() bool {
		rec := notifyRecordOf(t, ns, "api")
		return rec.Status == "Failed" && len(rec.Pending) == 0
	})
	if got := r.messages(); len(got) != 1 {
		t.Fatalf("messages %s; want exactly one, failed", fmtJSON(got))
	}
	m := r.messages()[0]
	if m.Kind != "failed" || m.Namespace != ns || m.Deployment != "api" || m.OldStatus != "Failing" || m.NewStatus != "Failed" ||
		!strings.Contains(m.Message, "ProgressDeadlineExceeded") || len(m.Images) != 1 || m.Images[0] != "registry.k8s.io/pause:3.10" ||
		m.ID == "" || time.Since(m.Timestamp) > 5*time.Minute {
		t.Errorf("failed message %s; want api Failing (its pods cannot be scheduled) -> Failed with the reason, the image, an id and a recent timestamp", fmtJSON(m))
	}

	// SIGKILL: the Lease is not released; another replica takes it once it
	// expires, and catches up with the recovery that happened meanwhile.
	if err := procs[leader].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-procs[leader].exited
	killed := time.Now()
	recoverDeployment(t, ns, "api")
	testutil.Eventually(t, 2*time.Minute, "the recovered message", func() bool { return r.count("recovered") >= 1 })
	t.Logf("recovered arrived %s after the leader's SIGKILL (lease duration 4s)", time.Since(killed).Round(10*time.Millisecond))
	newLeader := leaseHolder(t, ns)
	if newLeader == leader || procs[newLeader] == nil {
		t.Errorf("the Lease is held by %q after %s was killed; want another replica", newLeader, leader)
	}
	// Let the rollout finish and be recorded, and any duplicate arrive.
	waitRolledOut(t, ns, "api")
	testutil.Eventually(t, time.Minute, "Running to be recorded", func() bool {
		rec := notifyRecordOf(t, ns, "api")
		return rec.Status == "Running" && len(rec.Pending) == 0
	})
	for id, p := range procs {
		if id != leader {
			testutil.Eventually(t, time.Minute, id+"'s queue to be empty", func() bool { return p.metric(t, "deploywatch_notify_queue_length") == 0 })
		}
	}
	got := r.messages()
	if len(got) != 2 || got[1].Kind != "recovered" || got[1].OldStatus != "Failed" || got[1].Deployment != "api" || got[1].ID == got[0].ID {
		t.Fatalf("messages %s; want exactly failed then recovered (from Failed)", fmtJSON(got))
	}
	if v := procs[newLeader].metric(t, "deploywatch_notify_sent_total"); v != 1 {
		t.Errorf("the new leader's deploywatch_notify_sent_total is %v, want 1", v)
	}
}

// TestNotifyResendsWhenLeaderDiesBeforeRecording tries the duplicate window
// with two replicas: the leader posts "failed", the receiver has the whole
// message, and the leader is SIGKILLed before the answer reaches it, so it
// cannot record the delivery. The other replica takes the Lease once it
// expires, finds the claim still pending and posts it again, as claimed:
// the same id and Idempotency-Key, seq and term, naming the dead leader.
// So the receiver can drop the second. Then the delivery is recorded, and
// nothing more is sent.
func TestNotifyResendsWhenLeaderDiesBeforeRecording(t *testing.T) {
	ns := testbed.NewNamespace(t)
	r := newNotifyReceiver(t)
	procs := notifyReplicas(t, 2, ns, r.srv.URL,
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s")
	var leader string
	testutil.Eventually(t, time.Minute, "a replica to hold the Lease", func() bool { leader = leaseHolder(t, ns); return procs[leader] != nil })
	other := "replica-0"
	if leader == other {
		other = "replica-1"
	}
	var once sync.Once
	killed := make(chan string, 1)
	r.mu.Lock()
	r.onPost = func(m notifyMessage) {
		once.Do(func() {
			p := procs[m.Leader]
			if p == nil {
				t.Errorf("message %s names no replica of this test as its leader", fmtJSON(m))
				return
			}
			// Dead before this handler answers: it never learns of the delivery.
			if err := p.cmd.Process.Kill(); err != nil {
				t.Error(err)
			}
			<-p.exited
			killed <- m.Leader
		})
	}
	r.mu.Unlock()

	createFailingDeployment(t, ns, "api")
	var dead string
	select {
	case dead = <-killed:
	case <-time.After(2 * time.Minute):
		t.Fatal("no failed message within 2 minutes")
	}
	if dead != leader {
		t.Fatalf("the message was claimed by %s, not by the Lease's holder %s", dead, leader)
	}
	if rec := notifyRecordOf(t, ns, "api"); rec.Status != "Failed" || len(rec.Pending) != 1 {
		t.Fatalf("record %+v after the leader died; want the claim still pending (else the test missed the window)", rec)
	}
	killedAt := time.Now()
	testutil.Eventually(t, 2*time.Minute, "the resend", func() bool { return len(r.messages()) >= 2 })
	t.Logf("the resend arrived %s after the leader's SIGKILL (lease duration 4s)", time.Since(killedAt).Round(10*time.Millisecond))
	testutil.Eventually(t, time.Minute, "the delivery to be recorded", func() bool {
		rec := notifyRecordOf(t, ns, "api")
		return rec.Status == "Failed" && len(rec.Pending) == 0
	})
	testutil.Eventually(t, time.Minute, other+"'s queue to be empty", func() bool { return procs[other].metric(t, "deploywatch_notify_queue_length") == 0 })

	got := r.messages()
	if len(got) != 2 {
		t.Fatalf("messages %s; want the failed twice: posted by %s, then resent by %s", fmtJSON(got), leader, other)
	}
	if a, b := got[0], got[1]; a.Kind != "failed" || b.ID != a.ID || a.Seq != 1 || b.Seq != 1 || b.Term != a.Term || a.Leader != leader || b.Leader != leader {
		t.Errorf("messages %s; want the same failed, claimed once by %s with seq 1, posted twice", fmtJSON(got), leader)
	}
	if holder := leaseHolder(t, ns); holder != other {
		t.Errorf("the Lease is held by %q; want %s", holder, other)
	}
	if v := procs[other].metric(t, "deploywatch_notify_sent_total"); v != 1 {
		t.Errorf("%s's deploywatch_notify_sent_total is %v, want 1: the resend", other, v)
	}
	if !strings.Contains(procs[other].stderr.String(), "resending a notification claimed but not known to be delivered") {
		t.Errorf("%s's log does not say it resent the claim:\n%s", other, procs[other].stderr.String())
	}
}

// TestNotifyGracefulStopHandsOver stops the leader of two replicas with
// SIGTERM: it releases the Lease, so the other takes over at its next retry
// instead of after the (long) lease duration, and sends the next
// transition once.
func TestNotifyGracefulStopHandsOver(t *testing.T) {
	ns := testbed.NewNamespace(t)
	r := newNotifyReceiver(t)
	// A 2-minute lease: a handover within a minute can only be a release.
	procs := notifyReplicas(t, 2, ns, r.srv.URL,
		"--leader-elect-lease-duration", "2m", "--leader-elect-renew-deadline", "90s", "--leader-elect-retry-period", "1s")
	var leader string
	testutil.Eventually(t, time.Minute, "a replica to hold the Lease", func() bool { leader = leaseHolder(t, ns); return procs[leader] != nil })
	other := "replica-0"
	if leader == other {
		other = "replica-1"
	}
	testutil.Eventually(t, time.Minute, other+" to see the leader", func() bool {
		v, ok := leaderMetric(t, procs[other], leader)
		return ok && v == 1
	})

	stopped := time.Now()
	procs[leader].stop(t) // SIGTERM, and a clean exit
	if !strings.Contains(procs[leader].stderr.String(), "left the notification election") {
		t.Errorf("the stopped leader's log does not say it left the election:\n%s", procs[leader].stderr.String())
	}
	testutil.Eventually(t, time.Minute, other+" to take the released Lease", func() bool { return leaseHolder(t, ns) == other })
	t.Logf("%s held the Lease %s after SIGTERM to the leader (lease duration 2m)", other, time.Since(stopped).Round(10*time.Millisecond))
	testutil.Eventually(t, time.Minute, other+"'s /metrics to show itself leading", func() bool {
		v, ok := leaderMetric(t, procs[other], other)
		return ok && v == 1
	})
	if !strings.Contains(procs[other].stderr.String(), "leading: this replica sends the notifications") {
		t.Errorf("%s's log does not say it leads:\n%s", other, procs[other].stderr.String())
	}

	createFailingDeployment(t, ns, "api")
	testutil.Eventually(t, 2*time.Minute, "the failed message", func() bool { return r.count("failed") >= 1 })
	testutil.Eventually(t, time.Minute, "the delivery to be recorded", func() bool {
		rec := notifyRecordOf(t, ns, "api")
		return rec.Status == "Failed" && len(rec.Pending) == 0
	})
	if got := r.messages(); len(got) != 1 || got[0].Kind != "failed" {
		t.Errorf("messages %s; want one failed", fmtJSON(got))
	}
}

// TestNotifyBadFlags: bad notification flags stop serve at once with one
// line naming the flag and the fix, and create nothing.
func TestNotifyBadFlags(t *testing.T) {
	ns := testbed.NewNamespace(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--notify-webhook", "hooks.example.com/x"}, `invalid --notify-webhook "hooks.example.com/x": use an absolute http:// or https:// URL`},
		{[]string{"--notify-webhook", "ftp://hooks.example.com/x"}, `invalid --notify-webhook "ftp://hooks.example.com/x"`},
		{[]string{"--notify-webhook", "http://127.0.0.1:9/x", "--notify-on", "failed,exploded"}, `invalid --notify-on value "exploded"`},
		{[]string{"--notify-webhook", "http://127.0.0.1:9/x", "--notify-format", "xml"}, `invalid --notify-format "xml": use json or slack`},
		{[]string{"--notify-webhook", "http://127.0.0.1:9/x", "--leader-elect-lease-duration", "10s", "--leader-elect-renew-deadline", "10s"},
			"leader election needs --leader-elect-retry-period (2s) < --leader-elect-renew-deadline (10s) < --leader-elect-lease-duration (10s)"},
		{[]string{"--notify-on", "failed"}, "--leader-elect-resource-namespace, --notify-on has no use without --notify-webhook"},
		{[]string{"--notify-webhook", "http://127.0.0.1:9/x", "--leader-elect-resource-name", "Bad!"}, `invalid --leader-elect-resource-name "Bad!"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"deploywatch", "serve", "--address", "127.0.0.1:0", "--leader-elect-resource-namespace", ns}, tt.args...)
			stdout, stderr, err := testbed.KubectlErr(args...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1; stderr %q", err, stderr)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q: want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	leases, err := testbed.Clientset(t).CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(leases.Items) != 0 {
		t.Errorf("leases in %s after refused starts: %v, %v; want none", ns, leases, err)
	}
}

// TestNotifyWithDeployServiceAccount runs serve with notifications as
// deploy/ runs it, with its ServiceAccount's token and default Lease names:
// deploy/base/notify-rbac.yaml must be enough to lead and record, and the
// ClusterRole to watch every namespace.
func TestNotifyWithDeployServiceAccount(t *testing.T) {
	deployApply(t)
	kubeconfig := deployKubeconfig(t) // its namespace is deploywatch
	ns := testbed.NewNamespace(t)
	r := newNotifyReceiver(t)
	p := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig}, "--read-only", "--notify-webhook", r.srv.URL,
		"--leader-elect-identity", "in-cluster-0")
	cs := testbed.Clientset(t)
	testutil.Eventually(t, time.Minute, "serve to hold deploywatch/deploywatch-notify", func() bool {
		l, err := cs.CoordinationV1().Leases(deployNamespace).Get(context.Background(), "deploywatch-notify", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "in-cluster-0"
	})
	createFailingDeployment(t, ns, "api")
	mine := func() []notifyMessage {
		var out []notifyMessage
		for _, m := range r.messages() {
			if m.Namespace == ns {
				out = append(out, m)
			}
		}
		return out
	}
	testutil.Eventually(t, 2*time.Minute, "the failed message", func() bool { return len(mine()) >= 1 })
	testutil.Eventually(t, time.Minute, "the delivery recorded in deploywatch/deploywatch-notify-state-*", func() bool {
		rec := notifyRecordIn(t, deployNamespace, "deploywatch-notify", ns, "api")
		return rec.Status == "Failed" && len(rec.Pending) == 0
	})
	if got := mine(); len(got) != 1 || got[0].Kind != "failed" {
		t.Errorf("messages %s; want one failed", fmtJSON(got))
	}
	if strings.Contains(p.stderr.String(), "Forbidden") || strings.Contains(p.stderr.String(), "forbidden") {
		t.Errorf("serve logged a refused call:\n%s", p.stderr.String())
	}
}

// slackKey is a Slack post's Idempotency-Key: the message's id, quoted,
// though the Slack body does not carry it.
var slackKey = regexp.MustCompile(`^"[0-9a-f-]{36}/(started|completed)/[0-9]+"$`)

// newSlackReceiver is a Slack incoming webhook that keeps the text of
// every post; each must be {"text": ...} alone, with an Idempotency-Key
// that key matches. got returns the texts so far.
func newSlackReceiver(t *testing.T, key *regexp.Regexp) (srv *httptest.Server, got func() []string) {
	var mu sync.Mutex
	var texts []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &body); err != nil || len(body) != 1 {
			t.Errorf("Slack body %q: want {\"text\": ...} alone", b)
		}
		if k := req.Header.Get("Idempotency-Key"); !key.MatchString(k) {
			t.Errorf("Slack post's Idempotency-Key %q: want the message's id, \"<uid>/<kind>/<resourceVersion>\"", k)
		}
		text, _ := body["text"].(string)
		mu.Lock()
		texts = append(texts, text)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), texts...) }
}

// TestNotifySlackRollout: --notify-format slack posts Slack's
// incoming-webhook shape, and --notify-on started,completed follows an
// image change on the real controllers. It runs serve with the leader
// election flags' former names, as older command lines do: they still
// work, with a notice on stderr.
func TestNotifySlackRollout(t *testing.T) {
	ns := testbed.NewNamespace(t)
	srv, got := newSlackReceiver(t, slackKey)

	p := startServe(t, "--read-only", "--notify-webhook", srv.URL, "--notify-format", "slack", "--notify-on", "started,completed",
		"--notify-namespaces", ns, "--leader-election-namespace", ns, "--leader-election-id", "notify-e2e", "--leader-election-identity", "solo",
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s")
	// The Lease named by the former flags, held under the former identity.
	testutil.Eventually(t, time.Minute, "serve to lead", func() bool { return leaseHolder(t, ns) == "solo" })
	for old, now := range map[string]string{"leader-election-namespace": "leader-elect-resource-namespace", "leader-election-id": "leader-elect-resource-name", "leader-election-identity": "leader-elect-identity"} {
		if notice := "Flag --" + old + " has been deprecated, use --" + now + " instead"; !strings.Contains(p.stderr.String(), notice) {
			t.Errorf("serve's stderr lacks %q:\n%s", notice, p.stderr.String())
		}
	}
	// Created while serve leads: its first rollout starts and completes.
	// Its pods take about 8 s to pull, as real ones do: the tracker hands
	// on a workload's latest state, and under load a rollout that ends in
	// milliseconds (kwok's pods start at once) can end before the notifier
	// has seen it under way (CI saw no message at all).
	slow := testutil.Deployment("web", testutil.Replicas(2), testutil.Edit(faultLabel(testbed.FaultSlowPull)))
	if _, err := testbed.Clientset(t).AppsV1().Deployments(ns).Create(context.Background(), slow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, ns, "web")
	settled := func(n int) {
		t.Helper()
		testutil.Eventually(t, time.Minute, fmt.Sprintf("%d messages", n), func() bool { return len(got()) >= n })
		testutil.Eventually(t, time.Minute, "the deliveries recorded", func() bool {
			rec := notifyRecordOf(t, ns, "web")
			return rec.Status == "Running" && len(rec.Pending) == 0
		})
	}
	settled(2)
	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/web", "app=registry.k8s.io/pause:3.9")
	waitRolledOut(t, ns, "web")
	settled(4)
	g := got()
	want := []struct{ prefix, image string }{
		{ns + "/web rollout started", "pause:3.10"}, {ns + "/web rollout completed", "pause:3.10"},
		{ns + "/web rollout started", "pause:3.9"}, {ns + "/web rollout completed", "pause:3.9"},
	}
	if len(g) != len(want) {
		t.Fatalf("Slack texts %q; want 4: started and completed, for the creation then the image change", g)
	}
	for i, w := range want {
		if !strings.HasPrefix(g[i], w.prefix) || !strings.Contains(g[i], "registry.k8s.io/"+w.image+")") {
			t.Errorf("Slack text %d is %q; want %q... naming %s", i, g[i], w.prefix, w.image)
		}
	}
}

// leaseTerm is the Lease's holder and spec.leaseTransitions.
func leaseTerm(t *testing.T, ns string) (string, int32) {
	t.Helper()
	l, err := testbed.Clientset(t).CoordinationV1().Leases(ns).Get(context.Background(), "notify-e2e", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder, transitions := "", int32(0)
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions
	}
	return holder, transitions
}

// rolloutVerdict says whether the controller has observed the
// Deployment's current generation and, if so, whether it gave up on its
// rollout (ProgressDeadlineExceeded: it reads as Failed).
func rolloutVerdict(t *testing.T, ns, name string) (observed, exceeded bool) {
	t.Helper()
	d, err := testbed.Clientset(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			exceeded = c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded"
		}
	}
	return d.Status.ObservedGeneration == d.Generation, exceeded
}

// TestNotifyPausedLeaderIsFenced: three replicas with a 3 s lease. Each
// round SIGSTOPs the leader until another replica holds the Lease (the
// paused one still believes it leads: nothing told it), waits for the new
// leader to fence every shard of the state with its term, makes one
// transition (alternately into and out of Failed) and, as soon as the API
// server shows it, SIGCONTs the old leader, which then sees the same change
// with its stale state and races the new leader for it. Every transition
// must be delivered exactly once, by the leader of the time (its term in
// the message), with the Deployment's seq counting 1, 2, 3...; 20 rounds
// (DEPLOYWATCH_NOTIFY_ROUNDS changes it).
func TestNotifyPausedLeaderIsFenced(t *testing.T) {
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv("DEPLOYWATCH_NOTIFY_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	ns := testbed.NewNamespace(t)
	r := newNotifyReceiver(t)
	procs := notifyReplicas(t, 3, ns, r.srv.URL,
		"--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms")
	// A failing test must not leave a stopped process that SIGTERM cannot end.
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	started := time.Now()
	for round := 1; round <= rounds; round++ {
		var leader string
		testutil.Eventually(t, time.Minute, "a replica to hold the Lease", func() bool { leader = leaseHolder(t, ns); return procs[leader] != nil })
		old := procs[leader]
		if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		var holder string
		var transitions int32
		testutil.Eventually(t, time.Minute, "another replica to take the Lease from the paused "+leader, func() bool {
			holder, transitions = leaseTerm(t, ns)
			return procs[holder] != nil && holder != leader
		})
		testutil.Eventually(t, time.Minute, holder+" to fence every shard with its term", func() bool {
			shards := notifyShards(t, ns, "notify-e2e")
			for _, cm := range shards {
				if !strings.Contains(cm.Annotations["kubectl-deploywatch/notify-term"], fmt.Sprintf(`"transitions":%d,"holder":%q`, transitions, holder)) {
					return false
				}
			}
			return len(shards) == 16
		})

		kind, status := "failed", "Failed"
		switch {
		case round == 1:
			createFailingDeployment(t, ns, "api")
		case round%2 == 1:
			testbed.Kubectl(t, "-n", ns, "patch", "deployment", "api", "--type=json",
				"-p", `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"deploywatch.test/no-such-node":"true"}}]`)
		default:
			kind, status = "recovered", "Running"
			recoverDeployment(t, ns, "api")
		}
		testutil.Eventually(t, time.Minute, "the API server to show the transition into "+status, func() bool {
			observed, exceeded := rolloutVerdict(t, ns, "api")
			return observed && exceeded == (kind == "failed")
		})
		if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}

		testutil.Eventually(t, 2*time.Minute, fmt.Sprintf("round %d's %s message", round, kind), func() bool { return len(r.messages()) >= round })
		if kind == "recovered" {
			waitRolledOut(t, ns, "api")
		}
		testutil.Eventually(t, time.Minute, "the delivery to be recorded", func() bool {
			rec := notifyRecordOf(t, ns, "api")
			return rec.Status == status && len(rec.Pending) == 0
		})
		testutil.Eventually(t, time.Minute, "the resumed "+leader+" to stop leading", func() bool {
			return old.metric(t, `deploywatch_notify_is_leader{identity="`+leader+`"}`) == 0 && old.metric(t, "deploywatch_notify_queue_length") == 0
		})
		got := r.messages()
		if len(got) != round {
			t.Fatalf("round %d: %d messages %s; want exactly %d, one per transition", round, len(got), fmtJSON(got), round)
		}
		m := got[round-1]
		if m.Kind != kind || m.Deployment != "api" || m.Seq != int64(round) || m.Leader != holder || m.Term != transitions {
			t.Fatalf("round %d: message %s; want %s with seq %d, claimed by %s in term %d (the leader after %s was paused)",
				round, fmtJSON(m), kind, round, holder, transitions, leader)
		}
	}
	var sent float64
	for _, p := range procs {
		testutil.Eventually(t, time.Minute, "every queue to be empty", func() bool { return p.metric(t, "deploywatch_notify_queue_length") == 0 })
		sent += p.metric(t, "deploywatch_notify_sent_total")
	}
	ids := map[string]bool{}
	for _, m := range r.messages() {
		ids[m.ID] = true
	}
	if got := r.messages(); len(got) != rounds || len(ids) != rounds || sent != float64(rounds) {
		t.Errorf("%d messages, %d distinct ids, %v sends counted by the replicas; want %d of each", len(got), len(ids), sent, rounds)
	}
	t.Logf("%d rounds in %s: %d transitions, %d deliveries, 0 lost, 0 duplicates", rounds, time.Since(started).Round(time.Second), rounds, len(r.messages()))
}
