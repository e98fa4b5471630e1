package auth

import (
	"context"
	"net/http"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// BearerToken is the token of r's 'Authorization: Bearer <token>' header;
// present is false when r has no such header, or an empty token.
func BearerToken(r *http.Request) (token string, present bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

type ctxKey int

const (
	bearerKey ctxKey = iota
	userKey
	tokenCtxKey
)

// WithBearer marks r as authenticated with a token itself, not a ticket.
func WithBearer(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), bearerKey, true))
}

// HasBearer reports whether the request was authenticated with the token
// itself, not a ticket: only such requests may change anything.
func HasBearer(r *http.Request) bool {
	ok, _ := r.Context().Value(bearerKey).(bool)
	return ok
}

// WithUser records the Kubernetes user r was authenticated as.
func WithUser(r *http.Request, u authenticationv1.UserInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey, u))
}

// UserOf is the Kubernetes user a request was authenticated as, in
// AuthKubernetes mode.
func UserOf(r *http.Request) (authenticationv1.UserInfo, bool) {
	u, ok := r.Context().Value(userKey).(authenticationv1.UserInfo)
	return u, ok
}

// WithToken records the Kubernetes token r was authenticated with (the
// header's, or the one sealed in its ticket), so that a stream can have it
// checked again while it lasts. It stays in memory, never logged.
func WithToken(r *http.Request, token string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), tokenCtxKey, token))
}

// TokenOf is the Kubernetes token a request was authenticated with, in
// AuthKubernetes mode.
func TokenOf(r *http.Request) (string, bool) {
	t, ok := r.Context().Value(tokenCtxKey).(string)
	return t, ok
}
