package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRenderKrewTemplateLikeKrewReleaseBot renders a template the way
// krew-release-bot's own test does (pkg/source/template_test.go: tag v0.0.2,
// every download answering "my-plugin-binary"), and expects the same text
// the bot would produce.
func TestRenderKrewTemplateLikeKrewReleaseBot(t *testing.T) {
	tmpl := `spec:
  version: {{ .TagName }}
  platforms:
  - selector:
      matchLabels:
        os: darwin
        arch: amd64
    {{addURIAndSha "https://github.com/o/kubectl-x/releases/download/{{ .TagName }}/kubectl-x_{{ .Version }}_darwin_amd64.tar.gz" .TagName }}
    bin: kubectl-x
`
	want := `spec:
  version: v0.0.2
  platforms:
  - selector:
      matchLabels:
        os: darwin
        arch: amd64
    uri: https://github.com/o/kubectl-x/releases/download/v0.0.2/kubectl-x_0.0.2_darwin_amd64.tar.gz
    sha256: d9336538c1469e9ced64c5ee3f9c1bf7b7ef80ccc656c73bc244de35dfbf69d4
    bin: kubectl-x
`
	var asked []string
	out, uris, err := RenderKrewTemplate([]byte(tmpl), "v0.0.2", func(uri string) (string, error) {
		asked = append(asked, uri)
		sum := sha256.Sum256([]byte("my-plugin-binary"))
		return hex.EncodeToString(sum[:]), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", out, want)
	}
	wantURI := "https://github.com/o/kubectl-x/releases/download/v0.0.2/kubectl-x_0.0.2_darwin_amd64.tar.gz"
	if !slices.Equal(uris, []string{wantURI}) || !slices.Equal(asked, uris) {
		t.Errorf("uris %q, asked for %q; want [%s]", uris, asked, wantURI)
	}
}

func TestRenderKrewTemplateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl, want string
		sha              func(string) (string, error)
	}{
		{"unknown archive", `{{ addURIAndSha "https://h/{{ .TagName }}/a.zip" .TagName }}`, "did not make",
			ArchiveSHA256Of([]Artifact{{Name: "b.zip", SHA256: "x"}})},
		{"unknown field", `{{ .Tag }}`, "Tag", nil},
		{"unknown field in a uri", `{{ addURIAndSha "https://h/{{ .Tag }}" .TagName }}`, "Tag", nil},
		{"not a template", `{{ .TagName `, "parse", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sha := tc.sha
			if sha == nil {
				sha = func(string) (string, error) { return "", errors.New("not asked") }
			}
			_, _, err := RenderKrewTemplate([]byte(tc.tmpl), "v1.0.0", sha)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestTheRepositorysTemplate renders krew-manifest.yaml with made-up sums
// and holds it to krew's rules: one platforms entry per archive that Dist
// builds, no archive named twice, nothing else.
func TestTheRepositorysTemplate(t *testing.T) {
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "krew-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var arts []Artifact
	for _, p := range Platforms {
		sum := sha256.Sum256([]byte(p.String()))
		arts = append(arts, Artifact{Platform: p, Name: p.ArchiveName("v1.2.3"), SHA256: hex.EncodeToString(sum[:])})
	}
	out, uris, err := RenderKrewTemplate(tmpl, "v1.2.3", ArchiveSHA256Of(arts))
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodeKrewPlugin(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := ValidateKrewPlugin("deploywatch", p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if p.Spec.Version != "v1.2.3" || len(p.Spec.Platforms) != len(Platforms) || len(uris) != len(Platforms) {
		t.Fatalf("version %q with %d platforms and %d uris; want v1.2.3 and %d", p.Spec.Version, len(p.Spec.Platforms), len(uris), len(Platforms))
	}
	for i, a := range arts {
		var found []int
		for j, pl := range p.Spec.Platforms {
			if strings.HasSuffix(pl.URI, "/v1.2.3/"+a.Name) {
				found = append(found, j)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s is the uri of platforms %v; want exactly one", a.Name, found)
			continue
		}
		pl := p.Spec.Platforms[found[0]]
		if pl.Sha256 != a.SHA256 || !pl.Matches(a.Platform.OS, a.Platform.Arch) || pl.Bin != Platforms[i].Binary() {
			t.Errorf("%s: sha256 %s, selector %v, bin %q; want %s, selecting %s, %q", a.Name, pl.Sha256, pl.Selector, pl.Bin, a.SHA256, a.Platform, Platforms[i].Binary())
		}
	}
}
