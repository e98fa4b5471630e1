package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestWatchPipedTableSkipsRepeatedRows: a change of a field the piped table
// does not show (status.unavailableReplicas, written through the status
// subresource as a controller would) reaches NDJSON as its own event but
// prints no row in the table, which would only repeat the previous one; the
// scale that follows does print. The NDJSON watch proves the hidden change
// was delivered, and the scale's row, printed after it, proves the table's
// silence about it.
func TestWatchPipedTableSkipsRepeatedRows(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "dup", 1, true, nil)
	table := startWatch(t, "watch", ns)
	ndjson := startWatch(t, "watch", ns, "-o", "ndjson")
	ndjson.waitEvent(t, "dup", "is listed Running", func(e deployment.Event) bool { return e.Status == deployment.Running })
	opsPoll(t, time.Minute, "the table's first row", func() bool { return len(tableRows(table, "dup")) == 1 })

	deployments := testbed.Clientset(t).AppsV1().Deployments(ns)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := opsGet(t, ns, "dup")
		d.Status.UnavailableReplicas++
		_, err := deployments.UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ndjson.waitEvent(t, "dup", "changes replicas.unavailable alone", func(e deployment.Event) bool {
		return slices.Equal(e.Changed, []string{"replicas.unavailable"})
	})
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/dup", "--replicas=2")
	opsPoll(t, time.Minute, "the table's row of the scale", func() bool {
		rows := tableRows(table, "dup")
		return len(rows) > 1 && strings.Contains(rows[len(rows)-1], "/2")
	})

	rows := tableRows(table, "dup")
	if strings.Contains(rows[1], "1/1") {
		t.Errorf("the change of replicas.unavailable alone printed a row: %q", rows[:2])
	}
	clock := regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`)
	for i := 1; i < len(rows); i++ {
		if clock.ReplaceAllString(rows[i], "") == clock.ReplaceAllString(rows[i-1], "") {
			t.Errorf("row %d repeats the row before it:\n%s\n%s", i, rows[i-1], rows[i])
		}
	}
}

// tableRows returns the piped table's rows of Deployment name.
func tableRows(p *watchProc, name string) []string {
	var rows []string
	for _, l := range p.output() {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			rows = append(rows, l)
		}
	}
	return rows
}
