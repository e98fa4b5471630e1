package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestFaultWatchExpires makes the plugin's watches expire for real. With no
// watch cache for Deployments their watches are served from etcd. The plugin
// is cut off (a proxy in between) after its watches have run a while, so its
// informers try to resume from the last resourceVersion they saw; etcd is
// compacted past it meanwhile, the resumption is answered 410 Gone, and the
// informers list again: deploywatch prints nothing for Deployments that did
// not change, and a change after that still shows.
func TestFaultWatchExpires(t *testing.T) {
	b := newFaultBed(t, testbed.Options{APIServerArgs: map[string]string{"watch-cache-sizes": "deployments.apps#0"}}, true)
	b.create(t, "web", 2)
	b.create(t, "api", 1)
	truth := b.waitSettled(t)

	// klog at 4 shows the reflector's lists and why it listed again.
	w := startWatchEnv(t, append(b.env, "DEPLOYWATCH_KLOG_V=4"), "watch", b.ns, "-o", "ndjson")
	srv := startServeEnv(t, b.env, "--linger", "0")
	f := follow(t, srv.openStream(t, b.ns, nil))
	testutil.Eventually(t, time.Minute, "watch and serve to show both deployments", func() bool {
		return matchesAll(lastByName(w.allEvents()), truth) == "" && matchesAll(f.view(), truth) == ""
	})
	// A watch cut within a second of its start is relisted, not resumed.
	time.Sleep(3 * time.Second)
	printed, streamed := len(w.allEvents()), len(f.all())
	relists := srv.metric(t, "deploywatch_upstream_relists_total")
	watchLists := strings.Count(w.stderr.String(), "Listing and watching")

	b.proxy.Cut()
	// Other objects move etcd's revision on; then everything before it goes.
	for i := range 5 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%d", i)}, Data: map[string]string{"i": strconv.Itoa(i)}}
		if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rev := etcdRevision(t, b)
	if _, stderr, err := b.c.Etcdctl("compaction", strconv.FormatInt(rev, 10)); err != nil {
		t.Fatalf("compact etcd at %d: %v: %s", rev, err, stderr)
	}
	b.proxy.Restore()

	testutil.Eventually(t, time.Minute, "serve's informer to list again", func() bool {
		return srv.metric(t, "deploywatch_upstream_relists_total") > relists
	})
	testutil.Eventually(t, time.Minute, "watch's informer to list again", func() bool {
		return strings.Count(w.stderr.String(), "Listing and watching") > watchLists
	})
	// Anything the relist printed shows before a later change.
	proveSilence(t, b, w, f, "later")
	if extra := without(w.allEvents()[printed:], "later"); len(extra) > 0 {
		t.Errorf("watch printed %d events for Deployments that did not change: %+v", len(extra), extra)
	}
	if extra := without(f.all()[streamed:], "later"); len(extra) > 0 {
		t.Errorf("serve streamed %d events for Deployments that did not change: %+v", len(extra), extra)
	}
	// client-go's wording of the API server's 410 Gone (Expired).
	if !strings.Contains(w.stderr.String(), "The resourceVersion for the provided watch is too old") {
		t.Errorf("watch's client-go log does not show the 410 Gone:\n%s", lastN(w.stderr.String(), 20))
	}

	// Still live after the relist.
	if err := b.scale(t, "api", 3); err != nil {
		t.Fatal(err)
	}
	truth = b.waitSettled(t)
	testutil.Eventually(t, 2*time.Minute, "watch and serve to show the scale", func() bool {
		return matchesAll(lastByName(w.allEvents()), truth) == "" && matchesAll(f.view(), truth) == ""
	})
	t.Logf("compacted etcd at revision %d: serve relisted %.0f time(s), watch %d; 0 events printed or streamed for the unchanged Deployments",
		rev, srv.metric(t, "deploywatch_upstream_relists_total")-relists, strings.Count(w.stderr.String(), "Listing and watching")-watchLists)
}

// etcdRevision is etcd's current revision.
func etcdRevision(t *testing.T, b *faultBed) int64 {
	t.Helper()
	out, stderr, err := b.c.Etcdctl("endpoint", "status", "--write-out=json")
	if err != nil {
		t.Fatalf("etcdctl endpoint status: %v: %s", err, stderr)
	}
	var status []struct {
		Status struct {
			Header struct {
				Revision int64 `json:"revision"`
			} `json:"header"`
		} `json:"Status"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status) == 0 {
		t.Fatalf("etcdctl endpoint status: %v: %q", err, out)
	}
	return status[0].Status.Header.Revision
}

func lastN(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
