package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// record is what the ConfigMap keeps of one Deployment: the status last
// acted on, and the message of its transition while it is not yet known to
// have been delivered.
type record struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	UID       types.UID         `json:"uid"`
	Status    deployment.Status `json:"status"`
	Kind      Kind              `json:"kind,omitempty"`
	// Pending is set when the transition is claimed, before it is sent, and
	// cleared once it was delivered (or given up on): a leader that finds
	// it set resends Message.
	Pending bool      `json:"pending,omitempty"`
	Message *Message  `json:"message,omitempty"`
	Time    time.Time `json:"time"`
}

// store reads and writes the ConfigMap of records. Writes carry the
// resourceVersion last read, so two replicas that both believe they lead
// cannot both claim one transition: the second gets a Conflict, reads
// again and finds it claimed.
type store struct {
	client    corev1client.ConfigMapsGetter
	namespace string
	name      string

	exists bool
	rv     string
	data   map[string]record
}

// load reads the ConfigMap; a missing one is empty. Entries it cannot
// decode are dropped, so a hand-edited ConfigMap does not stop notifying.
func (s *store) load(ctx context.Context) error {
	cm, err := s.client.ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s.exists, s.rv, s.data = false, "", map[string]record{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s/%s: %w", s.namespace, s.name, err)
	}
	s.exists, s.rv, s.data = true, cm.ResourceVersion, map[string]record{}
	for k, v := range cm.Data {
		var r record
		if json.Unmarshal([]byte(v), &r) == nil {
			s.data[k] = r
		}
	}
	return nil
}

// save writes data in place of what was loaded; a Conflict means another
// replica wrote in between.
func (s *store) save(ctx context.Context, data map[string]record) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.name, Namespace: s.namespace, ResourceVersion: s.rv,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-deploywatch"},
		},
		Data: map[string]string{},
	}
	for k, r := range data {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		cm.Data[k] = string(b)
	}
	var out *corev1.ConfigMap
	var err error
	if s.exists {
		out, err = s.client.ConfigMaps(s.namespace).Update(ctx, cm, metav1.UpdateOptions{})
	} else {
		out, err = s.client.ConfigMaps(s.namespace).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = apierrors.NewConflict(corev1.Resource("configmaps"), s.name, err)
		}
	}
	if err != nil {
		return fmt.Errorf("writing ConfigMap %s/%s: %w", s.namespace, s.name, err)
	}
	s.exists, s.rv, s.data = true, out.ResourceVersion, maps.Clone(data)
	return nil
}

// recordKey names a Deployment in the ConfigMap: keys allow only
// [-._a-zA-Z0-9], and namespaces never contain '_'.
func recordKey(namespace, name string) string {
	k := namespace + "_" + name
	if len(k) > 253 {
		sum := sha256.Sum256([]byte(k))
		k = k[:253-17] + "-" + hex.EncodeToString(sum[:8])
	}
	return k
}
