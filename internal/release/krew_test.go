package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const goodManifest = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: deploywatch
spec:
  version: v0.1.0
  homepage: https://github.com/deploywatch/kubectl-deploywatch
  shortDescription: See and steer Deployments live
  description: |
    Shows the Deployments of a namespace live.
  caveats: |
    Needs RBAC.
  platforms:
  - selector:
      matchLabels:
        os: linux
        arch: amd64
    uri: https://example.com/v0.1.0/kubectl-deploywatch_v0.1.0_linux_amd64.tar.gz
    sha256: 0000000000000000000000000000000000000000000000000000000000000abc
    files:
    - from: kubectl-deploywatch
      to: .
    - from: LICENSE
      to: .
    bin: kubectl-deploywatch
  - selector:
      matchLabels:
        os: windows
        arch: amd64
    uri: https://example.com/v0.1.0/kubectl-deploywatch_v0.1.0_windows_amd64.zip
    sha256: 0000000000000000000000000000000000000000000000000000000000000def
    bin: kubectl-deploywatch.exe
`

func decodeGood(t *testing.T) KrewPlugin {
	t.Helper()
	p, err := DecodeKrewPlugin([]byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateKrewPlugin(t *testing.T) {
	if err := ValidateKrewPlugin("deploywatch", decodeGood(t)); err != nil {
		t.Fatalf("the good manifest: %v", err)
	}
	// Each case breaks one rule of krew's; the error must say which.
	for _, tc := range []struct {
		name   string
		plugin string // the file's name without .yaml
		edit   func(p *KrewPlugin)
		want   string
	}{
		{"apiVersion", "", func(p *KrewPlugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, "apiVersion"},
		{"kind", "", func(p *KrewPlugin) { p.Kind = "Tool" }, "kind"},
		{"unsafe file name", "deploy.watch", func(p *KrewPlugin) { p.Metadata.Name = "deploy.watch" }, "not allowed"},
		{"windows reserved name", "con", func(p *KrewPlugin) { p.Metadata.Name = "con" }, "not allowed"},
		{"name differs from file", "", func(p *KrewPlugin) { p.Metadata.Name = "watch" }, "metadata.name"},
		{"no short description", "", func(p *KrewPlugin) { p.Spec.ShortDescription = "" }, "shortDescription is empty"},
		{"short description on two lines", "", func(p *KrewPlugin) { p.Spec.ShortDescription = "a\nb" }, "line break"},
		{"short description too long", "", func(p *KrewPlugin) { p.Spec.ShortDescription = strings.Repeat("word ", 15) }, "longer than 70"},
		{"no description", "", func(p *KrewPlugin) { p.Spec.Description = " \n" }, "description is empty"},
		{"description line too long", "", func(p *KrewPlugin) { p.Spec.Description = strings.Repeat("word ", 17) }, "longer than 80"},
		{"caveats line too long", "", func(p *KrewPlugin) { p.Spec.Caveats = strings.Repeat("word ", 17) }, "caveats"},
		{"no version", "", func(p *KrewPlugin) { p.Spec.Version = "" }, "version is empty"},
		{"version without v", "", func(p *KrewPlugin) { p.Spec.Version = "0.1.0" }, "start with 'v'"},
		{"version not semver", "", func(p *KrewPlugin) { p.Spec.Version = "v0.1" }, "not a semantic version"},
		{"homepage not https", "", func(p *KrewPlugin) { p.Spec.Homepage = "http://github.com/x/y" }, "homepage"},
		{"no platforms", "", func(p *KrewPlugin) { p.Spec.Platforms = nil }, "platforms is empty"},
		{"no uri", "", func(p *KrewPlugin) { p.Spec.Platforms[0].URI = "" }, "uri is empty"},
		{"uri not https", "", func(p *KrewPlugin) { p.Spec.Platforms[0].URI = "http://example.com/a.tar.gz" }, "not an https URL"},
		{"uri not an archive", "", func(p *KrewPlugin) { p.Spec.Platforms[0].URI = "https://example.com/a.rpm" }, "neither a .zip nor a .tar.gz"},
		{"no sha256", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Sha256 = "" }, "sha256 is empty"},
		{"sha256 upper case", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Sha256 = strings.Repeat("A", 64) }, "64 lowercase hex"},
		{"sha256 short", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Sha256 = "abc" }, "64 lowercase hex"},
		{"no bin", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Bin = "" }, "bin is empty"},
		{"windows bin without .exe", "", func(p *KrewPlugin) { p.Spec.Platforms[1].Bin = "kubectl-deploywatch" }, ".exe"},
		{"empty files", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Files = []KrewFileOperation{} }, "files is an empty list"},
		{"files without to", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Files[0].To = "" }, "needs both from and to"},
		{"files to unclean", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Files[0].To = "./bin/" }, "not a clean path"},
		{"no selector", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Selector = nil }, "selector is missing"},
		{"empty selector", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Selector = &metav1.LabelSelector{} }, "selector is empty"},
		{"selector key", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Selector.MatchLabels["distro"] = "debian" }, `key "distro"`},
		{"selector for no krew platform", "", func(p *KrewPlugin) { p.Spec.Platforms[0].Selector.MatchLabels["arch"] = "riscv64" }, "matches no platform"},
		{"overlapping selectors", "", func(p *KrewPlugin) { delete(p.Spec.Platforms[1].Selector.MatchLabels, "os") }, "[0 1] all select linux/amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeGood(t)
			tc.edit(&p)
			name := tc.plugin
			if name == "" {
				name = "deploywatch"
			}
			err := ValidateKrewPlugin(name, p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecodeKrewPluginRefusesUnknownFields(t *testing.T) {
	_, err := DecodeKrewPlugin([]byte(strings.Replace(goodManifest, "shortDescription:", "shortDescripton:", 1)))
	if err == nil || !strings.Contains(err.Error(), "shortDescripton") {
		t.Fatalf("error %v; want one naming the misspelt field", err)
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"v0.1.0": true, "v1.2.3-rc.1": true, "v0.1.0-3-gabcdef1-dirty": true, "v1.0.0+build.5": true,
		"0.1.0": false, "v1.2": false, "abc1234-dirty": false, "": false, "v1.2.3.4": false,
	} {
		if err := CheckVersion(v); (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v; want ok=%v", v, err, ok)
		}
	}
}

// platformFor returns the manifest's platform entry for an archive, with
// the archive's real sha256.
func platformFor(t *testing.T, idx int, archive []byte) KrewPlatform {
	t.Helper()
	pl := decodeGood(t).Spec.Platforms[idx]
	sum := sha256.Sum256(archive)
	pl.Sha256 = hex.EncodeToString(sum[:])
	return pl
}

func archiveOf(t *testing.T, zipped bool, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	write := WriteTarGz
	if zipped {
		write = WriteZip
	}
	if err := write(&buf, files, commitTime); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckKrewInstall(t *testing.T) {
	bin := File{Name: "kubectl-deploywatch", Mode: 0o755, Data: []byte("bin")}
	exe := File{Name: "kubectl-deploywatch.exe", Mode: 0o755, Data: []byte("exe")}
	license := File{Name: "LICENSE", Mode: 0o644, Data: []byte("license")}

	good := archiveOf(t, false, bin, license)
	if err := CheckKrewInstall(platformFor(t, 0, good), good, "linux"); err != nil {
		t.Errorf("the good tar.gz: %v", err)
	}
	goodZip := archiveOf(t, true, exe, license)
	if err := CheckKrewInstall(platformFor(t, 1, goodZip), goodZip, "windows"); err != nil {
		t.Errorf("the good zip (files left out: krew copies everything): %v", err)
	}

	for _, tc := range []struct {
		name    string
		archive []byte
		edit    func(p *KrewPlatform)
		want    string
	}{
		{"wrong sha256", good, func(p *KrewPlatform) { p.Sha256 = strings.Repeat("0", 64) }, "sha256"},
		{"bin not in the archive", archiveOf(t, false, File{Name: "deploywatch", Mode: 0o755}, license), nil, "glob pattern=kubectl-deploywatch"},
		{"bin not where bin says", good, func(p *KrewPlatform) { p.Bin = "bin/kubectl-deploywatch" }, "not among the installed files"},
		{"bin outside the install dir", good, func(p *KrewPlatform) { p.Bin = "../kubectl-deploywatch" }, "outside"},
		{"bin not executable", archiveOf(t, false, File{Name: bin.Name, Mode: 0o644}, license), nil, "not executable"},
		{"no license", archiveOf(t, false, bin, File{Name: "LICENCE-ish", Mode: 0o644}), func(p *KrewPlatform) { p.Files = p.Files[:1] }, "no license file"},
		{"license not installed", good, func(p *KrewPlatform) { p.Files = p.Files[:1] }, "no license file"},
		{"not an archive", []byte("just text"), nil, "not an archive"},
		{"suspicious entry", archiveOf(t, false, bin, license, File{Name: "../evil", Mode: 0o644}), nil, "suspicious"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := platformFor(t, 0, tc.archive)
			if tc.edit != nil {
				tc.edit(&p)
			}
			err := CheckKrewInstall(p, tc.archive, "linux")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheckKrewManifest(t *testing.T) {
	dir := t.TempDir()
	linux := archiveOf(t, false, File{Name: "kubectl-deploywatch", Mode: 0o755, Data: []byte("bin")}, File{Name: "LICENSE", Mode: 0o644})
	win := archiveOf(t, true, File{Name: "kubectl-deploywatch.exe", Mode: 0o755, Data: []byte("exe")}, File{Name: "LICENSE", Mode: 0o644})
	manifest := goodManifest
	for name, data := range map[string][]byte{
		"kubectl-deploywatch_v0.1.0_linux_amd64.tar.gz": linux,
		"kubectl-deploywatch_v0.1.0_windows_amd64.zip":  win,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	manifest = strings.Replace(manifest, strings.Repeat("0", 61)+"abc", sum(linux), 1)
	manifest = strings.Replace(manifest, strings.Repeat("0", 61)+"def", sum(win), 1)

	names, err := CheckKrewManifest("deploywatch", []byte(manifest), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "kubectl-deploywatch_v0.1.0_linux_amd64.tar.gz" || names[1] != "kubectl-deploywatch_v0.1.0_windows_amd64.zip" {
		t.Errorf("archives %q; want the linux one, then the windows one", names)
	}

	if err := os.Remove(filepath.Join(dir, "kubectl-deploywatch_v0.1.0_windows_amd64.zip")); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckKrewManifest("deploywatch", []byte(manifest), dir); err == nil || !strings.Contains(err.Error(), "was not built") {
		t.Errorf("with an archive missing: error %v; want one saying it was not built", err)
	}
}
