package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func TestListDeployments(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	var got []deployment.Summary
	getJSON(t, f, "/api/namespaces/shop/deployments", &got)
	if len(got) != 1 || got[0].Name != "web" || got[0].Replicas.Desired != 3 || got[0].Status != deployment.Running {
		t.Fatalf("got %+v", got)
	}
}

// TestListDeploymentsEncodedOncePerState: pages asking for a namespace's
// list together get one encoding of it, and a change makes a new one: the
// list is never served stale.
func TestListDeploymentsEncodedOncePerState(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	ctx := context.Background()
	// A page's stream keeps the namespace's tracker, and its IDs, running.
	viewer, err := f.hub.Subscribe(ctx, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	first, err := f.srv.listBody(ctx, "shop", userView{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.srv.listBody(ctx, "shop", userView{})
	if err != nil {
		t.Fatal(err)
	}
	if &first[0] != &again[0] {
		t.Fatal("the list was encoded twice with no change between")
	}
	scaleTo(f, t, 5)
	testutil.Eventually(t, 10*time.Second, "the list to show the scale", func() bool {
		var got []deployment.Summary
		getJSON(t, f, "/api/namespaces/shop/deployments", &got)
		return len(got) == 1 && got[0].Replicas.Desired == 5
	})
}

func TestListCacheBounded(t *testing.T) {
	var c listCache
	for i := range maxCachedLists + 10 {
		c.put(fmt.Sprint("ns", i), "e-1", []byte("[]\n"))
	}
	if n := len(c.m); n != maxCachedLists {
		t.Fatalf("%d lists kept, want at most %d", n, maxCachedLists)
	}
	c.put("shop", "e-1", []byte("[1]\n"))
	if c.get("shop", "e-2") != nil {
		t.Fatal("a list of an earlier state was served for a later one")
	}
	if string(c.get("shop", "e-1")) != "[1]\n" {
		t.Fatal("the list of this state was not kept")
	}
}
