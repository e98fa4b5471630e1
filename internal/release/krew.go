package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// sigs.k8s.io/krew cannot be fetched from the module proxy here, so its
// rules are restated below, each with where it comes from in krew's own
// repository (github.com/kubernetes-sigs/krew):
//
//   - validation.go: internal/index/validation/validate.go, ValidatePlugin,
//     validatePlatform, validateFiles and validateSelector, which every krew
//     install and the krew-index CI run;
//   - validate-krew-manifest: cmd/validate-krew-manifest/main.go, the
//     krew-index CI's check of a submitted manifest (supported platforms, no
//     overlapping selectors, line lengths, a real install per platform, a
//     license file among the installed files);
//   - install: internal/installation/install.go and move.go and
//     internal/download/downloader.go, what `kubectl krew install` does with
//     an archive;
//   - docs: site/content/docs/developer-guide/plugin-manifest.md and
//     release/submitting-to-krew.md.

// KrewAPIVersion and KrewKind are the only ones krew accepts
// (pkg/constants: CurrentAPIVersion, PluginKind).
const (
	KrewAPIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	KrewKind       = "Plugin"
)

// KrewPlugin is a krew plugin manifest (krew's pkg/index/types.go).
type KrewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string         `json:"version"`
		Homepage         string         `json:"homepage"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description"`
		Caveats          string         `json:"caveats"`
		Platforms        []KrewPlatform `json:"platforms"`
	} `json:"spec"`
}

// KrewPlatform is one platforms entry of a manifest.
type KrewPlatform struct {
	Selector *metav1.LabelSelector `json:"selector"`
	URI      string                `json:"uri"`
	Sha256   string                `json:"sha256"`
	Files    []KrewFileOperation   `json:"files"`
	Bin      string                `json:"bin"`
}

// KrewFileOperation copies files from the archive into the install dir.
type KrewFileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DecodeKrewPlugin decodes a manifest. Unlike krew, which ignores unknown
// fields so that old krews read new manifests, it refuses them: here an
// unknown field can only be a typo.
func DecodeKrewPlugin(data []byte) (KrewPlugin, error) {
	var p KrewPlugin
	js, err := yaml.ToJSON(data)
	if err != nil {
		return p, fmt.Errorf("krew manifest is not YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("krew manifest: %w", err)
	}
	return p, nil
}

// KrewOSArch is a platform krew is released for and can install plugins on.
type KrewOSArch struct{ OS, Arch string }

// KrewPlatforms are the platforms krew supports (validate-krew-manifest:
// allPlatforms).
var KrewPlatforms = []KrewOSArch{
	{"windows", "386"}, {"windows", "amd64"}, {"windows", "arm64"},
	{"linux", "386"}, {"linux", "amd64"}, {"linux", "arm"}, {"linux", "arm64"}, {"linux", "ppc64le"},
	{"darwin", "386"}, {"darwin", "amd64"}, {"darwin", "arm64"},
}

var (
	safePluginName = regexp.MustCompile(`^[\w-]+$`)
	validSHA256    = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// windowsForbidden are names Windows cannot give a file (validation.go).
	windowsForbidden = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
		"COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

// CheckVersion checks a release version the way krew checks a manifest's
// spec.version (internal/installation/semver: a leading "v", then
// k8s.io/apimachinery's ParseSemantic); release tags must pass it too.
func CheckVersion(v string) error {
	if !strings.HasPrefix(v, "v") {
		return fmt.Errorf("version %q does not start with 'v', which krew requires; tag releases like v1.2.3 or set VERSION=v1.2.3", v)
	}
	if _, err := version.ParseSemantic(v); err != nil {
		return fmt.Errorf("version %q is not a semantic version, which krew requires; tag releases like v1.2.3 or set VERSION=v1.2.3: %w", v, err)
	}
	return nil
}

// ValidateKrewPlugin checks a manifest, to be published as name+".yaml",
// against krew's rules, and returns every problem found.
func ValidateKrewPlugin(name string, p KrewPlugin) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// validation.go: ValidatePlugin.
	if p.APIVersion != KrewAPIVersion {
		bad("apiVersion is %q; krew supports only %q", p.APIVersion, KrewAPIVersion)
	}
	if p.Kind != KrewKind {
		bad("kind is %q; krew supports only %q", p.Kind, KrewKind)
	}
	if !isSafePluginName(name) {
		bad("plugin name %q is not allowed: it must match %s and not be a name Windows reserves", name, safePluginName)
	}
	if p.Metadata.Name != name {
		bad("metadata.name is %q; the manifest %s.yaml must name the plugin %q", p.Metadata.Name, name, name)
	}
	if p.Spec.ShortDescription == "" {
		bad("spec.shortDescription is empty")
	}
	if strings.ContainsAny(p.Spec.ShortDescription, "\r\n") {
		bad("spec.shortDescription has a line break")
	}
	if len(p.Spec.Platforms) == 0 {
		bad("spec.platforms is empty")
	}
	if p.Spec.Version == "" {
		bad("spec.version is empty")
	} else if err := CheckVersion(p.Spec.Version); err != nil {
		bad("spec.version: %w", err)
	}
	for i, pl := range p.Spec.Platforms {
		for _, err := range validateKrewPlatform(pl) {
			bad("spec.platforms[%d]: %w", i, err)
		}
	}

	// docs, plugin-manifest.md: "description: (required)".
	if strings.TrimSpace(p.Spec.Description) == "" {
		bad("spec.description is empty")
	}
	// validate-krew-manifest: validateLineLength (krew-index warns; here
	// they fail, so nobody has to read warnings).
	for _, f := range []struct {
		field string
		text  string
		max   int
	}{
		{"shortDescription", p.Spec.ShortDescription, 70},
		{"description", p.Spec.Description, 80},
		{"caveats", p.Spec.Caveats, 80},
	} {
		if line := longLine(f.text, f.max); line != "" {
			bad("spec.%s has a line longer than %d characters: %q", f.field, f.max, line)
		}
	}
	// krew-release-bot (pkg/krew/validations.go, ValidateOwnership) takes
	// the owner of a plugin from its homepage on GitHub.
	if u, err := url.Parse(p.Spec.Homepage); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("spec.homepage %q is not an https URL", p.Spec.Homepage)
	}

	// validate-krew-manifest: every platform entry matches a platform krew
	// supports, and no supported platform matches two entries.
	for i, pl := range p.Spec.Platforms {
		if len(pl.matching()) == 0 {
			bad("spec.platforms[%d]: selector %v matches no platform krew supports", i, pl.Selector)
		}
	}
	for _, env := range KrewPlatforms {
		var idx []int
		for i, pl := range p.Spec.Platforms {
			if pl.matches(env) {
				idx = append(idx, i)
			}
		}
		if len(idx) > 1 {
			bad("spec.platforms %v all select %s/%s; krew needs exactly one", idx, env.OS, env.Arch)
		}
	}
	return errors.Join(errs...)
}

