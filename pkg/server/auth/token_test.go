package auth

import (
	"strings"
	"testing"
	"time"
)

func TestTicketExpires(t *testing.T) {
	a := NewToken("token")
	now := time.Unix(1_000_000, 0)
	a.now = func() time.Time { return now }
	ticket, exp := a.Ticket()
	if !a.ValidTicket(ticket) || exp.Sub(now) != TicketTTL {
		t.Fatalf("fresh ticket invalid, or expires at %s", exp)
	}
	now = now.Add(TicketTTL)
	if a.ValidTicket(ticket) {
		t.Fatal("a ticket is still valid after TicketTTL")
	}
	b := []byte(ticket)
	b[3] ^= 1
	if a.ValidTicket(string(b)) || a.ValidTicket("") || a.ValidTicket(strings.Repeat("A", 54)) {
		t.Fatal("a forged ticket is valid")
	}
}
