package auth

import (
	"net/http"
	"net/netip"
	"testing"
)

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

// TestClientKey: the address, an IPv6 /64, and behind trusted proxies the
// rightmost X-Forwarded-For hop that is not one of them.
func TestClientKey(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, tt := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"address", "192.0.2.1:5000", nil, nil, "192.0.2.1"},
		{"ipv6 /64", "[2001:db8::1]:5000", nil, nil, "2001:db8::"},
		{"mapped ipv4", "[::ffff:192.0.2.1]:5000", nil, nil, "192.0.2.1"},
		{"forwarded, proxy not trusted", "127.0.0.1:5000", []string{"192.0.2.7"}, nil, "127.0.0.1"},
		{"forwarded by a trusted proxy", "127.0.0.1:5000", []string{"192.0.2.7"}, proxies, "192.0.2.7"},
		{"client's own hops left of the proxies'", "127.0.0.1:5000", []string{"198.51.100.9, 192.0.2.7, 10.1.2.3"}, proxies, "192.0.2.7"},
		{"several headers", "10.0.0.1:5000", []string{"198.51.100.9", "192.0.2.7"}, proxies, "192.0.2.7"},
		{"only proxies", "10.0.0.1:5000", []string{"10.0.0.2"}, proxies, "10.0.0.2"},
		{"unreadable hop", "127.0.0.1:5000", []string{"192.0.2.7, junk"}, proxies, "127.0.0.1"},
		{"no header", "127.0.0.1:5000", nil, proxies, "127.0.0.1"},
		{"not from a proxy: header ignored", "192.0.2.1:5000", []string{"198.51.100.9"}, proxies, "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientKey(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientKey = %q, want %q", got, tt.want)
			}
		})
	}
}