// validateKrewPlatform is validation.go's validatePlatform, plus the rules
// that are ours or the docs'.
func validateKrewPlatform(p KrewPlatform) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.URI == "" {
		bad("uri is empty")
	} else {
		// Ours: release assets are served over https, and nothing else
		// should be downloaded and run.
		if u, err := url.Parse(p.URI); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("uri %q is not an https URL", p.URI)
		}
		// docs: plugins are packaged as .zip or .tar.gz archives.
		if !strings.HasSuffix(p.URI, ".zip") && !strings.HasSuffix(p.URI, ".tar.gz") {
			bad("uri %q is neither a .zip nor a .tar.gz", p.URI)
		}
	}
	if p.Sha256 == "" {
		bad("sha256 is empty")
	} else if !validSHA256.MatchString(p.Sha256) {
		bad("sha256 %q is not 64 lowercase hex digits", p.Sha256)
	}
	if p.Bin == "" {
		bad("bin is empty")
	}
	// validateFiles: unset, or a list of operations with both ends.
	if p.Files != nil && len(p.Files) == 0 {
		bad("files is an empty list; leave it out or list files")
	}
	for i, op := range p.Files {
		if op.From == "" || op.To == "" {
			bad("files[%d] needs both from and to", i)
		}
		// move.go: findMoveTargets refuses unclean targets.
		if op.To != "" && op.To != filepath.Clean(op.To) {
			bad("files[%d].to %q is not a clean path; write %q", i, op.To, filepath.Clean(op.To))
		}
	}
	// validateSelector.
	sel := p.Selector
	switch {
	case sel == nil:
		bad("selector is missing")
	case sel.MatchLabels == nil && len(sel.MatchExpressions) == 0:
		bad("selector is empty")
	default:
		for k := range sel.MatchLabels {
			if k != "os" && k != "arch" {
				bad("selector key %q is not supported; krew knows os and arch", k)
			}
		}
		for _, e := range sel.MatchExpressions {
			if e.Key != "os" && e.Key != "arch" {
				bad("selector key %q is not supported; krew knows os and arch", e.Key)
			}
		}
		if sel.MatchLabels != nil && len(sel.MatchLabels) == 0 {
			bad("selector.matchLabels is given but empty")
		}
		if sel.MatchExpressions != nil && len(sel.MatchExpressions) == 0 {
			bad("selector.matchExpressions is given but empty")
		}
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			bad("selector: %w", err)
		}
	}
	// docs: "only .exe entrypoints are supported on Windows".
	for _, env := range p.matching() {
		if env.OS == "windows" && !strings.HasSuffix(p.Bin, ".exe") {
			bad("bin %q is installed on windows, where krew runs only .exe files", p.Bin)
			break
		}
	}
	return errs
}

