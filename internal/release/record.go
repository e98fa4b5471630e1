package release

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
)

// ReleaseRecord is what plugins/deploywatch.yaml says, in a comment above
// the manifest, of the release it describes: what builds its archives again,
// byte for byte. A manifest's sha256s alone name archives no one may be able
// to build, since every binary carries its commit.
type ReleaseRecord struct {
	Version   string // the release's version, as in the archive names
	Commit    string // the commit `make dist` built, 40 hex digits
	GoVersion string // `go env GOVERSION` of that build, e.g. go1.26.8
}

var (
	recordLine = regexp.MustCompile("(?m)\\A# kubectl-deploywatch (\\S+) is `make dist VERSION=(\\S+)` at commit ([0-9a-f]{40}) with (go\\S+):\n")
	fullCommit = regexp.MustCompile(`\A[0-9a-f]{40}\z`)
	goVersion  = regexp.MustCompile(`\Ago\d+\.\d+(\.\d+)?\S*\z`)
)

// Check says what is wrong with r, if anything.
func (r ReleaseRecord) Check() error {
	var errs []error
	if err := CheckVersion(r.Version); err != nil {
		errs = append(errs, err)
	}
	if !fullCommit.MatchString(r.Commit) {
		errs = append(errs, fmt.Errorf("commit %q is not a full commit id (40 lowercase hex digits, git rev-parse HEAD)", r.Commit))
	}
	if !goVersion.MatchString(r.GoVersion) {
		errs = append(errs, fmt.Errorf("go version %q is not like go1.26.8 (go env GOVERSION)", r.GoVersion))
	}
	return errors.Join(errs...)
}

// Header is the comment that RecordedManifest puts above the manifest.
func (r ReleaseRecord) Header() string {
	return fmt.Sprintf("# kubectl-deploywatch %s is `make dist VERSION=%s` at commit %s with %s:\n"+
		"# that builds the archives whose sha256s follow again, byte for byte (test/release\n"+
		"# does). Written by `make release-manifest`; see the README, Releasing.\n",
		r.Version, r.Version, r.Commit, r.GoVersion)
}

// RecordedManifest is manifest, the one `make dist` rendered for r.Version,
// headed by r.
func RecordedManifest(r ReleaseRecord, manifest []byte) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("release record: %w", err)
	}
	return append([]byte(r.Header()), manifest...), nil
}

// ParseRecordedManifest splits what RecordedManifest wrote into the record
// and the manifest as `make dist` rendered it.
func ParseRecordedManifest(data []byte) (ReleaseRecord, []byte, error) {
	m := recordLine.FindSubmatch(data)
	if m == nil || string(m[1]) != string(m[2]) {
		return ReleaseRecord{}, nil, errors.New("no release record on the first line (\"# kubectl-deploywatch vX.Y.Z is `make dist VERSION=vX.Y.Z` at commit ... with go...:\"); write the file with make release-manifest VERSION=vX.Y.Z")
	}
	r := ReleaseRecord{Version: string(m[1]), Commit: string(m[3]), GoVersion: string(m[4])}
	if err := r.Check(); err != nil {
		return ReleaseRecord{}, nil, fmt.Errorf("release record: %w", err)
	}
	header := []byte(r.Header())
	if !bytes.HasPrefix(data, header) {
		return ReleaseRecord{}, nil, fmt.Errorf("the release record's comment is not the three lines make release-manifest writes:\n%s", header)
	}
	return r, data[len(header):], nil
}
