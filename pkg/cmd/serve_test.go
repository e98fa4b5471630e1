package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"
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
		{"trusted proxies", func(o *ServeOptions) { o.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1", "fd00::/8"} }, nil},
		{"bad trusted proxy", func(o *ServeOptions) { o.TrustedProxies = []string{"ingress"} }, []string{`invalid address "ingress" in --trusted-proxies`}},
		{"port too high", func(o *ServeOptions) { o.Address = ":70000" }, []string{"invalid port"}},
		{"bad namespace", func(o *ServeOptions) { o.Namespaces = []string{"shop", "Bad_NS"} }, []string{`invalid namespace "Bad_NS" in --namespaces`}},
		{"allowed hosts", func(o *ServeOptions) { o.AllowedHosts = []string{"dash.example.com", "10.0.0.7", "[fd00::1]"} }, nil},
		{"allowed host with a scheme", func(o *ServeOptions) { o.AllowedHosts = []string{"https://dash.example.com"} }, []string{`invalid host "https://dash.example.com" in --allowed-hosts`}},
		{"allowed host with a port", func(o *ServeOptions) { o.AllowedHosts = []string{"dash.example.com:443"} }, []string{"no scheme, port or path"}},
		{"empty allowed host", func(o *ServeOptions) { o.AllowedHosts = []string{""} }, []string{`invalid host ""`}},
		{"shutdown delay", func(o *ServeOptions) { o.ShutdownDelay = 5 * time.Second }, nil},
		{"shutdown delay as long as the timeout", func(o *ServeOptions) { o.ShutdownDelay = o.ShutdownTimeout }, []string{"--shutdown-delay 10s must be at least 0 and less than --shutdown-timeout 10s"}},
		{"negative shutdown delay", func(o *ServeOptions) { o.ShutdownDelay = -time.Second }, []string{"--shutdown-delay -1s"}},
		{"read-only with a token file (reads need it)", func(o *ServeOptions) { o.ReadOnly, o.TokenFile = true, "/tmp/t" }, nil},
		{"watch scope cluster", func(o *ServeOptions) { o.WatchScope = "cluster" }, nil},
		{"watch scope namespace", func(o *ServeOptions) { o.WatchScope = "namespace" }, nil},
		{"bad watch scope", func(o *ServeOptions) { o.WatchScope = "all" }, []string{`invalid --watch-scope "all": use auto, cluster or namespace`}},
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
	// A token from a file is never printed, only where it is.
	o.TokenFile = "/etc/deploywatch/token"
	if got := o.pageURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != "http://127.0.0.1:1/ (token from /etc/deploywatch/token; add #token=<it> to the address)" {
		t.Errorf("URL with --token-file = %s", got)
	}
	// With -n, the link lands on that namespace.
	o.clients = &clients{Namespace: "shop", ExplicitNamespace: true}
	if got := o.pageURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != "http://127.0.0.1:1/#/ns/shop (token from /etc/deploywatch/token; add ?token=<it> to the address)" {
		t.Errorf("URL with --token-file and -n = %s", got)
	}
	o.TokenFile = ""
	if got := o.pageURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != "http://127.0.0.1:1/#/ns/shop?token=a%2Bb" {
		t.Errorf("URL with -n = %s", got)
	}
	o.clients.ExplicitNamespace = false // the kubeconfig's namespace: the list
	if got := o.pageURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); got != "http://127.0.0.1:1/#token=a%2Bb" {
		t.Errorf("URL without -n = %s", got)
	}
}

func TestCheckToken(t *testing.T) {
	for range 1000 { // random tokens, as 'openssl rand -hex 32' makes them, are never refused
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if err := checkToken(hex.EncodeToString(b)); err != nil {
			t.Fatalf("checkToken(%x) = %v", b, err)
		}
	}
	for token, want := range map[string]string{
		"":                                     "is empty",
		"abc":                                  "holds a token of 3 bytes, fewer than 32",
		strings.Repeat("password", 4):          "holds a predictable token",
		strings.Repeat("a", 64):                "holds a predictable token",
		strings.Repeat("0123456789abcdef", 2):  "holds a predictable token",
		"abcdefghijklmnopqrstuvwxyz0123456789": "holds a predictable token",
		randomToken():                          "",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": "", // openssl rand -hex 32
		"3b5d5c3712955042212e2f7bd1e0e4f1":                                 "", // openssl rand -hex 16
	} {
		err := checkToken(token)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("checkToken(%q) = %v, want %q", token, err, want)
		}
	}
}

func TestListenNetwork(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "tcp4",
		"127.0.0.1:0":    "tcp4",
		"[::]:8080":      "tcp",
		"[::1]:8080":     "tcp",
		"localhost:8080": "tcp",
	} {
		if got := listenNetwork(addr); got != want {
			t.Errorf("listenNetwork(%s) = %s, want %s", addr, got, want)
		}
	}
}

