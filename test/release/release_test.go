// Package release tests what users install: `make dist`'s archives, their
// checksums and the krew manifest rendered for them, built from a clean
// clone of HEAD as a release is; and that -ldflags stamps the version a
// binary prints. No cluster is needed.
//
// The first cross-compilation of the six platforms takes several minutes on
// two cores (later ones find Go's build cache): run with -timeout 30m.
package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rel "github.com/deploywatch/kubectl-deploywatch/internal/release"
	"github.com/deploywatch/kubectl-deploywatch/pkg/version"
)

const (
	versionPkg = "github.com/deploywatch/kubectl-deploywatch/pkg/version"
	pluginName = "deploywatch"
	// releases is where krew-release-bot and users download the archives.
	releases = "https://github.com/deploywatch/kubectl-deploywatch/releases/download/"
)

// moduleRoot is the checkout the tests run in.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod two levels above the test: %v", err)
	}
	return root
}

// command runs name in dir and returns its standard output; the test fails
// with its standard error when it fails.
func command(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestVersionIsStampedByLdflags builds the plugin as the Makefile does,
// with made-up values stamped by -ldflags -X, and reads them back from
// `version` and `version -o json`.
func TestVersionIsStampedByLdflags(t *testing.T) {
	const (
		v      = "v9.8.7-rc.1"
		commit = "0123456789abcdef0123456789abcdef01234567"
		date   = "2001-02-03T04:05:06Z"
	)
	bin := filepath.Join(t.TempDir(), "kubectl-deploywatch")
	ldflags := fmt.Sprintf("-X %[1]s.Version=%[2]s -X %[1]s.Commit=%[3]s -X %[1]s.Date=%[4]s", versionPkg, v, commit, date)
	command(t, moduleRoot(t), nil, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/kubectl-deploywatch")

	text := command(t, "", nil, bin, "version")
	want := fmt.Sprintf("kubectl-deploywatch %s (commit %s, built %s, %s, %s/%s)\n", v, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if text != want {
		t.Errorf("version printed\n%q\nwant\n%q", text, want)
	}

	var info version.Info
	out := command(t, "", nil, bin, "version", "-o", "json")
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("version -o json printed %q: %v", out, err)
	}
	wantInfo := version.Info{Version: v, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != wantInfo {
		t.Errorf("version -o json gave %+v; want %+v", info, wantInfo)
	}
}

// build is one `make dist` from a fresh clone.
type build struct {
	src      string    // the clone
	out      string    // DIST_DIR: archives, checksums.txt and the manifest
	manifest string    // the rendered manifest, out/deploywatch.yaml
	commit   string    // the commit built
	date     time.Time // the commit's date
}

// distSpec says what a build is of and how it is made.
type distSpec struct {
	commit string   // what to build; "" for the commit HEAD was at when the first build started
	vars   []string // make variables, e.g. VERSION=v0.1.0
	env    []string // more environment, e.g. GOTOOLCHAIN=go1.26.8
	inTree bool     // leave DIST_DIR to its default, dist/ in the clone
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
	specs    = map[string]distSpec{
		"a": {},
		"b": {inTree: true},
	}
)

// distBuild returns the dist built under name (see specs), building it the
// first time. A clean clone is what a release is built from, and others'
// uncommitted work in this checkout neither breaks nor changes it. Every
// build of HEAD is of the commit the first one found there, however HEAD
// moves while the tests run.
func distBuild(t *testing.T, name string) *build {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if b, ok := builds[name]; ok {
		if b == nil {
			t.Fatalf("dist %s failed to build in an earlier test", name)
		}
		return b
	}
	spec := specs[name]
	builds[name] = nil
	dir, err := os.MkdirTemp("", "deploywatch-release-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	// Deleted when the package's tests end, not this test's.
	dirs = append(dirs, dir)
	b := &build{src: filepath.Join(dir, "src"), out: filepath.Join(dir, "dist")}
	if spec.inTree {
		b.out = filepath.Join(b.src, "dist")
	}
	b.manifest = filepath.Join(b.out, pluginName+".yaml")
	command(t, "", nil, "git", "clone", "-q", moduleRoot(t), b.src)
	if distCommit == "" {
		distCommit = strings.TrimSpace(command(t, b.src, nil, "git", "rev-parse", "HEAD"))
	}
	b.commit = distCommit
	if spec.commit != "" {
		b.commit = spec.commit
	}
	command(t, b.src, nil, "git", "checkout", "-q", "--detach", b.commit)
	secs, err := strconv.ParseInt(strings.TrimSpace(command(t, b.src, nil, "git", "log", "-1", "--format=%ct")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	b.date = time.Unix(secs, 0).UTC()

	// Only this make's own variables: none inherited from a `make test`
	// that runs these tests.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VERSION", "COMMIT", "DATE", "SOURCE_DATE_EPOCH", "DIST_DIR", "PLUGIN_MANIFEST", "RELEASE_RECORD":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, spec.env...) // later entries win
	args := append([]string{"--no-print-directory", "dist"}, spec.vars...)
	if !spec.inTree {
		args = append(args, "DIST_DIR="+b.out)
	}
	start := time.Now()
	command(t, b.src, env, "make", args...)
	t.Logf("make %s (%s) took %v", strings.Join(args[1:], " "), name, time.Since(start).Round(time.Second))
	builds[name] = b
	return b
}

var (
	distCommit string   // what every distBuild builds
	dirs       []string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// checksums parses checksums.txt, checking sha256sum's format on the way.
func (b *build) checksums(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.out, rel.ChecksumsName))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || strings.ContainsAny(name, "/ ") {
			t.Fatalf("checksums.txt line %q is not \"<sha256>  <file>\"", line)
		}
		sums[name] = sum
	}
	return sums
}

func (b *build) plugin(t *testing.T) rel.KrewPlugin {
	t.Helper()
	data, err := os.ReadFile(b.manifest)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rel.DecodeKrewPlugin(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDistIsReproducible builds the release twice, from two clones at
// different paths, and expects the same bytes: archives, checksums.txt and
// manifest.
func TestDistIsReproducible(t *testing.T) {
	a, b := distBuild(t, "a"), distBuild(t, "b")
	if a.commit != b.commit || a.src == b.src {
		t.Fatalf("builds of %s in %s and %s in %s: want one commit in two clones", a.commit, a.src, b.commit, b.src)
	}
	sa, sb := a.checksums(t), b.checksums(t)
	if len(sa) != len(rel.Platforms) {
		t.Fatalf("checksums.txt lists %d archives; want %d", len(sa), len(rel.Platforms))
	}
	for name, sum := range sa {
		if sb[name] != sum {
			t.Errorf("%s: sha256 %s in one build, %s in the other", name, sum, sb[name])
		}
		for _, bb := range []*build{a, b} {
			if got := fileSHA256(t, filepath.Join(bb.out, name)); got != sum {
				t.Errorf("%s in %s: sha256 %s; checksums.txt says %s", name, bb.out, got, sum)
			}
		}
	}
	ma, _ := os.ReadFile(a.manifest)
	mb, _ := os.ReadFile(b.manifest)
	if !bytes.Equal(ma, mb) {
		t.Errorf("the two builds rendered different manifests:\n%s\n---\n%s", ma, mb)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// entry is one file read back from an archive.
type entry struct {
	mode     os.FileMode
	mtime    time.Time
	uid, gid int
	data     []byte
}

func readArchive(t *testing.T, path string) (names []string, entries map[string]entry) {
	t.Helper()
	entries = map[string]entry{}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, f.Name)
			entries[f.Name] = entry{mode: f.Mode(), mtime: f.Modified, data: body}
		}
		return names, entries
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("%s: gzip header holds mtime %v and name %q; want neither", path, gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, entries
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		mode := os.FileMode(h.Mode).Perm()
		if h.Typeflag != tar.TypeReg {
			mode |= os.ModeIrregular
		}
		entries[h.Name] = entry{mode: mode, mtime: h.ModTime, uid: h.Uid, gid: h.Gid, data: body}
	}
}

// TestDistArchives opens every archive: exactly the platform's binary,
// LICENSE and, off Windows, kubectl_complete-deploywatch, sorted, owned by 0/0, with the commit's date; a static binary
// for that very platform, stamped with the release's version and commit.
func TestDistArchives(t *testing.T) {
	b := distBuild(t, "a")
	version := b.plugin(t).Spec.Version
	license, err := os.ReadFile(filepath.Join(b.src, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	completion, err := os.ReadFile(filepath.Join(b.src, rel.CompletionName))
	if err != nil {
		t.Fatal(err)
	}
	sums := b.checksums(t)
	for _, p := range rel.Platforms {
		name := p.ArchiveName(version)
		t.Run(p.OS+"_"+p.Arch, func(t *testing.T) {
			if _, ok := sums[name]; !ok {
				t.Errorf("checksums.txt does not list %s", name)
			}
			names, entries := readArchive(t, filepath.Join(b.out, name))
			want := []string{"LICENSE", p.Binary()}
			if p.ShipsCompletion() {
				want = append(want, rel.CompletionName)
			}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("%s holds %q; want %q", name, names, want)
			}
			for n, e := range entries {
				if !e.mtime.Equal(b.date) || e.uid != 0 || e.gid != 0 {
					t.Errorf("%s: mtime %v, owner %d/%d; want the commit's date %v and 0/0", n, e.mtime, e.uid, e.gid, b.date)
				}
			}
			if e := entries["LICENSE"]; e.mode != 0o644 || !bytes.Equal(e.data, license) {
				t.Errorf("LICENSE: mode %v, %d bytes; want 0644 and the repository's LICENSE", e.mode, len(e.data))
			}
			if e, ok := entries[rel.CompletionName]; ok && (e.mode != 0o755 || !bytes.Equal(e.data, completion)) {
				t.Errorf("%s: mode %v, %d bytes; want 0755 and the repository's script", rel.CompletionName, e.mode, len(e.data))
			}
			bin := entries[p.Binary()]
			if bin.mode != 0o755 {
				t.Errorf("%s: mode %v; want 0755", p.Binary(), bin.mode)
			}
			checkBinary(t, p, bin.data, version, b.commit)
		})
	}
}

// checkBinary checks that data is an executable for p, built as `make dist`
// promises, and stamped with the version and commit.
func checkBinary(t *testing.T, p rel.Platform, data []byte, version, commit string) {
	t.Helper()
	r := bytes.NewReader(data)
	var machine string
	switch p.OS {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Fatalf("not an ELF executable: %v", err)
		}
		machine = map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Fatalf("not a Mach-O executable: %v", err)
		}
		machine = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Fatalf("not a PE executable: %v", err)
		}
		machine = map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
	}
	if machine != p.Arch {
		t.Errorf("the executable is for %q; want %s", machine, p.Arch)
	}
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("no Go build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"GOOS": p.OS, "GOARCH": p.Arch, "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("built with %s=%q; want %q", k, settings[k], want)
		}
	}
	if info.Path != "github.com/deploywatch/kubectl-deploywatch/cmd/kubectl-deploywatch" {
		t.Errorf("main package %s; want cmd/kubectl-deploywatch", info.Path)
	}
	// -X puts the strings in the binary's data.
	for _, s := range []string{version, commit} {
		if !bytes.Contains(data, []byte(s)) {
			t.Errorf("%q is not stamped into the binary", s)
		}
	}
}

// TestDistBinaryPrintsItsRelease runs the archive's binary for this machine:
// `version -o json` says the manifest's version, the commit built and the
// commit's date.
func TestDistBinaryPrintsItsRelease(t *testing.T) {
	host := rel.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	b := distBuild(t, "a")
	version := b.plugin(t).Spec.Version
	_, entries := readArchive(t, filepath.Join(b.out, host.ArchiveName(version)))
	bin := filepath.Join(t.TempDir(), host.Binary())
	if err := os.WriteFile(bin, entries[host.Binary()].data, 0o755); err != nil {
		t.Fatal(err)
	}
	var info struct{ Version, Commit, Date string }
	if err := json.Unmarshal([]byte(command(t, "", nil, bin, "version", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	want := struct{ Version, Commit, Date string }{version, b.commit, b.date.Format(time.RFC3339)}
	if info != want {
		t.Errorf("the released binary says %+v; want %+v", info, want)
	}
	if err := rel.CheckVersion(info.Version); err != nil {
		t.Error(err)
	}
}

// TestKrewManifestFromDist holds the manifest `make dist` rendered to krew's
// rules (internal/release restates them, citing krew's sources) and installs
// each platform entry from its archive as krew would; every archive in
// checksums.txt has exactly one entry, whose uri is its release download and
// whose sha256 is its checksum.
func TestKrewManifestFromDist(t *testing.T) {
	b := distBuild(t, "a")
	data, err := os.ReadFile(b.manifest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rel.CheckKrewManifest(pluginName, data, b.out); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	p := b.plugin(t)
	// krew-release-bot takes the plugin's owner from its homepage.
	if !strings.HasPrefix(p.Spec.Homepage, "https://github.com/deploywatch/") {
		t.Errorf("homepage %q is not in the deploywatch GitHub organisation", p.Spec.Homepage)
	}
	sums := b.checksums(t)
	for name, sum := range sums {
		var found []rel.KrewPlatform
		for _, pl := range p.Spec.Platforms {
			if filepath.Base(pl.URI) == name {
				found = append(found, pl)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s is named by %d platform entries; want 1", name, len(found))
			continue
		}
		pl := found[0]
		if want := releases + p.Spec.Version + "/" + name; pl.URI != want {
			t.Errorf("uri %s; want %s", pl.URI, want)
		}
		if pl.Sha256 != sum {
			t.Errorf("%s: sha256 %s in the manifest, %s in checksums.txt", name, pl.Sha256, sum)
		}
	}
	if len(p.Spec.Platforms) != len(sums) {
		t.Errorf("%d platform entries for %d archives", len(p.Spec.Platforms), len(sums))
	}
	for _, pf := range rel.Platforms {
		n := 0
		for _, pl := range p.Spec.Platforms {
			if pl.Matches(pf.OS, pf.Arch) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is selected by %d platform entries; want 1", pf, n)
		}
	}
}

// TestCommittedKrewManifest checks plugins/deploywatch.yaml in this
// checkout without building anything: it records the release it describes
// (version, commit, Go), follows krew's rules, and is krew-manifest.yaml as
// of that commit rendered for its version and sums, so neither was edited by
// hand. TestPluginsManifestBuildsAgain builds the archives it names.
func TestCommittedKrewManifest(t *testing.T) {
	root := moduleRoot(t)
	committed, err := os.ReadFile(filepath.Join(root, "plugins", pluginName+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, body, err := rel.ParseRecordedManifest(committed)
	if err != nil {
		t.Fatalf("plugins/%s.yaml: %v", pluginName, err)
	}
	p, err := rel.DecodeKrewPlugin(committed)
	if err != nil {
		t.Fatal(err)
	}
	if err := rel.ValidateKrewPlugin(pluginName, p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Version != rec.Version {
		t.Errorf("the record says %s, the manifest %s", rec.Version, p.Spec.Version)
	}
	tmpl := command(t, root, nil, "git", "show", rec.Commit+":krew-manifest.yaml")
	rendered, _, err := rel.RenderKrewTemplate([]byte(tmpl), p.Spec.Version, func(uri string) (string, error) {
		for _, pl := range p.Spec.Platforms {
			if pl.URI == uri {
				return pl.Sha256, nil
			}
		}
		return "", fmt.Errorf("plugins/%s.yaml has no platform with uri %s", pluginName, uri)
	})
	if err != nil {
		t.Fatalf("%v; run make release-manifest to write plugins/%s.yaml again", err, pluginName)
	}
	if !bytes.Equal(rendered, body) {
		t.Errorf("plugins/%s.yaml is not krew-manifest.yaml of %s rendered for %s; run make release-manifest to write it again", pluginName, rec.Commit, p.Spec.Version)
	}
}

// recordedRelease registers the build of the release plugins/deploywatch.yaml
// records, as `make dist VERSION=...` at its commit with its Go (Go fetches
// that toolchain when it is not the one here), and returns the record and
// the file.
func recordedRelease(t *testing.T) (rel.ReleaseRecord, []byte) {
	t.Helper()
	committed, err := os.ReadFile(filepath.Join(moduleRoot(t), "plugins", pluginName+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := rel.ParseRecordedManifest(committed)
	if err != nil {
		t.Fatalf("plugins/%s.yaml: %v", pluginName, err)
	}
	buildsMu.Lock()
	specs["release"] = distSpec{commit: rec.Commit, vars: []string{"VERSION=" + rec.Version}, env: []string{"GOTOOLCHAIN=" + rec.GoVersion}}
	buildsMu.Unlock()
	return rec, committed
}

// TestPluginsManifestBuildsAgain is what makes plugins/deploywatch.yaml
// installable: `make dist` at the commit it records, from a clean clone,
// gives archives whose sha256s are the manifest's, and the very manifest,
// byte for byte; krew installs every platform from those archives.
func TestPluginsManifestBuildsAgain(t *testing.T) {
	rec, committed := recordedRelease(t)
	b := distBuild(t, "release")
	built, err := os.ReadFile(b.manifest)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := rel.ParseRecordedManifest(committed)
	if !bytes.Equal(built, body) {
		t.Errorf("make dist VERSION=%s at %s with %s rendered\n%s\nplugins/%s.yaml holds\n%s", rec.Version, rec.Commit, rec.GoVersion, built, pluginName, body)
	}
	if _, err := rel.CheckKrewManifest(pluginName, committed, b.out); err != nil {
		t.Errorf("plugins/%s.yaml does not install from the archives built again: %v", pluginName, err)
	}
}

// TestDistLeavesTheTreeClean: `make dist` writes into dist/ (which git
// ignores) and rewrites no tracked file, plugins/ included.
func TestDistLeavesTheTreeClean(t *testing.T) {
	b := distBuild(t, "b")
	if _, err := os.Stat(filepath.Join(b.src, "dist", pluginName+".yaml")); err != nil {
		t.Errorf("make dist wrote no dist/%s.yaml: %v", pluginName, err)
	}
	if st := command(t, b.src, nil, "git", "status", "--porcelain"); st != "" {
		t.Errorf("make dist left the tree changed:\n%s", st)
	}
}

// hostEnv is the environment for a command that must find dir's programs
// first on PATH and no cluster.
func hostEnv(t *testing.T, dir string) []string {
	env := []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"KUBECONFIG=" + filepath.Join(t.TempDir(), "no-kubeconfig"), "HOME=" + t.TempDir()}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "PATH" && k != "KUBECONFIG" && k != "HOME" {
			env = append(env, kv)
		}
	}
	return env
}

// checkKubectlCompletes runs kubectl's own completion of `kubectl
// deploywatch <TAB>` with env and expects the plugin's subcommands.
func checkKubectlCompletes(t *testing.T, env []string) {
	t.Helper()
	out := command(t, "", env, "kubectl", "__complete", "deploywatch", "")
	var got []string
	for _, l := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(l, "\t")
		got = append(got, name)
	}
	for _, want := range []string{"scale", "set-image", "watch", "serve", ":4"} {
		if !slices.Contains(got, want) {
			t.Errorf("kubectl __complete deploywatch '' printed %q; want %s among the lines", got, want)
		}
	}
}

// TestKrewInstallCompletes installs this machine's platform entry as krew
// would (into KREW_ROOT/store/deploywatch/VERSION, the plugin linked into
// KREW_ROOT/bin), runs the manifest's caveats' commands for completion as a
// user pastes them, and then kubectl completes the plugin's arguments.
func TestKrewInstallCompletes(t *testing.T) {
	host := rel.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if !host.ShipsCompletion() {
		t.Skipf("no completion script is shipped for %s", host)
	}
	b := distBuild(t, "a")
	p := b.plugin(t)
	var entry *rel.KrewPlatform
	for i := range p.Spec.Platforms {
		if p.Spec.Platforms[i].Matches(host.OS, host.Arch) {
			entry = &p.Spec.Platforms[i]
		}
	}
	if entry == nil {
		t.Fatalf("no platform entry for %s", host)
	}
	archive, err := os.ReadFile(filepath.Join(b.out, host.ArchiveName(p.Spec.Version)))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	store := filepath.Join(root, "store", pluginName, p.Spec.Version)
	if err := os.MkdirAll(filepath.Dir(store), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rel.KrewInstall(*entry, archive, host.OS, store); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(store, entry.Bin), filepath.Join(bin, "kubectl-"+pluginName)); err != nil {
		t.Fatal(err)
	}

	var script []string
	for _, l := range strings.Split(p.Spec.Caveats, "\n") {
		if l := strings.TrimSpace(l); strings.HasPrefix(l, "k=") || strings.HasPrefix(l, "cp ") {
			script = append(script, l)
		}
	}
	if len(script) != 2 {
		t.Fatalf("the caveats hold %q; want the two lines that copy %s", script, rel.CompletionName)
	}
	env := append(hostEnv(t, bin), "KREW_ROOT="+root)
	command(t, "", env, "sh", "-eu", "-c", strings.Join(script, "\n"))
	checkKubectlCompletes(t, env)
}

// TestMakeInstall is the README's first install route: `make install` from
// a clone puts the plugin, stamped with the clone's commit, and its
// completion script in BINDIR; kubectl then runs the one and completes the
// other.
func TestMakeInstall(t *testing.T) {
	b := distBuild(t, "a")
	bin := t.TempDir()
	command(t, b.src, nil, "make", "--no-print-directory", "install", "BINDIR="+bin)
	for _, name := range []string{rel.BinaryName, rel.CompletionName} {
		if fi, err := os.Stat(filepath.Join(bin, name)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("make install: %s is %v, %v; want it with mode 0755", name, fi, err)
		}
	}
	env := hostEnv(t, bin)
	var info struct{ Commit string }
	if err := json.Unmarshal([]byte(command(t, "", env, "kubectl", pluginName, "version", "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Commit != b.commit {
		t.Errorf("kubectl %s version says commit %q; want the clone's %s", pluginName, info.Commit, b.commit)
	}
	checkKubectlCompletes(t, env)
}
