package tracker

import (
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Permanent reports whether err is one that waiting cannot fix, so a watch
// that has not started yet should give up and say so: the API server
// refused the request (RBAC, authentication, no such resource, a bad
// request), or there is no server to talk to (nothing listens at the
// address, its name does not resolve, its certificate is not trusted).
// Everything else (429, 5xx, timeouts, a connection reset) is retried with
// the informer's backoff. The callers apply this only until the first sync;
// after it they retry every error.
//
// kubectl rollout status draws no such line at its start: it GETs the object
// first and ends on any error of that request, transient or not, once
// client-go's REST client has stopped retrying it (it retries a 429 or 5xx
// that carries Retry-After, and a reset or lost connection, ten times). It then follows the object with an informer
// (watchtools.UntilWithSync), whose reflector retries every list and watch
// error, these included, until --timeout: only that part is as here after
// the first sync.
func Permanent(err error) bool {
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsNotFound(err),
		apierrors.IsBadRequest(err), apierrors.IsInvalid(err), apierrors.IsMethodNotSupported(err),
		apierrors.IsNotAcceptable(err), apierrors.IsUnsupportedMediaType(err):
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false
	}
	var dns *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return true
	case errors.As(err, &dns):
		return dns.IsNotFound
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid):
		return true
	}
	return false
}
