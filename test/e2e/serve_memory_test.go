package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
)

// TestServeSaysWhenNearItsMemoryLimit: serve under a GOMEMLIMIT below what
// it needs logs one warning naming the limit and the fix, and /metrics
// says it is near; serve without a limit says nothing of the kind once it
// has checked.
func TestServeSaysWhenNearItsMemoryLimit(t *testing.T) {
	tight := startServeEnv(t, []string{"GOMEMLIMIT=8MiB"}, "--linger", "0")
	testutil.Eventually(t, time.Minute, "serve under GOMEMLIMIT=8MiB to log that it is near its limit", func() bool {
		return strings.Contains(tight.stderr.String(), `level=WARN msg="memory near its limit: raise the limit`)
	})
	if log := tight.stderr.String(); !strings.Contains(log, "limit=8MiB limitFrom=GOMEMLIMIT") {
		t.Errorf("the warning does not name the limit and where it comes from:\n%s", log)
	}
	if v := tight.metric(t, "deploywatch_memory_near_limit"); v != 1 {
		t.Errorf("deploywatch_memory_near_limit %v under GOMEMLIMIT=8MiB, want 1", v)
	}
	if v := tight.metric(t, "deploywatch_memory_limit_bytes"); v != 8<<20 {
		t.Errorf("deploywatch_memory_limit_bytes %v, want %d", v, 8<<20)
	}

	roomy := startServeEnv(t, []string{"GOMEMLIMIT=4GiB"}, "--linger", "0")
	// In use is set by the first check: after it, silence means not near.
	testutil.Eventually(t, time.Minute, "serve's first memory check", func() bool {
		return roomy.metric(t, "deploywatch_memory_in_use_bytes") > 0
	})
	if v := roomy.metric(t, "deploywatch_memory_near_limit"); v != 0 {
		t.Errorf("deploywatch_memory_near_limit %v under GOMEMLIMIT=4GiB, want 0", v)
	}
	if strings.Contains(roomy.stderr.String(), "memory near its limit") {
		t.Errorf("serve under GOMEMLIMIT=4GiB says it is near its limit:\n%s", roomy.stderr.String())
	}
}
