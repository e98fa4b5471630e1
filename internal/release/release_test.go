package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBuild stands in for go build: each platform's "binary" names it.
func fakeBuild(built *sync.Map) buildFunc {
	return func(_ context.Context, o DistOptions, p Platform, out string) error {
		built.Store(p, true)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, []byte("binary for "+p.String()+" "+o.LDFlags), 0o755)
	}
}

const completionScript = "#!/bin/sh\nexec kubectl-deploywatch __complete \"$@\"\n"

func distOptions(t *testing.T, out string, build buildFunc) DistOptions {
	t.Helper()
	license := filepath.Join(t.TempDir(), "LICENSE")
	if err := os.WriteFile(license, []byte("license"), 0o644); err != nil {
		t.Fatal(err)
	}
	completion := filepath.Join(t.TempDir(), CompletionName)
	if err := os.WriteFile(completion, []byte(completionScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return DistOptions{OutDir: out, Version: "v0.1.0", LDFlags: "-X v", ModTime: commitTime, License: license, Completion: completion, Parallel: 2, build: build}
}

func TestDist(t *testing.T) {
	out := t.TempDir()
	// What an earlier release left goes; what is not ours stays.
	for _, name := range []string{"kubectl-deploywatch_v0.0.9_linux_amd64.tar.gz", "checksums.txt", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(out, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var built sync.Map
	arts, err := Dist(context.Background(), distOptions(t, out, fakeBuild(&built)))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"checksums.txt",
		"kubectl-deploywatch_v0.1.0_darwin_amd64.tar.gz", "kubectl-deploywatch_v0.1.0_darwin_arm64.tar.gz",
		"kubectl-deploywatch_v0.1.0_linux_amd64.tar.gz", "kubectl-deploywatch_v0.1.0_linux_arm64.tar.gz",
		"kubectl-deploywatch_v0.1.0_windows_amd64.zip", "kubectl-deploywatch_v0.1.0_windows_arm64.zip",
		"notes.txt"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("%s holds\n%q\nwant\n%q", out, names, want)
	}

	var sums strings.Builder
	for _, a := range arts {
		sum, err := SHA256File(filepath.Join(out, a.Name))
		if err != nil {
			t.Fatal(err)
		}
		if sum != a.SHA256 {
			t.Errorf("%s: Dist says sha256 %s, the file has %s", a.Name, a.SHA256, sum)
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, a.Name)
		// Each archive holds its own platform's binary.
		data, _ := os.ReadFile(filepath.Join(out, a.Name))
		p := a.Platform
		pl := KrewPlatform{URI: "https://x/" + a.Name, Sha256: sum, Bin: p.Binary()} // files left out: krew installs everything
		install := filepath.Join(t.TempDir(), "install")
		if err := KrewInstall(pl, data, p.OS, install); err != nil {
			t.Errorf("%s: %v", a.Name, err)
		}
		// The completion script, executable, beside the binary on Linux
		// and macOS; nothing else on Windows.
		want := []string{LicenseName, p.Binary()}
		if p.ShipsCompletion() {
			want = append(want, CompletionName)
			fi, err := os.Stat(filepath.Join(install, CompletionName))
			if err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: %s installed as %v, %v; want mode 0755", a.Name, CompletionName, fi, err)
			} else if b, _ := os.ReadFile(filepath.Join(install, CompletionName)); string(b) != completionScript {
				t.Errorf("%s: %s holds %q; want the script given", a.Name, CompletionName, b)
			}
		}
		if got := listFiles(install); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s installs %q; want %q", a.Name, got, want)
		}
		if _, ok := built.Load(p); !ok {
			t.Errorf("%s: nothing was built for %s", a.Name, p)
		}
	}
	got, _ := os.ReadFile(filepath.Join(out, ChecksumsName))
	if string(got) != sums.String() {
		t.Errorf("checksums.txt:\n%s\nwant (sha256sum's format, sorted by name):\n%s", got, sums.String())
	}
}

func TestDistRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(o *DistOptions)
		want string
	}{
		{"a version krew refuses", func(o *DistOptions) { o.Version = "abc1234-dirty" }, "VERSION=v1.2.3"},
		{"no mtime", func(o *DistOptions) { o.ModTime = time.Time{} }, "SOURCE_DATE_EPOCH"},
		{"no license", func(o *DistOptions) { o.License = filepath.Join(t.TempDir(), "missing") }, "license"},
		{"no completion script", func(o *DistOptions) { o.Completion = filepath.Join(t.TempDir(), "missing") }, "completion script"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var built sync.Map
			o := distOptions(t, t.TempDir(), fakeBuild(&built))
			tc.edit(&o)
			_, err := Dist(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one mentioning %q", err, tc.want)
			}
			built.Range(func(k, _ any) bool { t.Errorf("built %v although the options are bad", k); return true })
		})
	}
}

func TestDistFailsWhenABuildFails(t *testing.T) {
	var built sync.Map
	fake := fakeBuild(&built)
	o := distOptions(t, t.TempDir(), func(ctx context.Context, o DistOptions, p Platform, out string) error {
		if p == (Platform{"darwin", "arm64"}) {
			return errors.New("compiler exploded")
		}
		return fake(ctx, o, p, out)
	})
	_, err := Dist(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "darwin/arm64: compiler exploded") {
		t.Fatalf("error %v; want one naming darwin/arm64 and the cause", err)
	}
	if _, err := os.Stat(filepath.Join(o.OutDir, ChecksumsName)); !os.IsNotExist(err) {
		t.Errorf("checksums.txt written although a build failed (stat: %v)", err)
	}
}
