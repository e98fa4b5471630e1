package deployment

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestFloorIsTheControllersArithmetic: maxSurge rounds up, maxUnavailable
// down, both zero makes maxUnavailable 1, percentages and absolute values,
// for 1, 2, 3, 4 and 10 replicas. The figures are worked out by hand from
// the deployment controller's ResolveFenceposts.
func TestFloorIsTheControllersArithmetic(t *testing.T) {
	pct, num := intstr.FromString, intstr.FromInt32
	replicas := []int32{1, 2, 3, 4, 10}
	for _, tc := range []struct {
		name               string
		surge, unavailable *intstr.IntOrString
		recreate           bool
		wantSurge          []int32 // per replicas above
		wantFloor          []int32
	}{
		{"defaults 25% and 25%", nil, nil, false, []int32{1, 1, 1, 1, 3}, []int32{1, 2, 3, 3, 8}},
		{"25% and 25% written", ptr(pct("25%")), ptr(pct("25%")), false, []int32{1, 1, 1, 1, 3}, []int32{1, 2, 3, 3, 8}},
		{"maxSurge 0, maxUnavailable 1", ptr(num(0)), ptr(num(1)), false, []int32{0, 0, 0, 0, 0}, []int32{0, 1, 2, 3, 9}},
		{"maxSurge 1, maxUnavailable 0", ptr(num(1)), ptr(num(0)), false, []int32{1, 1, 1, 1, 1}, []int32{1, 2, 3, 4, 10}},
		{"both 0% resolve to maxUnavailable 1", ptr(pct("0%")), ptr(pct("0%")), false, []int32{0, 0, 0, 0, 0}, []int32{0, 1, 2, 3, 9}},
		{"maxSurge 0, maxUnavailable 50% rounds down", ptr(num(0)), ptr(pct("50%")), false, []int32{0, 0, 0, 0, 0}, []int32{0, 1, 2, 2, 5}},
		{"maxSurge 30% rounds up, maxUnavailable 30% down", ptr(pct("30%")), ptr(pct("30%")), false, []int32{1, 1, 1, 2, 3}, []int32{1, 2, 3, 3, 7}},
		{"maxUnavailable 5 beyond the replicas", ptr(num(1)), ptr(num(5)), false, []int32{1, 1, 1, 1, 1}, []int32{0, 0, 0, 0, 5}},
		{"maxUnavailable 100%", ptr(num(0)), ptr(pct("100%")), false, []int32{0, 0, 0, 0, 0}, []int32{0, 0, 0, 0, 0}},
		{"Recreate keeps nothing", nil, nil, true, []int32{0, 0, 0, 0, 0}, []int32{0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var surges, floors []int32
			for _, r := range replicas {
				d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &r,
					Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}}}
				if tc.recreate {
					d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
				} else if tc.surge != nil || tc.unavailable != nil {
					d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: tc.surge, MaxUnavailable: tc.unavailable}
				}
				s, _ := Fenceposts(d)
				surges, floors = append(surges, s), append(floors, Floor(d))
			}
			if !slices.Equal(surges, tc.wantSurge) || !slices.Equal(floors, tc.wantFloor) {
				t.Errorf("for %v replicas: maxSurge %v, floor %v; want %v, %v", replicas, surges, floors, tc.wantSurge, tc.wantFloor)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestServingChangesAcrossZeroOrTheFloor: a change of serving is news
// only when ready endpoints cross zero or the floor.
func TestServingChangesAcrossZeroOrTheFloor(t *testing.T) {
	at := func(ready, own int32) []Serving {
		return []Serving{{Service: "api", Ready: ready, Endpoints: 4, Own: own, Floor: 2}}
	}
	for _, tc := range []struct {
		name       string
		prev, next []Serving
		want       bool
	}{
		{"inside the band", at(4, 4), at(2, 2), false},
		{"a terminating endpoint more", at(3, 3), []Serving{{Service: "api", Ready: 3, Endpoints: 4, Terminating: 1, Own: 3, Floor: 2}}, false},
		{"below the floor", at(3, 3), at(1, 1), true},
		{"below the floor, another Deployment's endpoints", at(3, 3), at(3, 1), true},
		{"to zero", at(1, 1), at(0, 0), true},
		{"back from zero", at(0, 0), at(1, 1), true},
		{"a Service more", at(3, 3), append(at(3, 3), Serving{Service: "web", Ready: 3, Own: 3}), true},
		{"none selects it any more", at(3, 3), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev, next := Summary{Serving: tc.prev}, Summary{Serving: tc.next}
			if got := slices.Contains(Changed(&prev, &next), "serving"); got != tc.want {
				t.Errorf("changed serving %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGapChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 14, 2, 11, 0, time.UTC)
	open := Gap{Service: "api", Kind: GapNoReadyEndpoint, Start: t0, Fewest: 1}
	fewer := open
	fewer.Fewest, fewer.Ready = 0, 0
	ended := open
	ended.End = t0.Add(7 * time.Second)
	for _, tc := range []struct {
		name       string
		prev, next Summary
		want       []string
	}{
		{"a gap opens", Summary{}, Summary{Gaps: []Gap{open}}, []string{"gaps"}},
		{"fewer endpoints inside it", Summary{Gaps: []Gap{open}}, Summary{Gaps: []Gap{fewer}}, nil},
		{"it ends", Summary{Gaps: []Gap{open}}, Summary{LastGap: &ended}, []string{"gaps", "lastGap"}},
		{"serving becomes unknown", Summary{}, Summary{ServingUnknown: "cannot list services: forbidden"}, []string{"servingUnknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Changed(&tc.prev, &tc.next); !slices.Equal(got, tc.want) {
				t.Errorf("changed %v, want %v", got, tc.want)
			}
		})
	}
	if d := ended.DescribeEnded(); d != "last gap 7s (api, 1 ready at the fewest)" {
		t.Errorf("described %q", d)
	}
}

// The serving fields of the NDJSON schema, pinned as the rest is.
func TestServingJSONSchema(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 14, 2, 11, 0, time.UTC)
	s := Summary{Namespace: "shop", Name: "api",
		Serving: []Serving{{Service: "api-svc", Ready: 0, Endpoints: 1, Terminating: 1, Own: 0, Floor: 0}},
		Gaps:    []Gap{{Service: "api-svc", Kind: GapNoReadyEndpoint, Start: t0, Revision: "12", Endpoints: 1}},
		LastGap: &Gap{Service: "api-svc", Kind: GapBelowFloor, Start: t0.Add(-time.Hour), End: t0.Add(-time.Hour + 7*time.Second), Revision: "11", Ready: 2, Endpoints: 3, Own: 2, Fewest: 1, FewestOwn: 1, Floor: 2, Unseen: true},
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"namespace":"shop","name":"api","status":"","message":"","replicas":{"desired":0,"current":0,"updated":0,"ready":0,"available":0,"unavailable":0},"containers":null,"generation":0,"observedGeneration":0,"resourceVersion":"",` +
		`"serving":[{"service":"api-svc","ready":0,"endpoints":1,"terminating":1,"own":0,"floor":0}],` +
		`"gaps":[{"service":"api-svc","kind":"no-ready-endpoint","start":"2026-12-07T14:02:11Z","revision":"12","ready":0,"endpoints":1,"own":0,"fewest":0,"fewestOwn":0,"floor":0}],` +
		`"lastGap":{"service":"api-svc","kind":"below-floor","start":"2026-12-07T13:02:11Z","end":"2026-12-07T13:02:18Z","revision":"11","ready":2,"endpoints":3,"own":2,"fewest":1,"fewestOwn":1,"floor":2,"unseen":true}}`
	if string(got) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	unknown, _ := json.Marshal(Summary{ServingUnknown: "cannot list services: forbidden"})
	if !strings.Contains(string(unknown), `"servingUnknown":"cannot list services: forbidden"`) || strings.Contains(string(unknown), `"serving":`) {
		t.Errorf("unknown serving as %s", unknown)
	}
}