func TestDefaultMaxStreams(t *testing.T) {
	for _, tt := range []struct {
		files  uint64
		memory int64
		want   int
	}{
		{0, 0, 10000},
		{1 << 20, 0, 10000},
		{1024, 0, 1024 - 128},
		{160, 0, 80},
		{1 << 20, 256 << 20, 2048}, // deploy/'s 256Mi
		{1024, 256 << 20, 896},
		{1, 1, 1},
	} {
		if got := defaultMaxStreams(tt.files, tt.memory); got != tt.want {
			t.Errorf("defaultMaxStreams(%d, %d) = %d, want %d", tt.files, tt.memory, got, tt.want)
		}
	}
}

func TestDefaultMaxConns(t *testing.T) {
	for _, tt := range []struct {
		files   uint64
		streams int
		want    int
	}{
		{0, 10000, noLimitConns},       // no file limit known
		{1 << 20, 10000, noLimitConns}, // plenty
		{200, 100, 60},                 // 200 files, half of them streams
		{1024, 896, 88},
		{100, 100, 1}, // streams set by hand past the files: still one
	} {
		if got := defaultMaxConns(tt.files, tt.streams); got != tt.want {
			t.Errorf("defaultMaxConns(%d, %d) = %d, want %d", tt.files, tt.streams, got, tt.want)
		}
	}
}

// TestServeWatchScope: which watch each --watch-scope gets, by what the
// identity may do, as SelfSubjectAccessReviews answer.
func TestServeWatchScope(t *testing.T) {
	everything := func(*authorizationv1.ResourceAttributes) bool { return true }
	noPods := func(a *authorizationv1.ResourceAttributes) bool { return a.Resource != "pods" }
	noNamespaceWatch := func(a *authorizationv1.ResourceAttributes) bool {
		return a.Resource != "namespaces" || a.Verb != "watch"
	}
	for _, tt := range []struct {
		name       string
		scope      string
		namespaces []string
		may        func(*authorizationv1.ResourceAttributes) bool
		cluster    bool   // a cluster-wide watch
		nsList     bool   // with the namespaces watched
		err        string // a substring of the error; none: no error
		reviews    bool   // whether access was asked
	}{
		{"auto, may everything", "auto", nil, everything, true, true, "", true},
		{"auto, may not watch namespaces", "auto", nil, noNamespaceWatch, true, false, "", true},
		{"auto, may not read pods", "auto", nil, noPods, false, false, "", true},
		{"auto with --namespaces", "auto", []string{"shop"}, everything, false, false, "", false},
		{"namespace", "namespace", nil, everything, false, false, "", false},
		{"cluster, may everything", "cluster", []string{"shop"}, everything, true, true, "", true},
		{"cluster, may not read pods", "cluster", nil, noPods, false, false, "--watch-scope=cluster: this identity may not list pods, watch pods in all namespaces; grant it (see deploy/), or use --watch-scope=auto", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			asked := false
			client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				asked = true
				review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
				review.Status.Allowed = tt.may(review.Spec.ResourceAttributes)
				return true, review, nil
			})
			o := NewServeOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
			o.WatchScope, o.Namespaces = tt.scope, tt.namespaces
			cw, err := o.clusterWide(context.Background(), client, slog.New(slog.DiscardHandler))
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case (cw != nil) != tt.cluster:
				t.Fatalf("cluster-wide = %v, want %v", cw != nil, tt.cluster)
			case cw != nil && (cw.Namespaces != nil) != tt.nsList:
				t.Fatalf("namespaces watched = %v, want %v", cw.Namespaces != nil, tt.nsList)
			}
			if asked != tt.reviews {
				t.Fatalf("asked the API server = %v, want %v", asked, tt.reviews)
			}
		})
	}
}

// TestCapKlogV: serve lowers client-go's verbosity to 7, below the level
// that logs request bodies (a TokenReview's is a user's token).
func TestCapKlogV(t *testing.T) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	t.Cleanup(func() { _ = fs.Set("v", "0") })
	_ = fs.Set("v", "9")
	if v, capped := capKlogV(serveKlogMaxV); v != 9 || !capped {
		t.Fatalf("capKlogV at 9 = %d, %v; want 9, true", v, capped)
	}
	if klog.V(8).Enabled() || !klog.V(7).Enabled() {
		t.Fatalf("after capKlogV: V(8) %v, V(7) %v; want false, true", klog.V(8).Enabled(), klog.V(7).Enabled())
	}
	if v, capped := capKlogV(serveKlogMaxV); v != 7 || capped {
		t.Fatalf("capKlogV at 7 = %d, %v; want 7, false", v, capped)
	}
}
