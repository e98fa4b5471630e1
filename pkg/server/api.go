package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// apiError is the JSON body of every error response:
// {"error": "...", "reason": "...", "hint": "...", "problems": [...]}.
type apiError struct {
	Status   int                  `json:"-"`
	Message  string               `json:"error"`
	Reason   string               `json:"reason"`
	Hint     string               `json:"hint,omitempty"`
	Problems []operations.Problem `json:"problems,omitempty"`
}

func errorf(status int, reason, format string, args ...any) *apiError {
	return &apiError{Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// fromError maps an error of the operations package or of the API server to
// a response.
func fromError(err error) *apiError {
	var op *operations.Error
	if errors.As(err, &op) {
		e := &apiError{Reason: string(op.Reason), Message: op.Error(), Hint: op.Hint, Problems: op.Problems}
		switch op.Reason {
		case operations.BadRequest:
			e.Status = http.StatusBadRequest
		case operations.NotFound:
			e.Status = http.StatusNotFound
		case operations.Forbidden:
			e.Status = http.StatusForbidden
		case operations.Conflict:
			e.Status = http.StatusConflict
		case operations.Invalid:
			e.Status = http.StatusUnprocessableEntity
		default:
			e.Status = http.StatusInternalServerError
		}
		return e
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := int(status.Status().Code)
		if code < 400 || code > 599 {
			code = http.StatusBadGateway
		}
		return &apiError{Status: code, Reason: string(apierrors.ReasonForError(err)), Message: status.Status().Message}
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "cannot reach the Kubernetes API server: %v", err)
	}
	return errorf(http.StatusInternalServerError, "InternalError", "%v", err)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.Status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", e.Message)
	}
	s.writeJSON(w, e.Status, e)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client left: nothing to do
}

// routes builds the mux. Every API route also has a method-less pattern
// that answers 405 in JSON (the mux's own 405 is plain text).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, s.validNames(h))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			allow := method
			if method == http.MethodGet {
				allow = "GET, HEAD"
			}
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %s; use %s", r.Method, r.URL.Path, method))
		})
	}
	handle(http.MethodPost, "/api/tickets", s.tickets)
	handle(http.MethodGet, "/api/info", s.info)
	handle(http.MethodGet, "/api/namespaces", s.listNamespaces)
	handle(http.MethodGet, "/api/namespaces/{ns}/deployments", s.listDeployments)
	handle(http.MethodGet, "/api/namespaces/{ns}/deployments/stream", s.stream)
	handle(http.MethodPut, "/api/namespaces/{ns}/deployments/{name}/scale", s.scale)
	handle(http.MethodPut, "/api/namespaces/{ns}/deployments/{name}/image", s.setImage)
	s.rolloutRoutes(handle)
	mux.HandleFunc("/api/contexts/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "ContextNotServed",
			"no served context at %s; the served contexts are listed by GET /api/info (serve --context)", r.URL.Path))
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "NotFound", "no API at %s", r.URL.Path))
	})
	handle(http.MethodGet, "/healthz", s.healthz)
	handle(http.MethodGet, "/readyz", s.readyz)
	handle(http.MethodGet, "/metrics", s.metrics.handler(s.registry).ServeHTTP)
	page := s.page()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %s; use GET", r.Method, r.URL.Path))
			return
		}
		page.ServeHTTP(w, r)
	})
	// Authentication wraps the whole mux, so every /api/ route, present or
	// added later, needs the token.
	return s.middleware(s.authenticate(mux))
}

