package server

import "testing"

// TestContentTypeIsAMediaType: the media type is compared, not the text.
func TestContentTypeIsAMediaType(t *testing.T) {
	for _, ct := range []string{"APPLICATION/JSON", "application/json; charset=UTF-8", "Application/Json ; charset=\"utf-8\""} {
		f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
		serveScale(f.client)
		if resp, e := f.do(t, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, map[string]string{"Content-Type": ct}); resp.StatusCode != 200 {
			t.Errorf("Content-Type %q: %d %s", ct, resp.StatusCode, e.Message)
		}
	}
}
