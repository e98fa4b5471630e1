package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// replicaState is what both tools show of a Deployment: kubectl's READY,
// UP-TO-DATE and AVAILABLE columns (with -o wide, IMAGES) and deploywatch's.
type replicaState struct {
	desired, ready, updated, available int64
	images                             string
}

// benchNoise: a fixed scenario watched by deploywatch and kubectl; how many
// lines each prints and how many of them show nothing new.
func benchNoise(t *testing.T, r *report) {
	c := testbed.Shared()
	cs := c.Clientset(t)
	ns := c.NewNamespace(t)
	const name = "noise"
	ctx := context.Background()

	// A Deployment already there tells when both watches are up; only the
	// scenario's own Deployment is counted.
	createDeployment(t, cs, ns, testutil.Deployment("ready-marker", testutil.Replicas(0)))
	var mu sync.Mutex
	var dw []deployment.Event
	var kc []map[string]any // kubectl's events: {type, object}
	// The other Deployments each tool printed: markers that prove a tool
	// has printed everything before them.
	dwOther, kcOther := map[string]bool{}, map[string]bool{}
	startLines(t, "deploywatch", c.KubectlCmd(ctx, "deploywatch", "watch", ns, "-o", "ndjson"), func(line []byte, _ time.Time) {
		var e deployment.Event
		if json.Unmarshal(bytes.TrimSpace(line), &e) == nil {
			mu.Lock()
			defer mu.Unlock()
			if e.Name == name {
				dw = append(dw, e)
			} else {
				dwOther[e.Name] = true
			}
		}
	})
	startJSON(t, "kubectl", c.KubectlCmd(ctx, "get", "deploy", "-n", ns, "-w", "--output-watch-events", "-o", "json"), func(v map[string]any, _ time.Time) {
		obj, _ := v["object"].(map[string]any)
		md, _ := obj["metadata"].(map[string]any)
		mu.Lock()
		defer mu.Unlock()
		n, _ := md["name"].(string)
		if n == name {
			kc = append(kc, v)
		} else {
			kcOther[n] = true
		}
	})
	testutil.Eventually(t, time.Minute, "both tools to start watching", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dwOther["ready-marker"] && kcOther["ready-marker"]
	})

	cs2 := cs.AppsV1().Deployments(ns)
	createDeployment(t, cs, ns, testutil.Deployment(name, testutil.Replicas(3)))
	waitSettled(t, cs, ns, name, true)
	setImage(t, cs, ns, name, "app", "registry.k8s.io/pause:3.9")
	waitSettled(t, cs, ns, name, true)
	scale(t, cs, ns, name, 5)
	waitSettled(t, cs, ns, name, true)
	scale(t, cs, ns, name, 2)
	waitSettled(t, cs, ns, name, true)
	if err := cs2.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "both tools to print the delete", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dw) > 0 && dw[len(dw)-1].Type == deployment.Deleted &&
			len(kc) > 0 && kc[len(kc)-1]["type"] == "DELETED"
	})
	// Anything late: both print a Deployment made after the delete only
	// once they have printed every event before it.
	createDeployment(t, cs, ns, testutil.Deployment("late-marker", testutil.Replicas(0)))
	testutil.Eventually(t, time.Minute, "both tools to print a Deployment made after the delete", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dwOther["late-marker"] && kcOther["late-marker"]
	})
	mu.Lock()
	defer mu.Unlock()

	// deploywatch: a line repeats the previous one when every field shown
	// (status, message, replica counts, images) is the same.
	dwDup, dwStates := 0, map[replicaState]bool{}
	for i, e := range dw {
		dwStates[stateOf(e.Replicas.Desired, e.Replicas.Ready, e.Replicas.Updated, e.Replicas.Available, e.Containers)] = true
		if i > 0 && e.Type != deployment.Deleted && dw[i-1].Type != deployment.Deleted && len(deployment.Changed(&dw[i-1].Summary, &e.Summary)) == 0 {
			dwDup++
		}
	}
	// kubectl: its table shows READY (ready/desired), UP-TO-DATE and AVAILABLE.
	kcDup, kcDupWide, kcStates := 0, 0, map[replicaState]bool{}
	var prev replicaState
	for i, v := range kc {
		s := kubectlState(v)
		kcStates[s] = true
		if i > 0 && v["type"] != "DELETED" {
			if s == prev {
				kcDupWide++
			}
			if s.desired == prev.desired && s.ready == prev.ready && s.updated == prev.updated && s.available == prev.available {
				kcDup++
			}
		}
		prev = s
	}
	missing := 0
	for s := range kcStates {
		if !dwStates[s] {
			missing++
		}
	}
	r.add(section{
		title: "2. Noise: create 3 replicas, change the image, scale to 5, scale to 2, delete",
		head:  []string{"client", "events printed", "duplicates of the previous state", "distinct states"},
		rows: [][]string{
			{"deploywatch watch -o ndjson", fmt.Sprint(len(dw)), fmt.Sprint(dwDup), fmt.Sprintf("%d (%d of kubectl's missing)", len(dwStates), missing)},
			{"kubectl get deploy -w", fmt.Sprint(len(kc)), fmt.Sprintf("%d (%d with -o wide's IMAGES)", kcDup, kcDupWide), fmt.Sprint(len(kcStates))},
		},
		notes: []string{"A duplicate is a line that shows what the line before it showed: for kubectl its READY, UP-TO-DATE and AVAILABLE columns " +
			"(and IMAGES with -o wide); for deploywatch every field it prints. A state is (desired, ready, up-to-date, available, images). Target: zero duplicates, every distinct state present."},
	})
}

func stateOf(desired, ready, updated, available int32, cs []deployment.Container) replicaState {
	var images []string
	for _, c := range cs {
		images = append(images, c.Image)
	}
	return replicaState{int64(desired), int64(ready), int64(updated), int64(available), strings.Join(images, ",")}
}

// kubectlState reads a replicaState from a watch event of kubectl's -o json.
func kubectlState(v map[string]any) replicaState {
	obj, _ := v["object"].(map[string]any)
	b, _ := json.Marshal(obj)
	var d struct {
		Spec struct {
			Replicas *int32 `json:"replicas"`
			Template struct {
				Spec struct {
					Containers []deployment.Container `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
		Status struct {
			Ready     int32 `json:"readyReplicas"`
			Updated   int32 `json:"updatedReplicas"`
			Available int32 `json:"availableReplicas"`
		} `json:"status"`
	}
	_ = json.Unmarshal(b, &d)
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	return stateOf(desired, d.Status.Ready, d.Status.Updated, d.Status.Available, d.Spec.Template.Spec.Containers)
}