// middleware applies the origin check to everything and logs requests.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if e := s.sameOrigin(r); e != nil {
			s.log.Warn("refused", "method", r.Method, "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "reason", e.Reason)
			s.writeError(rec, r, e)
		} else {
			next.ServeHTTP(rec, r)
		}
		level := slogLevel(rec.status, r.URL.Path)
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// validNames refuses a request whose {ns} or {name} is not a valid
// Kubernetes name (400) before anything else sees it: client-go cannot put
// "../b" in a path and would fail with an error that reads as the server's.
func (s *Server) validNames(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ns := r.PathValue("ns"); ns != "" {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "invalid namespace %q: %s", ns, errs[0]))
				return
			}
		}
		if name := r.PathValue("name"); name != "" {
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "invalid Deployment name %q: %s", name, errs[0]))
				return
			}
		}
		next(w, r)
	}
}

// statusRecorder remembers the status for the log; Unwrap lets
// http.ResponseController reach the connection (Flush, write deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// decode reads a JSON body of at most MaxBodyBytes into v. It is strict,
// so that what the server acts on is what the client meant: the media type
// is parsed (application/json, in UTF-8 if a charset is named), names match
// the fields exactly (encoding/json's case-insensitive matching would take
// {"REPLICAS": 2} as replicas), and unknown names, a name given twice (which
// one wins differs between parsers) and trailing data are refused. The
// JSON v2 decoder does all of this by default or by option.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		media, params, err := mime.ParseMediaType(ct)
		if charset, ok := params["charset"]; err != nil || media != "application/json" || ok && !strings.EqualFold(charset, "utf-8") {
			return errorf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "send the body as application/json (UTF-8), not %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body larger than %d bytes", tooLarge.Limit)
	case err != nil:
		return errorf(http.StatusBadRequest, "BadRequest", "reading the request body: %v", err)
	case len(bytes.TrimSpace(data)) == 0:
		return errorf(http.StatusBadRequest, "BadRequest", "empty request body: send a JSON object")
	}
	if err := jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return errorf(http.StatusBadRequest, "BadRequest", "invalid JSON body: %v", err)
	}
	return nil
}

// info tells the page how this server is set up.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"readOnly":   s.opts.ReadOnly,
		"namespaces": s.opts.Namespaces,
		"version":    s.opts.Version,
		"auth":       AuthToken,
		"statuses":   deployment.Statuses(), // the page's order, the worst first
	}
	if len(s.opts.Contexts) > 0 {
		out["contexts"] = s.opts.Contexts
	}
	if user, ok := userOf(r); ok {
		out["auth"], out["user"] = AuthKubernetes, user.Username
	}
	s.writeJSON(w, http.StatusOK, out)
}

// namespaceInfo is one entry of GET /api/namespaces.
type namespaceInfo struct {
	Name string `json:"name"`
	// Deployments counts the namespace's Deployments by status; absent
	// when they could not be listed (see Error).
	Deployments map[deployment.Status]int `json:"deployments,omitempty"`
	Total       int                       `json:"total"`
	Error       string                    `json:"error,omitempty"`
}

type namespaceList struct {
	Namespaces []namespaceInfo `json:"namespaces"`
	// Warning says why the list may be incomplete, e.g. the user may not
	// list namespaces.
	Warning string `json:"warning,omitempty"`
}

// listNamespaces answers from the hub's cluster-wide watches while they
// run (no API request at all), else from a list shared by every client for
// nsListTTL: however many pages poll it, the API server sees at most one
// cluster-wide LIST per nsListTTL.
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	out, e := s.watchedNamespaces(), (*apiError)(nil)
	if out == nil {
		out, e = s.nsList.get(r.Context(), s.namespaceList)
	}
	if e == nil {
		out, e = s.visibleNamespaces(r, out)
	}
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// watchedNamespaces is the namespace list from the hub's cluster-wide
// watches; nil when they do not run.
func (s *Server) watchedNamespaces() *namespaceList {
	counts, ok := s.opts.Hub.Namespaces()
	if !ok {
		return nil
	}
	names := slices.Clone(s.opts.Namespaces)
	if len(names) == 0 {
		names = slices.Collect(maps.Keys(counts))
	}
	sort.Strings(names)
	out := &namespaceList{Namespaces: make([]namespaceInfo, 0, len(names))}
	for _, ns := range names {
		info := namespaceInfo{Name: ns, Deployments: map[deployment.Status]int{}}
		for st, n := range counts[ns] {
			info.Deployments[st] = n
			info.Total += n
		}
		out.Namespaces = append(out.Namespaces, info)
	}
	return out
}

