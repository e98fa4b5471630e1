// Package version holds the build's version, stamped at link time with
// -ldflags "-X github.com/deploywatch/kubectl-deploywatch/pkg/version.Version=v1.2.3 ...".
package version

import "runtime"

// Stamped at build time; the defaults say the binary was built by hand.
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is what `kubectl deploywatch version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the stamped build information.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}
