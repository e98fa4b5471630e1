package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
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
	testutil.Eventually(t, time.Minute, "the table's first row", func() bool { return len(tableRows(table, "dup")) == 1 })

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
	testutil.Eventually(t, time.Minute, "the table's row of the scale", func() bool {
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

// TestWatchFirstTableSorted: the first table and the ADDED lines come in
// namespace, then name order on every run (the informer's list arrives in
// map order), in the piped table and in NDJSON alike. Two namespaces of six
// Deployments, made out of order and watched with -A and a label of their
// own.
func TestWatchFirstTableSorted(t *testing.T) {
	nsA, nsB := testbed.NewNamespace(t), testbed.NewNamespace(t)
	label := "order=" + nsA
	for _, ns := range []string{nsB, nsA} {
		for _, name := range []string{"mango", "apple", "zebra", "kiwi", "banana", "cherry"} {
			opsDeployment(t, ns, name, 0, false, func(d *appsv1.Deployment) { d.Labels = map[string]string{"order": nsA} })
		}
	}
	want := []string{}
	for _, ns := range slices.Sorted(slices.Values([]string{nsA, nsB})) {
		for _, name := range []string{"apple", "banana", "cherry", "kiwi", "mango", "zebra"} {
			want = append(want, ns+"/"+name)
		}
	}
	table := startWatch(t, "-A", "-l", label)
	ndjson := startWatch(t, "-A", "-l", label, "-o", "ndjson")
	var rows []string
	testutil.Eventually(t, time.Minute, "the first table's 12 rows", func() bool {
		rows = nil
		for _, l := range table.output()[min(1, len(table.output())):] {
			if f := strings.Fields(l); len(f) > 1 {
				rows = append(rows, f[0]+"/"+f[1])
			}
		}
		return len(rows) >= len(want)
	})
	if !slices.Equal(rows[:len(want)], want) {
		t.Errorf("the first table's rows:\n%v\nwant\n%v", rows, want)
	}
	var added []string
	testutil.Eventually(t, time.Minute, "12 ADDED lines", func() bool {
		ndjson.mu.Lock()
		defer ndjson.mu.Unlock()
		added = nil
		for _, e := range ndjson.events {
			if e.Type == deployment.Added {
				added = append(added, e.Namespace+"/"+e.Name)
			}
		}
		return len(added) >= len(want)
	})
	if !slices.Equal(added[:len(want)], want) {
		t.Errorf("the ADDED lines:\n%v\nwant\n%v", added, want)
	}
}

// TestWatchInitialFalseTableAligns: with --initial=false the piped table
// prints no row for what exists, yet takes its column widths from it, so
// the rows of later changes line up under the header even when the first
// change is to the Deployment with the shortest name.
func TestWatchInitialFalseTableAligns(t *testing.T) {
	ns := testbed.NewNamespace(t)
	long := "payments-api-with-a-rather-long-name"
	opsDeployment(t, ns, "a", 1, true, nil)
	opsDeployment(t, ns, long, 1, true, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/pause:3.10-with-a-long-tag"
	})
	table := startWatch(t, "watch", ns, "--initial=false", "--diagnose=false")
	has := func(name string) bool {
		for _, l := range table.output() {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return true
			}
		}
		return false
	}
	// The table's first row proves its sync: a Deployment made after it is
	// printed, one made before is not, so markers are made until one is.
	synced := false
	for i := 0; i < 30 && !synced; i++ {
		marker := fmt.Sprintf("m%d", i)
		opsDeployment(t, ns, marker, 0, false, nil)
		deadline := time.Now().Add(5 * time.Second)
		for !synced && time.Now().Before(deadline) {
			synced = has(marker)
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !synced {
		t.Fatalf("the table printed none of 30 Deployments made one after the other:\n%s", strings.Join(table.output(), "\n"))
	}
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/a", "--replicas=2")
	testbed.Kubectl(t, "-n", ns, "scale", "deployment/"+long, "--replicas=2")
	testutil.Eventually(t, time.Minute, "rows for a and "+long, func() bool { return has("a") && has(long) })

	lines := table.output()
	if !strings.HasPrefix(lines[0], "NAME ") {
		t.Fatalf("the table does not start with its header:\n%s", strings.Join(lines, "\n"))
	}
	for _, col := range []string{"STATUS", "READY", "UP-TO-DATE", "LAST CHANGE"} {
		at := strings.Index(lines[0], col)
		for _, l := range lines[1:] {
			if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
				t.Errorf("%s is not aligned at column %d in %q:\n%s", col, at, l, strings.Join(lines, "\n"))
			}
		}
	}
}