// namespaceList asks the API server for the namespaces and their counts.
func (s *Server) namespaceList(ctx context.Context) (*namespaceList, *apiError) {
	var out namespaceList
	names := slices.Clone(s.opts.Namespaces)
	if len(names) == 0 {
		list, err := s.opts.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		switch {
		case apierrors.IsForbidden(err):
			names = []string{s.opts.DefaultNamespace}
			out.Warning = fmt.Sprintf("you may not list namespaces, so only namespace %q (the kubeconfig's) is shown; restart serve with --namespaces to choose", s.opts.DefaultNamespace)
		case err != nil:
			return nil, fromError(err)
		default:
			for _, ns := range list.Items {
				names = append(names, ns.Name)
			}
		}
	}
	sort.Strings(names)
	counts := s.countDeployments(ctx, names)
	for _, ns := range names {
		out.Namespaces = append(out.Namespaces, counts[ns])
	}
	return &out, nil
}

// countDeployments counts the Deployments of each namespace by status, with
// one list across namespaces when the user may, else one per namespace.
func (s *Server) countDeployments(ctx context.Context, names []string) map[string]namespaceInfo {
	out := make(map[string]namespaceInfo, len(names))
	for _, ns := range names {
		out[ns] = namespaceInfo{Name: ns, Deployments: map[deployment.Status]int{}}
	}
	add := func(items []deployment.Summary) {
		for _, d := range items {
			if info, ok := out[d.Namespace]; ok {
				info.Deployments[d.Status]++
				info.Total++
				out[d.Namespace] = info
			}
		}
	}
	if len(names) > 1 {
		if all, err := s.summaries(ctx, metav1.NamespaceAll); err == nil {
			add(all)
			return out
		}
	}
	for _, ns := range names {
		items, err := s.summaries(ctx, ns)
		if err != nil {
			out[ns] = namespaceInfo{Name: ns, Error: fromError(err).Message}
			continue
		}
		add(items)
	}
	return out
}

// summaries lists the Deployments of namespace ns (all for "").
func (s *Server) summaries(ctx context.Context, ns string) ([]deployment.Summary, error) {
	list, err := s.opts.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]deployment.Summary, len(list.Items))
	for i := range list.Items {
		out[i] = deployment.Summarize(&list.Items[i], nil)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// checkNamespace refuses a namespace that is not served, does not exist,
// or whose Deployments the server's identity may not watch, so that no
// informer starts for it. Without permission to get namespaces, existence
// cannot be told: only the namespaces the user named (--namespaces, the
// kubeconfig's) are served then, not any name a client makes up. With the
// hub's cluster-wide watches, serve may watch everywhere (asked at start),
// and while they run they tell which namespaces exist.
func (s *Server) checkNamespace(ctx context.Context, ns string) *apiError {
	if e := s.serves(ns); e != nil {
		return e
	}
	if exists, _ := s.opts.Hub.NamespaceExists(ctx, ns); exists {
		return nil // from the cluster-wide watches, which this identity may run
	}
	_, getErr := s.opts.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(getErr):
		return errorf(http.StatusNotFound, "NotFound", "namespace %q not found", ns)
	case getErr != nil && !apierrors.IsForbidden(getErr):
		return fromError(getErr)
	case getErr == nil && s.opts.Hub.ClusterWide():
		return nil // serve may watch everywhere: asked once at start
	}
	review, err := s.opts.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "watch", Group: "apps", Resource: "deployments",
		}},
	}, metav1.CreateOptions{})
	switch {
	case err != nil && !apierrors.IsForbidden(err): // forbidden to ask: the tracker's first list still tells
		return fromError(err)
	case err == nil && !review.Status.Allowed:
		return errorf(http.StatusForbidden, "Forbidden", "this server's identity may not watch deployments in namespace %q", ns)
	case apierrors.IsForbidden(getErr) && !s.served[ns] && ns != s.opts.DefaultNamespace:
		return errorf(http.StatusForbidden, "NamespaceUnverified",
			"namespace %q cannot be checked: this server's identity may not get namespaces; name it with --namespaces to serve it", ns)
	}
	return nil
}

