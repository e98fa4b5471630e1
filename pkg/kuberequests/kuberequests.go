// Package kuberequests counts the requests a process makes to the
// Kubernetes API server, by verb, resource and status code, for serve's
// /metrics: how many of the API server's requests are serve's own, which
// the API server's own metrics cannot tell apart from the cluster's.
//
// It wraps the HTTP transport of a rest.Config, so it sees every request
// every client built from that config sends (watches, lists, gets, access
// and token reviews, impersonated changes, retries), each once, as the API
// server sees it. client-go's own metric hooks (k8s.io/client-go/tools/metrics)
// are one global per process and name no resource, so they are not used.
// Labels are bounded: no namespace, name or user, only what the code asks
// for.
package kuberequests

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// Name is the metric's name.
const Name = "deploywatch_kube_requests_total"

// Counter counts requests to the API server. The zero value is not usable:
// make one with New.
type Counter struct {
	vec *prometheus.CounterVec
}

// New makes a Counter; register Collector() to publish it.
func New() *Counter {
	return &Counter{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Name,
		Help: "Requests this process sent to the Kubernetes API server, by verb (get, list, watch, create, update, patch, delete), " +
			"resource (deployments, deployments/scale, selfsubjectaccessreviews, ...; a path such as /version for requests that name none) " +
			"and HTTP status code (error: no answer).",
	}, []string{"verb", "resource", "code"})}
}

// Collector is the metric, for a prometheus.Registry.
func (c *Counter) Collector() prometheus.Collector { return c.vec }

// Instrument makes every client built from config from now on count its
// requests with c. It wraps the transport inside the config's other
// wrappers, so it counts what is sent, not what a wrapper such as the
// outage breaker fails without sending.
func (c *Counter) Instrument(config *rest.Config) {
	config.WrapTransport = transport.Wrappers(c.Wrap, config.WrapTransport)
}

// Wrap counts the requests of rt.
func (c *Counter) Wrap(rt http.RoundTripper) http.RoundTripper { return &roundTripper{next: rt, c: c} }

type roundTripper struct {
	next http.RoundTripper
	c    *Counter
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	verb, resource := Classify(req.Method, req.URL.Path, req.URL.Query().Get("watch"))
	t.c.vec.WithLabelValues(verb, resource, code).Inc()
	return resp, err
}

// WrappedRoundTripper lets client-go's transport helpers see through the wrapper.
func (t *roundTripper) WrappedRoundTripper() http.RoundTripper { return t.next }

// Classify tells a request's verb and resource from its method, path and
// watch query parameter, as the API server's request info does: a GET of
// a collection is a list (a watch with watch=true), of one object a get.
// The resource is "resource" or "resource/subresource"; a path outside
// /api and /apis, or one naming no resource (discovery), is its first
// segment, e.g. /version.
func Classify(method, path, watch string) (verb, resource string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case parts[0] == "api" && len(parts) >= 3:
		rest = parts[2:] // api/v1/...
	case parts[0] == "apis" && len(parts) >= 4:
		rest = parts[3:] // apis/GROUP/VERSION/...
	}
	if len(rest) == 0 {
		return strings.ToLower(method), "/" + parts[0]
	}
	if rest[0] == "watch" { // the deprecated /watch/ prefix
		rest, watch = rest[1:], "true"
	}
	// namespaces/NS/RESOURCE/...: a namespaced resource, except for the
	// namespace's own subresources.
	if rest[0] == "namespaces" && len(rest) > 2 && rest[2] != "status" && rest[2] != "finalize" {
		rest = rest[2:]
	}
	if len(rest) == 0 {
		return strings.ToLower(method), "/" + parts[0]
	}
	resource = rest[0]
	named := len(rest) > 1
	if len(rest) > 2 {
		resource += "/" + rest[2]
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch == "true" || watch == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(method)
	}
	return verb, resource
}
