// Command dist builds the release for `make dist`: reproducible archives of
// kubectl-deploywatch for every platform with checksums.txt, and the krew
// manifest rendered from krew-manifest.yaml with the archives' real sha256,
// checked against krew's rules before it is written. See internal/release.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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
		manifest = flag.String("manifest", "plugins/deploywatch.yaml", "where to write the rendered krew manifest; empty to skip")
		parallel = flag.Int("parallel", 2, "concurrent go builds")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; dist takes only flags", flag.Args())
	}
	if *version == "" {
		return errors.New("-version is required, e.g. -version v0.1.0")
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
		ModuleDir: root,
		OutDir:    *out,
		Version:   *version,
		LDFlags:   *ldflags,
		ModTime:   time.Unix(secs, 0).UTC(),
		License:   *license,
		Parallel:  *parallel,
		Go:        os.Getenv("GO"),
		Log:       os.Stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dist: %d archives and %s in %s (%s)\n", len(arts), release.ChecksumsName, *out, time.Since(start).Round(time.Second))
	if *manifest == "" {
		return nil
	}
	return renderManifest(*tmpl, *manifest, *version, *out, arts)
}

// renderManifest renders the template for version, checks the result as
// krew's index would (every platform installs from the archive just built),
// and only then writes it.
func renderManifest(tmplPath, outPath, version, distDir string, arts []release.Artifact) error {
	tmpl, err := os.ReadFile(tmplPath)
	if err != nil {
		return err
	}
	rendered, _, err := release.RenderKrewTemplate(tmpl, version, release.ArchiveSHA256Of(arts))
	if err != nil {
		return fmt.Errorf("%s: %w", tmplPath, err)
	}
	name := strings.TrimSuffix(filepath.Base(outPath), ".yaml")
	used, err := release.CheckKrewManifest(name, rendered, distDir)
	if err != nil {
		return fmt.Errorf("%s rendered for %s breaks krew's rules: %w", tmplPath, version, err)
	}
	for _, a := range arts {
		if n := count(used, a.Name); n != 1 {
			return fmt.Errorf("%s names %s %d times; every archive needs exactly one platforms entry", tmplPath, a.Name, n)
		}
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(outPath, rendered, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "dist: %s for %s\n", outPath, version)
	return nil
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
