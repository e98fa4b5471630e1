package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// write writes files (path: content) under a new directory and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
`

func dep(name string) string { return strings.ReplaceAll(deployment, "%s", name) }

// names lists what a set holds as kind/namespace/name.
func names(s *Set) []string {
	var out []string
	for _, d := range s.Deployments {
		out = append(out, "Deployment/"+d.Namespace+"/"+d.Name)
	}
	for _, x := range s.Services {
		out = append(out, "Service/"+x.Namespace+"/"+x.Name)
	}
	for _, p := range s.PodDisruptionBudgets {
		out = append(out, "PodDisruptionBudget/"+p.Namespace+"/"+p.Name)
	}
	return out
}

// TestRead: what each kind of input yields.
func TestRead(t *testing.T) {
	multi := "# a comment before the first document\n---\n" + dep("web") + `---
# Source: chart/templates/empty.yaml
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
--- # the budget
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {anything: goes, unknownFieldsToo: true}
---
apiVersion: example.com/v1
kind: Deployment
metadata: {name: not-apps}
spec: {whatever: 1}
---
`
	list := `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a, namespace: x}
  spec: {template: {metadata: {labels: {app: a}}}}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
`
	typedList := `{"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [
  {"metadata": {"name": "b"}, "spec": {"replicas": 1}},
  {"metadata": {"name": "c"}}
]}`
	jsonStream := `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "j1"}}
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j2"}, "spec": {"selector": {"app": "j"}}}
`
	dir := write(t, map[string]string{
		"all.yaml":              multi,
		"list.yml":              list,
		"typed.json":            typedList,
		"stream.json":           jsonStream,
		"notes.txt":             "this is not YAML: [",
		"sub/deep.yaml":         dep("deep"),
		"sub/deeper/more.yaml":  dep("deeper"),
		"windows.yaml":          strings.ReplaceAll("\xef\xbb\xbf"+dep("crlf"), "\n", "\r\n"),
		"named-explicitly.conf": dep("conf"),
	})
	for _, tt := range []struct {
		name  string
		paths []string
		opts  Options
		want  []string
	}{
		{"multi-document YAML", []string{filepath.Join(dir, "all.yaml")}, Options{Namespace: "dflt"},
			[]string{"Deployment/dflt/web", "Service/shop/web", "PodDisruptionBudget/dflt/web"}},
		{"kind: List", []string{filepath.Join(dir, "list.yml")}, Options{Namespace: "dflt"}, []string{"Deployment/x/a"}},
		{"typed list in JSON", []string{filepath.Join(dir, "typed.json")}, Options{Namespace: "dflt"}, []string{"Deployment/dflt/b", "Deployment/dflt/c"}},
		{"JSON stream", []string{filepath.Join(dir, "stream.json")}, Options{}, []string{"Deployment//j1", "Service//j2"}},
		{"CRLF and a byte order mark", []string{filepath.Join(dir, "windows.yaml")}, Options{}, []string{"Deployment//crlf"}},
		{"a file named explicitly, whatever its extension", []string{filepath.Join(dir, "named-explicitly.conf")}, Options{}, []string{"Deployment//conf"}},
		{"directory: its .yaml, .yml and .json files, in order", []string{dir}, Options{Namespace: "n"},
			[]string{"Deployment/n/web", "Deployment/x/a", "Deployment/n/j1", "Deployment/n/b", "Deployment/n/c", "Deployment/n/crlf", "Service/shop/web", "Service/n/j2", "PodDisruptionBudget/n/web"}},
		{"directory, recursive", []string{filepath.Join(dir, "sub")}, Options{Recursive: true}, []string{"Deployment//deep", "Deployment//deeper"}},
		{"directory, not recursive", []string{filepath.Join(dir, "sub")}, Options{}, []string{"Deployment//deep"}},
		{"stdin", []string{"-"}, Options{Stdin: strings.NewReader(dep("piped"))}, []string{"Deployment//piped"}},
		{"several paths", []string{filepath.Join(dir, "list.yml"), "-"}, Options{Stdin: strings.NewReader(dep("piped"))}, []string{"Deployment/x/a", "Deployment//piped"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Read(tt.paths, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			// Kinds are listed grouped; compare as the set lists them.
			if got := names(set); !slices.Equal(got, tt.want) {
				t.Errorf("read %q;\nwant %q", got, tt.want)
			}
		})
	}

	// Fields decode: the rules see what the manifest says.
	set, err := Read([]string{filepath.Join(dir, "all.yaml")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := set.Deployments[0]; *d.Spec.Replicas != 2 || d.Spec.Template.Labels["app"] != "web" || d.Spec.Template.Spec.Containers[0].Image != "nginx" {
		t.Errorf("deployment decoded as %+v", d.Spec)
	}
	if s := set.Services[0]; s.Spec.Selector["app"] != "web" || s.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Errorf("service decoded as %+v", s.Spec)
	}
}

// TestReadErrors: every bad input is one error naming the file, the
// document and the line, and what is wrong.
func TestReadErrors(t *testing.T) {
	badYAML := dep("first") + `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: second
 spec: {}
