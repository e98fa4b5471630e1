package safety

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// rolling is a RollingUpdate Deployment with the replicas and budgets given;
// "" leaves a budget unset (the API default, 25%), a value with % is a
// percentage, anything else a number.
func rolling(replicas *int32, maxSurge, maxUnavailable string) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	d.Spec.Replicas = replicas
	d.Spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: budget(maxSurge), MaxUnavailable: budget(maxUnavailable)}
	return d
}

func budget(v string) *intstr.IntOrString {
	if v == "" {
		return nil
	}
	b := intstr.Parse(v)
	return &b
}

// TestFenceposts: the controller's arithmetic, maxSurge rounded up and
// maxUnavailable down, both 0 taken as maxUnavailable 1, for 1, 2, 3, 4 and
// 10 replicas with percentages and numbers.
func TestFenceposts(t *testing.T) {
	for _, tt := range []struct {
		replicas                 *int32
		maxSurge, maxUnavailable string
		surge, unavailable       int32
		// maxUnavailable is MaxUnavailable's answer: at most the replicas.
		maxUnav int32
	}{
		// The defaults, 25% and 25%.
		{ptr.To[int32](1), "", "", 1, 0, 0},
		{ptr.To[int32](2), "", "", 1, 0, 0},
		{ptr.To[int32](3), "", "", 1, 0, 0},
		{ptr.To[int32](4), "", "", 1, 1, 1},
		{ptr.To[int32](10), "", "", 3, 2, 2},
		{ptr.To[int32](10), "25%", "25%", 3, 2, 2},
		{nil, "", "", 1, 0, 0}, // unset replicas are 1
		// maxSurge 0: maxUnavailable rounds down to 0 below 4 replicas, and
		// the controller takes 1.
		{ptr.To[int32](1), "0", "", 0, 1, 1},
		{ptr.To[int32](2), "0", "25%", 0, 1, 1},
		{ptr.To[int32](3), "0", "25%", 0, 1, 1},
		{ptr.To[int32](4), "0", "25%", 0, 1, 1},
		{ptr.To[int32](10), "0", "25%", 0, 2, 2},
		{ptr.To[int32](1), "0%", "1%", 0, 1, 1},
		// Percentages that do not divide evenly.
		{ptr.To[int32](3), "50%", "50%", 2, 1, 1},
		{ptr.To[int32](10), "33%", "33%", 4, 3, 3},
		{ptr.To[int32](10), "1%", "1%", 1, 0, 0},
		{ptr.To[int32](2), "100%", "100%", 2, 2, 2},
		{ptr.To[int32](4), "200%", "0%", 8, 0, 0},
		// Numbers are taken as they are; MaxUnavailable caps them.
		{ptr.To[int32](1), "1", "0", 1, 0, 0},
		{ptr.To[int32](1), "1", "1", 1, 1, 1},
		{ptr.To[int32](2), "0", "1", 0, 1, 1},
		{ptr.To[int32](3), "2", "5", 2, 5, 3},
		{ptr.To[int32](10), "1", "0", 1, 0, 0},
		{ptr.To[int32](10), "3", "2", 3, 2, 2},
		// No replicas: nothing to take down.
		{ptr.To[int32](0), "", "", 0, 1, 0},
	} {
		d := rolling(tt.replicas, tt.maxSurge, tt.maxUnavailable)
		name := strings.TrimSpace(ptrString(tt.replicas) + " replicas, maxSurge " + tt.maxSurge + ", maxUnavailable " + tt.maxUnavailable)
		surge, unavailable, err := Fenceposts(d)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if surge != tt.surge || unavailable != tt.unavailable {
			t.Errorf("%s: Fenceposts = %d, %d; want %d, %d", name, surge, unavailable, tt.surge, tt.unavailable)
		}
		if got := MaxUnavailable(d); got != tt.maxUnav {
			t.Errorf("%s: MaxUnavailable = %d; want %d", name, got, tt.maxUnav)
		}
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}

// TestFencepostsRefusesWhatTheAPIServerRefuses: values the API server's
// validation refuses are errors that name the field, never a guess.
func TestFencepostsRefusesWhatTheAPIServerRefuses(t *testing.T) {
	for _, tt := range []struct {
		maxSurge, maxUnavailable string
		want                     string
	}{
		{"abc", "", `maxSurge "abc" is neither a whole number nor a percentage`},
		{"", "x%", `maxUnavailable "x%" is neither a whole number nor a percentage`},
		{"", "12.5%", `maxUnavailable "12.5%" is neither`},
		{"-1", "", "maxSurge -1 is negative"},
		{"", "-10%", "maxUnavailable -10% is negative"},
		{"", "150%", "maxUnavailable 150% is more than 100%"},
		{"0", "0", "maxSurge and maxUnavailable are both 0"},
		{"0%", "0", "both 0"},
	} {
		d := rolling(ptr.To[int32](3), tt.maxSurge, tt.maxUnavailable)
		_, _, err := Fenceposts(d)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("maxSurge %q, maxUnavailable %q: error %v; want one saying %q", tt.maxSurge, tt.maxUnavailable, err, tt.want)
		}
		if got := MaxUnavailable(d); got != 0 {
			t.Errorf("maxSurge %q, maxUnavailable %q: MaxUnavailable = %d; want 0 for a refused value", tt.maxSurge, tt.maxUnavailable, got)
		}
	}
	// A string that is a number but not a percentage: the API refuses it.
	d := rolling(ptr.To[int32](3), "", "")
	d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("1"))
	if _, _, err := Fenceposts(d); err == nil || !strings.Contains(err.Error(), `maxSurge "1" is neither`) {
		t.Errorf(`maxSurge "1" (a string): error %v`, err)
	}
}

func TestRecreate(t *testing.T) {
	d := &appsv1.Deployment{}
	d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	if !IsRecreate(d) || MaxUnavailable(d) != 0 {
		t.Errorf("Recreate: IsRecreate %v, MaxUnavailable %d; want true, 0", IsRecreate(d), MaxUnavailable(d))
	}
	d.Spec.Strategy.Type = ""
	if IsRecreate(d) {
		t.Error("an unset strategy type is RollingUpdate, the API default")
	}
	if s, u, _ := Fenceposts(d); s != 1 || u != 0 {
		t.Errorf("unset strategy, 1 replica: %d, %d; want 1, 0 (25%% up and down)", s, u)
	}
}
