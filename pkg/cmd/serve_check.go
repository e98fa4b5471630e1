package cmd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
)

// reachTimeout bounds serve's first request to each API server: serve ends
// with one line rather than starting against a cluster it cannot reach.
const reachTimeout = 5 * time.Second

// checkAPIServer makes sure, before serve does anything else, that the API
// server of c is not serve itself (client-go's default server with no
// kubeconfig, http://localhost:8080, is serve's default --address too: it
// would send its own checks to itself and wait) and that it answers.
func checkAPIServer(ctx context.Context, c *clients, listening net.Addr, address string) error {
	if selfAddressed(ctx, c.Config.Host, listening) {
		return fmt.Errorf("the API server at %s is serve's own address %s (client-go's default, http://localhost:8080, is used when no kubeconfig is found): point --kubeconfig or KUBECONFIG at your cluster, or serve on another --address, e.g. --address 127.0.0.1:0", c.Config.Host, address)
	}
	timeout := reachTimeout
	if c.Config.Timeout > 0 && c.Config.Timeout < timeout { // --request-timeout
		timeout = c.Config.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// /version is what kubectl version reads, open to any identity: this
	// asks only whether the server answers (permissions are checked next).
	return explain.API(c.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(), c.Config.Host, "")
}

// selfAddressed says whether host, an API server's URL, names the address
// serve listens on.
func selfAddressed(ctx context.Context, host string, listening net.Addr) bool {
	tcp, ok := listening.(*net.TCPAddr)
	if !ok || host == "" {
		return false
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port != strconv.Itoa(tcp.Port) {
		return false
	}
	ips := []net.IP{net.ParseIP(u.Hostname())}
	if ips[0] == nil {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, u.Hostname())
		if err != nil {
			return false // then the request fails and says so
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if ip.Equal(tcp.IP) || tcp.IP.IsUnspecified() && (ip.IsLoopback() || isLocal(ip)) {
			return true
		}
	}
	return false
}

// isLocal says whether ip is one of this machine's addresses.
func isLocal(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