`
	dir := write(t, map[string]string{
		"bad.yaml":         badYAML,
		"unknown.yaml":     strings.Replace(dep("web"), "        image: nginx\n", "        image: nginx\n        readinesProbe: {}\n", 1),
		"dup.yaml":         strings.Replace(dep("web"), "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", 1),
		"type.yaml":        strings.Replace(dep("web"), "replicas: 2", "replicas: two", 1),
		"nokind.yaml":      "apiVersion: v1\nmetadata: {name: x}\n",
		"scalar.yaml":      "just words\n",
		"old.yaml":         strings.Replace(dep("web"), "apps/v1", "extensions/v1beta1", 1),
		"oldpdb.yaml":      "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\n",
		"noname.yaml":      "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n",
		"bad.json":         "{\"apiVersion\": \"v1\",\n \"kind\": \"Service\",\n \"metadata\": {\"name\": \"s\",}\n}\n",
		"short.json":       "{\"apiVersion\": \"v1\", \"kind\": \"Service\"",
		"second.json":      "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}\n\n{\"kind\": \"Service\"}\n",
		"badlist.yaml":     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: ok}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: bad}\n  spec: {selektor: {}}\n",
		"empty/.keep":      "",
		"empty/sub/a.yaml": dep("a"),
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, tt := range []struct {
		name  string
		paths []string
		opts  Options
		want  string
	}{
		// Line 18 of the file, as kubectl says of the same document: the
		// YAML parser names the line of the mapping the bad key breaks.
		{"bad YAML", []string{p("bad.yaml")}, Options{},
			p("bad.yaml") + ": document 2 (line 15): yaml: line 18: did not find expected key"},
		{"unknown field", []string{p("unknown.yaml")}, Options{},
			p("unknown.yaml") + `: document 1 (line 1): Deployment: unknown field "spec.template.spec.containers[0].readinesProbe" (the API server refuses it; check the spelling and the indentation)`},
		{"repeated field", []string{p("dup.yaml")}, Options{},
			p("dup.yaml") + `: document 1 (line 1): yaml: unmarshal errors:`},
		{"wrong type", []string{p("type.yaml")}, Options{},
			p("type.yaml") + `: document 1 (line 1): Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`},
		{"no kind", []string{p("nokind.yaml")}, Options{}, p("nokind.yaml") + ": document 1 (line 1): no apiVersion or kind: every object needs both"},
		{"not an object", []string{p("scalar.yaml")}, Options{}, p("scalar.yaml") + ": document 1 (line 1): not an object"},
		{"old Deployment", []string{p("old.yaml")}, Options{}, p("old.yaml") + ": document 1 (line 1): extensions/v1beta1 Deployment is no longer served (since Kubernetes 1.16): use apiVersion apps/v1"},
		{"old PDB", []string{p("oldpdb.yaml")}, Options{}, "policy/v1beta1 PodDisruptionBudget is no longer served (since Kubernetes 1.25): use apiVersion policy/v1"},
		{"no name", []string{p("noname.yaml")}, Options{}, p("noname.yaml") + ": document 1 (line 1): Service has no metadata.name"},
		{"bad JSON", []string{p("bad.json")}, Options{}, p("bad.json") + ": document 1 (line 1): json: line 3: invalid character '}' looking for beginning of object key string"},
		{"JSON cut short", []string{p("short.json")}, Options{}, p("short.json") + ": document 1 (line 1): json: the input ends inside this object"},
		{"second JSON object", []string{p("second.json")}, Options{}, p("second.json") + ": document 2 (line 3): no apiVersion or kind"},
		{"List item", []string{p("badlist.yaml")}, Options{}, p("badlist.yaml") + `: document 1 (line 1), item 2: Service: unknown field "spec.selektor"`},
		{"stdin", []string{"-"}, Options{Stdin: strings.NewReader("a: [")}, "stdin: document 1 (line 1): yaml: line 1: did not find expected node content"},
		{"no stdin", []string{"-"}, Options{}, "stdin: no standard input to read"},
		{"missing file", []string{p("nope.yaml")}, Options{}, p("nope.yaml") + ": no such file or directory"},
		{"URL", []string{"https://example.com/deploy.yaml"}, Options{}, "https://example.com/deploy.yaml: URLs are not read: download the file and give its path"},
		{"directory without manifests", []string{p("empty")}, Options{}, p("empty") + ": directory holds no .json, .yaml, .yml files (add -R to read its subdirectories)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.paths, tt.opts)
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T); want a *manifest.Error", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %s\nwant\n  %s", err, tt.want)
			}
			if strings.Contains(strings.TrimSpace(err.Error()), "\n") && tt.name != "repeated field" {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

// TestReadCheck: the caller's check runs on each object, and its error is
// the input's, with the object's place.
func TestReadCheck(t *testing.T) {
	dir := write(t, map[string]string{"two.yaml": dep("ok") + "---\n" + dep("refused")})
	_, err := Read([]string{filepath.Join(dir, "two.yaml")}, Options{Check: func(obj any) error {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == "refused" {
			return errors.New(`deployment "refused": no`)
		}
		return nil
	}})
	want := filepath.Join(dir, "two.yaml") + `: document 2 (line 15): deployment "refused": no`
	if err == nil || err.Error() != want {
		t.Errorf("error %v; want %s", err, want)
	}
}

func TestSplitYAML(t *testing.T) {
	in := "\n\n---\na: 1\n---   # comment\n\n\nb: 2\n---\n   \n---\n# only a comment\n--- not a separator\nc: 3\n"
	docs := splitYAML([]byte(in))
	var got []string
	for _, d := range docs {
		got = append(got, strings.TrimSpace(string(d.data))+"@"+strconv.Itoa(d.n)+":"+strconv.Itoa(d.line))
	}
	want := []string{"a: 1@1:4", "b: 2@2:8", "# only a comment\n--- not a separator\nc: 3@3:12"}
	if !slices.Equal(got, want) {
		t.Errorf("splitYAML = %q; want %q", got, want)
	}
}
