package release

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"
)

// RenderKrewTemplate renders a krew manifest template the way krew-release-bot
// does when a release is tagged (github.com/rajatjindal/krew-release-bot,
// pkg/source/template.go), so that krew-manifest.yaml serves both the bot and
// `make dist`:
//
//   - the template sees .TagName, the release's tag;
//   - {{ addURIAndSha "URL" .TagName }} renders URL, itself a template that
//     sees .TagName and .Version (the tag's digits), and becomes
//     "uri: URL\n    sha256: SUM", so it must be written at the platform
//     entry's indentation of four spaces;
//   - {{ indent N "..." }} is the bot's other helper.
//
// The bot downloads each URL to take its sha256; here sha256Of is asked
// instead, with the rendered URL. The returned uris are every URL rendered,
// in order.
func RenderKrewTemplate(tmpl []byte, tag string, sha256Of func(uri string) (string, error)) (out []byte, uris []string, err error) {
	funcs := template.FuncMap{
		"indent": krewIndent,
		"addURIAndSha": func(url, tag string) (string, error) {
			inner, err := template.New("url").Option("missingkey=error").Parse(url)
			if err != nil {
				return "", fmt.Errorf("addURIAndSha %q: %w", url, err)
			}
			var u bytes.Buffer
			values := struct{ TagName, Version string }{tag, versionFromTag(tag)}
			if err := inner.Execute(&u, values); err != nil {
				return "", fmt.Errorf("addURIAndSha %q: %w", url, err)
			}
			sum, err := sha256Of(u.String())
			if err != nil {
				return "", err
			}
			uris = append(uris, u.String())
			return fmt.Sprintf("uri: %s\n    sha256: %s", u.String(), sum), nil
		},
	}
	t, err := template.New("krew-manifest").Funcs(funcs).Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, nil, fmt.Errorf("parse the krew manifest template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, struct{ TagName string }{tag}); err != nil {
		return nil, nil, fmt.Errorf("render the krew manifest template: %w", err)
	}
	return buf.Bytes(), uris, nil
}

// ArchiveSHA256Of returns a sha256Of for RenderKrewTemplate that answers
// with the artifacts' sums, matching a uri by its last path element, the
// archive's name.
func ArchiveSHA256Of(arts []Artifact) func(uri string) (string, error) {
	return func(uri string) (string, error) {
		name := path.Base(uri)
		for _, a := range arts {
			if a.Name == name {
				return a.SHA256, nil
			}
		}
		return "", fmt.Errorf("the krew manifest template names %s, which this build did not make; fix the template's uri or the platforms built", name)
	}
}

var tagVersion = regexp.MustCompile(`\d+(\.\d+)+`)

// versionFromTag is the bot's .Version: "v1.2.3" gives "1.2.3".
func versionFromTag(tag string) string {
	if v := tagVersion.FindString(tag); v != "" {
		return v
	}
	return tag
}

// krewIndent is the bot's indent helper.
func krewIndent(spaces int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", spaces)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}
