package cmd

import (
	"net"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestServeValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(*ServeOptions)
		want []string // substrings of the one error; none means valid
	}{
		{"defaults", func(*ServeOptions) {}, nil},
		{"any free port", func(o *ServeOptions) { o.Address = "127.0.0.1:0" }, nil},
		{"no port", func(o *ServeOptions) { o.Address = "127.0.0.1" }, []string{`invalid --address "127.0.0.1": use HOST:PORT`}},
		{"bad port", func(o *ServeOptions) { o.Address = ":http" }, []string{"invalid port in --address"}},
		{"port too high", func(o *ServeOptions) { o.Address = ":70000" }, []string{"invalid port"}},
		{"bad namespace", func(o *ServeOptions) { o.Namespaces = []string{"shop", "Bad_NS"} }, []string{`invalid namespace "Bad_NS" in --namespaces`}},
		{"allowed hosts", func(o *ServeOptions) { o.AllowedHosts = []string{"dash.example.com", "10.0.0.7", "[fd00::1]"} }, nil},
		{"allowed host with a scheme", func(o *ServeOptions) { o.AllowedHosts = []string{"https://dash.example.com"} }, []string{`invalid host "https://dash.example.com" in --allowed-hosts`}},
		{"allowed host with a port", func(o *ServeOptions) { o.AllowedHosts = []string{"dash.example.com:443"} }, []string{"no scheme, port or path"}},
		{"empty allowed host", func(o *ServeOptions) { o.AllowedHosts = []string{""} }, []string{`invalid host ""`}},
		{"shutdown delay", func(o *ServeOptions) { o.ShutdownDelay = 5 * time.Second }, nil},
		{"shutdown delay as long as the timeout", func(o *ServeOptions) { o.ShutdownDelay = o.ShutdownTimeout }, []string{"--shutdown-delay 10s must be at least 0 and less than --shutdown-timeout 10s"}},
		{"negative shutdown delay", func(o *ServeOptions) { o.ShutdownDelay = -time.Second }, []string{"--shutdown-delay -1s"}},
		{"read-only with a token file", func(o *ServeOptions) { o.ReadOnly, o.TokenFile = true, "/tmp/t" }, []string{"--token-file has no use with --read-only"}},
		{"everything wrong at once", func(o *ServeOptions) {
			o.ShutdownTimeout, o.Linger, o.Heartbeat = 0, -time.Second, 0
		}, []string{"--shutdown-timeout must be positive", "--linger must not be negative", "--heartbeat must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewServeOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
			tt.set(o)
			checkProblems(t, o.Validate(), tt.want)
		})
	}
}

func TestServePageURL(t *testing.T) {
	o := NewServeOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
	o.token = "a+b"
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/#token=a%2Bb",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/#token=a%2Bb",
		"[::1]:9000":     "http://[::1]:9000/#token=a%2Bb",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.pageURL(tcp); got != want {
			t.Errorf("pageURL(%s) = %s, want %s", addr, got, want)
		}
	}
	o.token = ""
	if got := o.pageURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != "http://127.0.0.1:1/" {
		t.Errorf("read-only URL = %s", got)
	}
}
