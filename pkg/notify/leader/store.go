package leader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

// Shards is how many ConfigMaps hold the records, <LeaseName>-state-0 to
// -15; a workload's record lives in the one its key hashes to. Each
// ConfigMap is limited to 1 MiB by the API server, and a batch rewrites
// only the shards it touches. Changing it moves records between shards, so
// it is fixed (deploy/base/notify-rbac.yaml names every shard).
const Shards = 16

// termAnnotation on a shard is the term of the last leader that wrote it.
const termAnnotation = "kubectl-deploywatch/notify-term"

// term identifies one leadership: the Lease object (its UID, which changes
// if the Lease is deleted and created again), its spec.leaseTransitions
// when this leader acquired it, and the holder. Within one Lease object a
// later leader has a larger Transitions.
type term struct {
	Lease       types.UID `json:"lease"`
	Transitions int32     `json:"transitions"`
	Holder      string    `json:"holder"`
}

func (t term) String() string { return strconv.Itoa(int(t.Transitions)) + "/" + t.Holder }

// olderThan is true when t is known to be an earlier leadership than u
// without asking the Lease: same Lease object, fewer transitions.
func (t term) olderThan(u term) bool {
	return t.Holder == "" || (t.Lease == u.Lease && t.Transitions < u.Transitions)
}

// record is what a shard keeps of one workload: what catch-up needs (the
// status last acted on, the UID to tell a new workload under an old name)
// and what fencing needs (the claim, while not known to be delivered).
type record struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// WorkloadKind is StatefulSet or DaemonSet; empty for a Deployment, so
	// that a Deployment's record reads as before other kinds.
	WorkloadKind string            `json:"workloadKind,omitempty"`
	UID          types.UID         `json:"uid"`
	Status       deployment.Status `json:"status"`
	// RV is the Deployment's resourceVersion when Status was recorded: an
	// observation older than it (a lagging watch) is no transition.
	RV   string       `json:"rv,omitempty"`
	Kind webhook.Kind `json:"kind,omitempty"`
	// Seq counts the messages claimed for this Deployment (Message.Seq).
	Seq int64 `json:"seq,omitempty"`
	// Pending are the claimed messages not known to be delivered: each is
	// added when its transition is claimed, before it is sent, and removed
	// once delivered (or given up on). A leader resends those it finds.
	Pending []webhook.Message `json:"pending,omitempty"`
}

// shard is one ConfigMap of records as last read or written.
type shard struct {
	loaded bool
	exists bool
	rv     string
	term   term
	data   map[string]record
}

// store reads and writes the shards. Writes carry the resourceVersion last
// read, so of two replicas that both believe they lead only one writes a
// given version of a shard: the other gets a Conflict and reads again.
type store struct {
	client    corev1client.ConfigMapsGetter
	namespace string
	base      string // the Lease's name
	shards    [Shards]shard
}

func (s *store) name(i int) string { return fmt.Sprintf("%s-state-%d", s.base, i) }

// load reads shard i; a missing one is empty. Entries it cannot decode are
// dropped, so a hand-edited ConfigMap does not stop notifying.
func (s *store) load(ctx context.Context, i int) error {
	sh := &s.shards[i]
	cm, err := s.client.ConfigMaps(s.namespace).Get(ctx, s.name(i), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		*sh = shard{loaded: true, data: map[string]record{}}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s/%s: %w", s.namespace, s.name(i), err)
	}
	*sh = shard{loaded: true, exists: true, rv: cm.ResourceVersion, data: map[string]record{}}
	_ = json.Unmarshal([]byte(cm.Annotations[termAnnotation]), &sh.term) // unreadable: no term, overwritten
	for k, v := range cm.Data {
		var r record
		if json.Unmarshal([]byte(v), &r) == nil {
			sh.data[k] = r
		}
	}
	return nil
}

// save writes data and t in place of what shard i held when read; a
// Conflict means another replica wrote in between.
func (s *store) save(ctx context.Context, i int, data map[string]record, t term) error {
	sh := &s.shards[i]
	tb, err := json.Marshal(t)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.name(i), Namespace: s.namespace, ResourceVersion: sh.rv,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "kubectl-deploywatch"},
			Annotations: map[string]string{termAnnotation: string(tb)},
		},
		Data: make(map[string]string, len(data)),
	}
	for k, r := range data {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		cm.Data[k] = string(b)
	}
	var out *corev1.ConfigMap
	if sh.exists {
		out, err = s.client.ConfigMaps(s.namespace).Update(ctx, cm, metav1.UpdateOptions{})
	} else {
		out, err = s.client.ConfigMaps(s.namespace).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = apierrors.NewConflict(corev1.Resource("configmaps"), cm.Name, err)
		}
	}
	if err != nil {
		return fmt.Errorf("writing ConfigMap %s/%s: %w", s.namespace, cm.Name, err)
	}
	*sh = shard{loaded: true, exists: true, rv: out.ResourceVersion, term: t, data: maps.Clone(data)}
	return nil
}

// recordKey names a workload of kind in its shard: keys allow only
// [-._a-zA-Z0-9], and neither namespaces nor names contain '_'. A
// Deployment's is "namespace_name", as before other kinds, so an upgrade
// finds its records; other kinds' have their short name between, e.g.
// "shop_sts_db", which no Deployment's key can be.
func recordKey(kind, namespace, name string) string {
	k := namespace + "_" + name
	if kind := kindOf(kind); kind != deployment.KindDeployment {
		k = namespace + "_" + deployment.ShortKind(kind) + "_" + name
	}
	if len(k) > 253 {
		sum := sha256.Sum256([]byte(k))
		k = k[:253-17] + "-" + hex.EncodeToString(sum[:8])
	}
	return k
}

// recordedKind is kind as a record keeps it: empty for a Deployment.
func recordedKind(kind string) string {
	if kind == deployment.KindDeployment {
		return ""
	}
	return kind
}

// shardOf is the shard that holds the record under key.
func shardOf(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % Shards)
}