// matching returns the supported platforms the entry's selector selects.
func (p KrewPlatform) matching() []KrewOSArch {
	var m []KrewOSArch
	for _, env := range KrewPlatforms {
		if p.matches(env) {
			m = append(m, env)
		}
	}
	return m
}

func (p KrewPlatform) matches(env KrewOSArch) bool {
	if p.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Selector)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set{"os": env.OS, "arch": env.Arch})
}

// Matches says whether the entry's selector selects goos/goarch.
func (p KrewPlatform) Matches(goos, goarch string) bool {
	return p.matches(KrewOSArch{goos, goarch})
}

func isSafePluginName(name string) bool {
	if !safePluginName.MatchString(name) {
		return false
	}
	for _, f := range windowsForbidden {
		if strings.EqualFold(f, name) {
			return false
		}
	}
	return true
}

// longLine returns the first line of s longer than max that has a space in
// it (a single long word, such as a URL, is allowed).
func longLine(s string, max int) string {
	for _, line := range strings.Split(s, "\n") {
		if len(line) > max && strings.Contains(strings.TrimSpace(line), " ") {
			return line
		}
	}
	return ""
}

// licenseNames are the file names validate-krew-manifest accepts as the
// plugin's license (validateLicenseFileExists).
var licenseNames = map[string]bool{
	"license": true, "license.txt": true, "license.md": true,
	"licenses": true, "licenses.txt": true, "licenses.md": true,
	"copying": true, "copying.txt": true,
}

// CheckKrewInstall does with archive what `kubectl krew install` does with
// the platform entry's download on goos, in a temporary directory: verify the
// sha256, detect the archive type by its content, extract it with krew's
// rules, apply the files operations, and check that bin is then a file in
// the install directory (executable, off Windows) and that a license file
// was installed beside it.
func CheckKrewInstall(p KrewPlatform, archive []byte, goos string) error {
	work, err := os.MkdirTemp("", "deploywatch-krew-install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	return KrewInstall(p, archive, goos, filepath.Join(work, "install"))
}

// KrewInstall is CheckKrewInstall into install, a directory it creates, so
// that a caller can look at what krew would install; its staging directory
// is install+".staging".
func KrewInstall(p KrewPlatform, archive []byte, goos, install string) error {
	sum := sha256.Sum256(archive)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, p.Sha256) {
		return fmt.Errorf("sha256 of %s is %s, the manifest says %s", p.URI, got, p.Sha256)
	}
	staging := install + ".staging"
	defer os.RemoveAll(staging)
	var err error
	for _, d := range []string{staging, install} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}

	// downloader.go: extractArchive picks the extractor by the content's
	// MIME type, not by the file name.
	head := archive[:min(512, len(archive))]
	switch mime, _, _ := strings.Cut(http.DetectContentType(head), ";"); mime {
	case "application/zip":
		err = extractZip(staging, archive)
	case "application/x-gzip":
		err = extractTarGz(staging, archive)
	default:
		err = fmt.Errorf("content type %q is not an archive krew can extract", mime)
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", p.URI, err)
	}

	// install.go: applyDefaults, then move.go: moveAllFiles.
	ops := p.Files
	if ops == nil {
		ops = []KrewFileOperation{{From: "*", To: "."}}
	}
	for _, op := range ops {
		if err := krewMove(staging, install, op); err != nil {
			return fmt.Errorf("files %+v: %w", op, err)
		}
	}

	// install.go: bin must stay inside the install dir, and
	// createOrUpdateLink needs it to exist.
	bin := filepath.Join(install, filepath.FromSlash(p.Bin))
	if !within(install, bin) {
		return fmt.Errorf("bin %q points outside the install directory", p.Bin)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("bin %q is not among the installed files %v: %w", p.Bin, listFiles(install), err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("bin %q is not a regular file", p.Bin)
	}
	// Ours: kubectl runs only executable plugins.
	if goos != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("bin %q is installed with mode %v, not executable", p.Bin, fi.Mode().Perm())
	}
	// validate-krew-manifest: validateLicenseFileExists.
	files := listFiles(install)
	for _, f := range files {
		if licenseNames[strings.ToLower(filepath.Base(f))] {
			return nil
		}
	}
	return fmt.Errorf("no license file among the installed files %v; ship LICENSE and install it", files)
}

