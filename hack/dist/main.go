// Command dist builds the release for `make dist`: reproducible archives of
// kubectl-deploywatch for every platform with checksums.txt, and the krew
// manifest rendered from krew-manifest.yaml with the archives' real sha256,
// checked against krew's rules before it is written; with -record, the
// release step, that manifest again headed by what rebuilds the archives.
// See internal/release.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/release"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dist: error: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	var (
		version  = flag.String("version", "", "the release's version, a semver tag with a leading v (required)")
		ldflags  = flag.String("ldflags", "", "go build -ldflags, which should stamp the same version")
		mtime    = flag.String("mtime", os.Getenv("SOURCE_DATE_EPOCH"), "the archive entries' mtime in Unix seconds: the commit's date (default $SOURCE_DATE_EPOCH)")
		out      = flag.String("out", "dist", "directory for the archives and checksums.txt")
		license  = flag.String("license", "LICENSE", "license file to ship in every archive")
		tmpl     = flag.String("template", "krew-manifest.yaml", "krew manifest template, in krew-release-bot's syntax")
		manifest = flag.String("manifest", "dist/deploywatch.yaml", "where to write the rendered krew manifest; empty to skip")
		complete = flag.String("completion", release.CompletionName, "the completion script kubectl runs, shipped in the Linux and macOS archives")
		record   = flag.String("record", "", "also write the manifest here, headed by the commit and Go version that rebuild the archives (the release step)")
		commit   = flag.String("commit", "", "with -record: the commit being built, 40 hex digits")
		parallel = flag.Int("parallel", 2, "concurrent go builds")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; dist takes only flags", flag.Args())
	}
	if *version == "" {
		return errors.New("-version is required, e.g. -version v0.1.0")
	}
	if *record != "" && *manifest == "" {
		return errors.New("-record needs -manifest: the recorded manifest is the rendered one")
	}
	var rec release.ReleaseRecord
	if *record != "" {
		goVersion, err := goEnvVersion()
		if err != nil {
			return err
		}
		rec = release.ReleaseRecord{Version: *version, Commit: *commit, GoVersion: goVersion}
		if err := rec.Check(); err != nil { // before minutes of building
			return fmt.Errorf("-record: %w", err)
		}
	}
	secs, err := strconv.ParseInt(*mtime, 10, 64)
	if err != nil {
		return fmt.Errorf("-mtime %q is not Unix seconds; pass the commit's date, e.g. -mtime $(git log -1 --format=%%ct): %w", *mtime, err)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	arts, err := release.Dist(ctx, release.DistOptions{
		ModuleDir:  root,
		OutDir:     *out,
		Version:    *version,
		LDFlags:    *ldflags,
		ModTime:    time.Unix(secs, 0).UTC(),
		License:    *license,
		Completion: *complete,
		Parallel:   *parallel,
		Go:         os.Getenv("GO"),
		Log:        os.Stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dist: %d archives and %s in %s (%s)\n", len(arts), release.ChecksumsName, *out, time.Since(start).Round(time.Second))
	if *manifest == "" {
		return nil
	}
	rendered, err := renderManifest(*tmpl, *manifest, *version, *out, arts)
	if err != nil || *record == "" {
		return err
	}
	data, err := release.RecordedManifest(rec, rendered)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*record, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dist: %s records %s as commit %s with %s\n", *record, rec.Version, rec.Commit, rec.GoVersion)
	return nil
}

// goEnvVersion is the Go version the builds use: that of $GO, which may
// differ from the one running this program.
func goEnvVersion() (string, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	out, err := exec.Command(goCmd, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("%s env GOVERSION: %w", goCmd, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// renderManifest renders the template for version, checks the result as
// krew's index would (every platform installs from the archive just built),
// and only then writes it.
func renderManifest(tmplPath, outPath, version, distDir string, arts []release.Artifact) ([]byte, error) {
	tmpl, err := os.ReadFile(tmplPath)
	if err != nil {
		return nil, err
	}
	rendered, _, err := release.RenderKrewTemplate(tmpl, version, release.ArchiveSHA256Of(arts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tmplPath, err)
	}
	name := strings.TrimSuffix(filepath.Base(outPath), ".yaml")
	used, err := release.CheckKrewManifest(name, rendered, distDir)
	if err != nil {
		return nil, fmt.Errorf("%s rendered for %s breaks krew's rules: %w", tmplPath, version, err)
	}
	for _, a := range arts {
		if n := count(used, a.Name); n != 1 {
			return nil, fmt.Errorf("%s names %s %d times; every archive needs exactly one platforms entry", tmplPath, a.Name, n)
		}
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(outPath, rendered, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "dist: %s for %s\n", outPath, version)
	return rendered, nil
}

func count(s []string, v string) int {
	n := 0
	for i := range s {
		if s[i] == v {
			n++
		}
	}
	return n
}
