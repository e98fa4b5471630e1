// Package release builds kubectl-deploywatch's release archives and the krew
// manifest that points at them, reproducibly: one commit always gives the
// same bytes. hack/dist drives it for `make dist`; the tests in test/release
// hold its output to krew's rules.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// BinaryName is the plugin's executable, as kubectl finds it on PATH.
const BinaryName = "kubectl-deploywatch"

// LicenseName is the license's name inside every archive; krew's index
// requires a license file among the installed files.
const LicenseName = "LICENSE"

// CompletionName is the executable kubectl (1.26 and later) runs from PATH
// to complete the plugin's arguments: kubectl_complete-<plugin>.
const CompletionName = "kubectl_complete-deploywatch"

// ChecksumsName is the file in the output directory that lists every
// archive's sha256, in sha256sum's format.
const ChecksumsName = "checksums.txt"

// Platform is one operating system and architecture a release is built for.
type Platform struct{ OS, Arch string }

// Platforms are the platforms of every release.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ShipsCompletion says whether the platform's archive holds CompletionName,
// a POSIX shell script: not on Windows, where kubectl would need a .cmd or
// .exe that no one has tested.
func (p Platform) ShipsCompletion() bool { return p.OS != "windows" }

// Binary is the executable's name on the platform.
func (p Platform) Binary() string {
	if p.OS == "windows" {
		return BinaryName + ".exe"
	}
	return BinaryName
}

// ArchiveName is the name of the platform's archive for version, as the
// release assets and the krew manifest's uris spell it.
func (p Platform) ArchiveName(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip" // what Windows users can open without extra tools
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", BinaryName, version, p.OS, p.Arch, ext)
}

// Artifact is one archive that Dist wrote.
type Artifact struct {
	Platform Platform
	Name     string // file name in the output directory
	SHA256   string // hex
}

// DistOptions says what Dist builds and where.
type DistOptions struct {
	ModuleDir  string     // the module's root, where `go build` runs
	Package    string     // the main package, "./cmd/kubectl-deploywatch" when empty
	OutDir     string     // receives the archives and checksums.txt
	Version    string     // in the archive names; stamp it into the binary with LDFlags
	LDFlags    string     // passed to go build -ldflags
	ModTime    time.Time  // every archive entry's mtime: the commit's date
	License    string     // path of the license file to ship
	Completion string     // path of the kubectl_complete-deploywatch script, shipped where ShipsCompletion
	Platforms  []Platform // Platforms when empty
	Parallel   int        // concurrent `go build`s; 1 when < 1
	Go         string     // the go command; "go" when empty
	Log        io.Writer  // progress; discarded when nil
	Env        []string   // the builds' environment; os.Environ() when nil
	build      buildFunc  // tests replace the compiler
}

type buildFunc func(ctx context.Context, o DistOptions, p Platform, out string) error

// Dist cross-compiles the plugin for every platform (CGO_ENABLED=0,
// -trimpath), packs each binary with the license into a reproducible archive
// in OutDir, and writes OutDir/checksums.txt. Archives of earlier versions
// left in OutDir are removed first, so checksums.txt lists exactly what is
// there.
func Dist(ctx context.Context, o DistOptions) ([]Artifact, error) {
	if err := CheckVersion(o.Version); err != nil {
		return nil, err
	}
	if o.ModTime.IsZero() {
		return nil, errors.New("no archive mtime: pass the commit's date (SOURCE_DATE_EPOCH) so that builds are reproducible")
	}
	if o.Package == "" {
		o.Package = "./cmd/kubectl-deploywatch"
	}
	if len(o.Platforms) == 0 {
		o.Platforms = Platforms
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.build == nil {
		o.build = goBuild
	}
	license, err := os.ReadFile(o.License)
	if err != nil {
		return nil, fmt.Errorf("read the license to ship: %w", err)
	}
	completion, err := os.ReadFile(o.Completion)
	if err != nil {
		return nil, fmt.Errorf("read the completion script to ship: %w", err)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	if err := removeOldArtifacts(o.OutDir); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "deploywatch-dist-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// Each `go build` already uses every core for compiling; a second one
	// at a time overlaps the single-threaded link steps.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	arts := make([]Artifact, len(o.Platforms))
	var (
		mu    sync.Mutex
		first error // the failure that cancelled the others, not their "killed"
	)
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, p := range o.Platforms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			a, err := distOne(ctx, o, p, tmp, license, completion)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", p, err)
				}
				mu.Unlock()
				cancel() // one failure fails the release: stop the others early
				return
			}
			arts[i] = a
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(arts, func(i, j int) bool { return arts[i].Name < arts[j].Name })
	var sums strings.Builder
	for _, a := range arts {
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, a.Name)
	}
	if err := os.WriteFile(filepath.Join(o.OutDir, ChecksumsName), []byte(sums.String()), 0o644); err != nil {
		return nil, err
	}
	return arts, nil
}

func distOne(ctx context.Context, o DistOptions, p Platform, tmp string, license, completion []byte) (Artifact, error) {
	start := time.Now()
	bin := filepath.Join(tmp, p.OS+"_"+p.Arch, p.Binary())
	if err := o.build(ctx, o, p, bin); err != nil {
		return Artifact{}, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return Artifact{}, err
	}
	files := []File{
		{Name: p.Binary(), Mode: 0o755, Data: data},
		{Name: LicenseName, Mode: 0o644, Data: license},
	}
	if p.ShipsCompletion() {
		files = append(files, File{Name: CompletionName, Mode: 0o755, Data: completion})
	}
	name := p.ArchiveName(o.Version)
	path := filepath.Join(o.OutDir, name)
	if err := WriteArchiveFile(path, files, o.ModTime); err != nil {
		return Artifact{}, err
	}
	sum, err := SHA256File(path)
	if err != nil {
		return Artifact{}, err
	}
	fmt.Fprintf(o.Log, "dist: %s (%s)\n", name, time.Since(start).Round(time.Second))
	return Artifact{Platform: p, Name: name, SHA256: sum}, nil
}

func goBuild(ctx context.Context, o DistOptions, p Platform, out string) error {
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	// -buildvcs=false: the commit is stamped by LDFlags already, and without
	// it a build from a source tarball, or with the builder's own GOFLAGS,
	// gives the same bytes as one from a clone.
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags", o.LDFlags, "-o", out, o.Package)
	cmd.Dir = o.ModuleDir
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	// Later entries win: a static binary for the target, whatever the
	// caller's environment says.
	cmd.Env = append(env[:len(env):len(env)], "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, b)
	}
	return nil
}

// removeOldArtifacts deletes the archives and checksums an earlier Dist left,
// and nothing else: OutDir might be a directory the user cares about.
func removeOldArtifacts(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		old := n == ChecksumsName ||
			strings.HasPrefix(n, BinaryName+"_") && (strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".zip"))
		if old && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// SHA256File returns the hex sha256 of the file's contents.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
