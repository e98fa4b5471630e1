package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// listDeployments answers GET /api/namespaces/{ns}/deployments with the
// summaries of its Deployments: the fields of an SSE event, without type,
// time and changed. Both are pkg/deployment's Summary, made by the
// namespace's tracker: a field added there is in this list and in every
// stream event alike.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	if e := s.mayRead(r, ns, readAccess(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	body, err := s.listBody(r.Context(), ns, s.viewOf(r, ns))
	if err != nil {
		s.writeError(w, r, fromError(err))
		return
	}
	jsonHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the client left: nothing to do
}

// listBody is the JSON of namespace ns's workloads as its shared tracker
// knows them, encoded once per state of the namespace (the hub's snapshot
// ID) and view: when every page of a namespace comes back at once, each
// asks for the list, and encoding hundreds of Deployments for each was
// most of serve's CPU in such a storm. Without diagnosis, the summaries
// carry nothing read from Pods and Events (Summary.WithoutDiagnosis); the
// kinds v hides are left out; each view is kept apart.
func (s *Server) listBody(ctx context.Context, ns string, v userView) ([]byte, error) {
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
	key := ns
	if v.withoutDiagnosis {
		key += " without diagnosis" // no namespace has a space
	}
	hidden := map[string]bool{}
	for _, e := range snap.Events {
		if _, asked := hidden[e.Kind]; !asked {
			hidden[e.Kind] = v.hides(e.Kind)
			if hidden[e.Kind] {
				key += " without " + e.Kind
			}
		}
	}
	if body := s.lists.get(key, snap.ID); body != nil {
		return body, nil
	}
	out := make([]deployment.Summary, 0, len(snap.Events))
	for _, e := range snap.Events {
		switch {
		case hidden[e.Kind]:
		case v.withoutDiagnosis:
			out = append(out, e.Summary.WithoutDiagnosis())
		default:
			out = append(out, e.Summary)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	s.lists.put(key, snap.ID, body)
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
	// workload still has these replicas, or is still at this version.
	CurrentReplicas *int32 `json:"currentReplicas,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// scale answers PUT .../scale of a workload of kind k (Deployments and
// StatefulSets; routes.go refuses it for DaemonSets).
func (s *Server) scale(k operations.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body scaleBody
		s.change(w, r, k, &body, scaleAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			if body.Replicas == nil {
				return operations.Result{}, &operations.Error{Reason: operations.BadRequest,
					Problems: []operations.Problem{{Field: "replicas", Message: `replicas is required, e.g. {"replicas": 3}`}}}
			}
			res, err := operations.Scale(ctx, client.AppsV1(), operations.ScaleRequest{
				Kind: k, Namespace: ns, Name: name, Replicas: *body.Replicas,
				CurrentReplicas: body.CurrentReplicas, ResourceVersion: body.ResourceVersion,
			})
			if err == nil {
				operations.NoteAutoscalers(ctx, client.AutoscalingV2(), &res)
			}
			return res, err
		})
	}
}

// imageBody is the body of PUT .../image.
type imageBody struct {
	Container       string `json:"container"`
	Image           string `json:"image"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// setImage answers PUT .../image of a workload of kind k.
func (s *Server) setImage(k operations.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body imageBody
		s.change(w, r, k, &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			if body.Container == "" {
				return operations.Result{}, &operations.Error{Reason: operations.BadRequest,
					Problems: []operations.Problem{{Field: "container", Message: `container is required, e.g. {"container": "web", "image": "nginx:1.27"}`}}}
			}
			return operations.SetImages(ctx, client.AppsV1(), operations.ImageRequest{
				Kind: k, Namespace: ns, Name: name, ResourceVersion: body.ResourceVersion,
				Images: []operations.ContainerImage{{Container: body.Container, Image: body.Image}},
			})
		})
	}
}
