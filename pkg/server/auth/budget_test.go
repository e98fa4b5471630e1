package auth

import "testing"

// TestFailuresBounded: the failures of many clients keep at most
// failureClients entries.
func TestFailuresBounded(t *testing.T) {
	a := NewBudget()
	for i := range failureClients * 2 {
		a.Failed("client-" + string(rune(i)))
	}
	if n := a.failures.Len(); n > failureClients {
		t.Fatalf("%d clients remembered, want at most %d", n, failureClients)
	}
}
