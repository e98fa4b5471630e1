package release

import (
	"strings"
	"testing"
)

func TestRecordedManifestRoundTrip(t *testing.T) {
	r := ReleaseRecord{Version: "v0.1.0", Commit: strings.Repeat("0a", 20), GoVersion: "go1.26.8"}
	manifest := []byte("apiVersion: krew.googlecontainertools.github.com/v1alpha2\nkind: Plugin\n")
	data, err := RecordedManifest(r, manifest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeKrewPlugin(data); err != nil {
		t.Errorf("krew cannot read the recorded manifest: %v", err)
	}
	got, body, err := ParseRecordedManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != r || string(body) != string(manifest) {
		t.Errorf("parsed %+v and %q; want %+v and %q", got, body, r, manifest)
	}
}

func TestReleaseRecordRefuses(t *testing.T) {
	good := ReleaseRecord{Version: "v0.1.0", Commit: strings.Repeat("0a", 20), GoVersion: "go1.26.8"}
	for _, tc := range []struct {
		name string
		edit func(*ReleaseRecord)
		want string
	}{
		{"short commit", func(r *ReleaseRecord) { r.Commit = "0a0a0a0" }, "full commit id"},
		{"no version", func(r *ReleaseRecord) { r.Version = "0.1" }, "v"},
		{"no go version", func(r *ReleaseRecord) { r.GoVersion = "" }, "go env GOVERSION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			if _, err := RecordedManifest(r, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, data, want string }{
		{"no record", "apiVersion: x\n", "make release-manifest"},
		{"edited comment", strings.Replace(good.Header(), "test/release", "tests", 1) + "apiVersion: x\n", "three lines"},
		{"two versions", strings.Replace(good.Header(), "VERSION=v0.1.0", "VERSION=v0.2.0", 1), "make release-manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseRecordedManifest([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}