// listDeployments answers GET /api/namespaces/{ns}/deployments with the
// summaries of its Deployments: the fields of an SSE event, without type,
// time and changed.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	// The user's rights first: whoever may not read a namespace does not
	// learn whether it exists.
	if e := s.may(r, readAccess(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.checkWatched(r.Context(), ns); e != nil {
		s.writeError(w, r, e)
		return
	}
	body, err := s.listBody(r.Context(), ns)
	if err != nil {
		s.writeError(w, r, fromError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the client left: nothing to do
}

// listBody is the JSON of namespace ns's Deployments as its shared tracker
// knows them, encoded once per state of the namespace (the hub's snapshot
// ID): when every page of a namespace comes back at once, each asks for the
// list, and encoding hundreds of Deployments for each was most of serve's
// CPU in such a storm.
func (s *Server) listBody(ctx context.Context, ns string) ([]byte, error) {
	sub, err := s.opts.Hub.Subscribe(ctx, ns, "")
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	msgs, err := sub.Next(ctx)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 || msgs[0].Kind != hub.Snapshot {
		return nil, fmt.Errorf("namespace %q: the hub's first message is not a snapshot", ns)
	}
	snap := msgs[0]
	if body := s.lists.get(ns, snap.ID); body != nil {
		return body, nil
	}
	out := make([]deployment.Summary, len(snap.Events))
	for i, e := range snap.Events {
		out[i] = e.Summary
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	s.lists.put(ns, snap.ID, body)
	return body, nil
}

// maxCachedLists bounds the namespaces whose encoded list is kept.
const maxCachedLists = 256

// listCache keeps the latest encoded list of each namespace, by the ID of
// the snapshot it was made of: a new event makes a new ID, so an entry is
// never served stale.
type listCache struct {
	mu sync.Mutex
	m  map[string]cachedList
}

type cachedList struct {
	id   string
	body []byte
}

func (c *listCache) get(ns, id string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[ns]; ok && e.id == id {
		return e.body
	}
	return nil
}

func (c *listCache) put(ns, id string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedList{}
	}
	if _, ok := c.m[ns]; !ok && len(c.m) >= maxCachedLists {
		for other := range c.m { // any one: each is one GET away from coming back
			delete(c.m, other)
			break
		}
	}
	c.m[ns] = cachedList{id: id, body: body}
}

// scaleBody is the body of PUT .../scale.
type scaleBody struct {
	Replicas *int32 `json:"replicas"`
	// Optional preconditions: the change is refused (409) unless the
	// Deployment still has these replicas, or is still at this version.
	CurrentReplicas *int32 `json:"currentReplicas,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// imageBody is the body of PUT .../image.
type imageBody struct {
	Container       string `json:"container"`
	Image           string `json:"image"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// change runs the checks every change shares, in the order that tells the
// least to whoever may not change anything: the token first, then the body,
// then the namespace, then (AuthKubernetes) the user's rights, need: a
// user without them gets 403 and the API server sees no change request.
// do makes the change with client, which impersonates the user in
// AuthKubernetes mode.
func (s *Server) change(w http.ResponseWriter, r *http.Request, body any, need func(ns string) []access,
	do func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error)) {
	if e := s.authorize(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.decode(w, r, body); e != nil {
		s.writeError(w, r, e)
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if e := s.serves(ns); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.may(r, need(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	client, e := s.actingClient(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	res, err := do(r.Context(), client, ns, name)
	if err != nil {
		s.writeError(w, r, fromError(err))
		return
	}
	args := []any{"namespace", ns, "deployment", name, "changed", res.Changed, "changes", res.Changes}
	if user, ok := userOf(r); ok {
		args = append(args, "user", user.Username)
	}
	s.log.Info("changed", args...)
	s.writeJSON(w, http.StatusOK, res)
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request) {
	var body scaleBody
	s.change(w, r, &body, scaleAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
		if body.Replicas == nil {
			return operations.Result{}, &operations.Error{Reason: operations.BadRequest,
				Problems: []operations.Problem{{Field: "replicas", Message: `replicas is required, e.g. {"replicas": 3}`}}}
		}
		res, err := operations.Scale(ctx, client.AppsV1(), operations.ScaleRequest{
			Namespace: ns, Name: name, Replicas: *body.Replicas,
			CurrentReplicas: body.CurrentReplicas, ResourceVersion: body.ResourceVersion,
		})
		if err == nil {
			operations.NoteAutoscalers(ctx, client.AutoscalingV2(), &res)
		}
		return res, err
	})
}

func (s *Server) setImage(w http.ResponseWriter, r *http.Request) {
	var body imageBody
	s.change(w, r, &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
		if body.Container == "" {
			return operations.Result{}, &operations.Error{Reason: operations.BadRequest,
				Problems: []operations.Problem{{Field: "container", Message: `container is required, e.g. {"container": "web", "image": "nginx:1.27"}`}}}
		}
		return operations.SetImages(ctx, client.AppsV1(), operations.ImageRequest{
			Namespace: ns, Name: name, ResourceVersion: body.ResourceVersion,
			Images: []operations.ContainerImage{{Container: body.Container, Image: body.Image}},
		})
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the API server answered within readyTTL, and not
// any more from the moment shutdown begins.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "ShuttingDown", "shutting down"))
		return
	}
	// /version is readable by every user, even unauthenticated ones.
	if e := s.ready.check(r.Context(), func(ctx context.Context) error {
		_, err := serverVersion(ctx, s.opts.Client)
		return err
	}); e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// serverVersion asks the API server for its version, with ctx when the
// client allows it.
func serverVersion(ctx context.Context, client kubernetes.Interface) (*version.Info, error) {
	if d, ok := client.Discovery().(interface {
		ServerVersionWithContext(context.Context) (*version.Info, error)
	}); ok {
		return d.ServerVersionWithContext(ctx)
	}
	return client.Discovery().ServerVersion()
}

// slogLevel keeps probes and scrapes out of the default log.
func slogLevel(status int, path string) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// What each change needs of the user in AuthKubernetes mode (the API
// server checks the rest, e.g. get, as the impersonated user).
func scaleAccess(ns string) []access {
	return []access{{Namespace: ns, Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"}}
}

func patchAccess(ns string) []access {
	return []access{{Namespace: ns, Verb: "patch", Group: "apps", Resource: "deployments"}}
}

// visibleNamespaces is the shared list cut, in AuthKubernetes mode, to the
// namespaces whose Deployments the user may list: one review for the whole
// cluster, else one per namespace (each cached).
func (s *Server) visibleNamespaces(r *http.Request, all *namespaceList) (*namespaceList, *apiError) {
	if s.kube == nil {
		return all, nil
	}
	if e := s.may(r, access{Verb: "list", Group: "apps", Resource: "deployments"}); e == nil {
		return all, nil
	} else if e.Status != http.StatusForbidden {
		return nil, e
	}
	out := &namespaceList{Namespaces: []namespaceInfo{}}
	for _, ns := range all.Namespaces {
		e := s.may(r, access{Namespace: ns.Name, Verb: "list", Group: "apps", Resource: "deployments"})
		switch {
		case e == nil:
			out.Namespaces = append(out.Namespaces, ns)
		case e.Status != http.StatusForbidden:
			return nil, e
		}
	}
	return out, nil
}