// suspiciousPath is downloader.go's.
func suspiciousPath(p string) error {
	if strings.Contains(p, "..") {
		return fmt.Errorf("refusing to unpack archive with suspicious entry %q", p)
	}
	if strings.HasPrefix(p, `/`) || strings.HasPrefix(p, `\`) {
		return fmt.Errorf("refusing to unpack archive with absolute entry %q", p)
	}
	return nil
}

func extractZip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := suspiciousPath(f.Name); err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		src, err := f.Open()
		if err != nil {
			return err
		}
		err = writeFile(path, src, f.Mode().Perm())
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func extractTarGz(dir string, data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Name == "pax_global_header" {
			continue
		}
		if err := suspiciousPath(hdr.Name); err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := writeFile(path, tr, os.FileMode(hdr.Mode).Perm()); err != nil {
				return err
			}
		default:
			// krew refuses links and every other entry type.
			return fmt.Errorf("unable to handle file type %q for %q in tar", hdr.Typeflag, hdr.Name)
		}
	}
}

func writeFile(path string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode) // the umask must not hide the archive's mode
}

// krewMove is move.go's moveFiles: a from that names a file is moved (to "."
// keeps its name), otherwise from is a glob that must match something.
func krewMove(fromDir, toDir string, op KrewFileOperation) error {
	if op.To != filepath.Clean(op.To) {
		return fmt.Errorf("the provided path is not clean, %q should be %q", op.To, filepath.Clean(op.To))
	}
	type move struct{ from, to string }
	var moves []move
	direct := filepath.Clean(filepath.Join(fromDir, op.From))
	if _, err := os.Stat(direct); err == nil {
		to := op.To
		if filepath.Clean(to) == "." {
			to = filepath.Base(direct)
		}
		moves = append(moves, move{direct, filepath.Join(toDir, filepath.FromSlash(to))})
	} else {
		matches, err := filepath.Glob(filepath.Join(fromDir, filepath.FromSlash(op.From)))
		if err != nil {
			return err
		}
		if len(matches) == 0 {
			return fmt.Errorf("no files in the plugin archive matched the glob pattern=%s", op.From)
		}
		for _, m := range matches {
			moves = append(moves, move{m, filepath.Join(toDir, filepath.FromSlash(op.To), filepath.Base(m))})
		}
	}
	for _, m := range moves {
		if !within(fromDir, m.from) || !within(toDir, m.to) {
			return fmt.Errorf("can't move %s to %s: out of bounds", m.from, m.to)
		}
		if err := os.MkdirAll(filepath.Dir(m.to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(m.from, m.to); err != nil {
			return err
		}
	}
	return nil
}

// within says whether path is base or below it.
func within(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// listFiles returns the regular files under dir, relative to it.
func listFiles(dir string) []string {
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files
}

// CheckKrewManifest holds a rendered manifest, published as name+".yaml", to
// krew's rules, and installs every platform entry as krew would from the
// archive in archiveDir named like its uri's last element. It returns those
// archives' names, one per platform entry.
func CheckKrewManifest(name string, manifest []byte, archiveDir string) ([]string, error) {
	p, err := DecodeKrewPlugin(manifest)
	if err != nil {
		return nil, err
	}
	if err := ValidateKrewPlugin(name, p); err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for i, pl := range p.Spec.Platforms {
		u, err := url.Parse(pl.URI)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: %w", i, err))
			continue
		}
		archive := filepath.Base(u.Path)
		data, err := os.ReadFile(filepath.Join(archiveDir, archive))
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.platforms[%d]: uri %s names an archive that was not built: %w", i, pl.URI, err))
			continue
		}
		for _, env := range pl.matching() {
			if err := CheckKrewInstall(pl, data, env.OS); err != nil {
				errs = append(errs, fmt.Errorf("spec.platforms[%d] on %s/%s: %w", i, env.OS, env.Arch, err))
			}
		}
		names = append(names, archive)
	}
	return names, errors.Join(errs...)
}
