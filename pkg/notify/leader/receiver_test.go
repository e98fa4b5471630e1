package leader

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

// receiver is a webhook that keeps every message posted to it, with the
// post's Idempotency-Key.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []webhook.Message
	keys []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m webhook.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		r.mu.Lock()
		r.got = append(r.got, m)
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) messages() []webhook.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Message(nil), r.got...)
}

func (r *receiver) idempotencyKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keys...)
}
