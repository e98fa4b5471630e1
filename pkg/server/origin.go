package server

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// sameOrigin refuses a request whose Host is not one of the server's names
// (DNS rebinding), or whose Origin, when the browser sends one, is not the
// server itself (a cross-site page), or that a browser marks cross-site.
// The Host check ignores the port: a port-forward or proxy may change it,
// and rebinding is about names. The Origin check compares it with the Host
// header, port included: both come from the address the browser shows, and
// another port on the same host is another site's page (another server on
// localhost must not call this API). One cross-site request is let through:
// a top-level navigation to the page (a link from a wiki or a chat), which
// carries no token and whose page holds no data.
func (s *Server) sameOrigin(r *http.Request) *apiError {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if !s.hosts[host] {
		return errorf(http.StatusForbidden, "ForeignHost",
			"host %q is not this server's; open the address serve printed (DNS rebinding is refused)", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return errorf(http.StatusForbidden, "ForeignOrigin",
				"cross-origin request from %q refused; use the page this server serves", origin)
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && !pageNavigation(r) {
		return errorf(http.StatusForbidden, "ForeignOrigin", "cross-site request refused; use the page this server serves")
	}
	return nil
}

// pageNavigation reports whether r is a browser opening the page itself:
// a GET of a page path as a top-level navigation.
func pageNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		!strings.HasPrefix(r.URL.Path, "/api/") &&
		r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") != "iframe"
}

// ownHosts are the host names that reach this server: the loopback names,
// the allowed ones, the address it is bound to and, bound to every
// interface, the machine's addresses and name. Any other Host header means
// DNS rebinding.
func ownHosts(addr net.Addr, allowed []string) map[string]bool {
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range allowed {
		hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if ip != nil && !ip.IsUnspecified() {
		hosts[ip.String()] = true
		return hosts
	}
	if ifaces, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaces {
			if n, ok := a.(*net.IPNet); ok {
				hosts[n.IP.String()] = true
			}
		}
	}
	if name, err := os.Hostname(); err == nil {
		hosts[strings.ToLower(name)] = true
	}
	return hosts
}
