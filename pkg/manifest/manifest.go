// Package manifest reads the Deployments, Services and PodDisruptionBudgets
// of Kubernetes manifests, as `kubectl apply -f` finds them: files of
// multi-document YAML or of JSON, `kind: List` and typed lists, directories
// (their .yaml, .yml and .json files; subdirectories when recursive) and
// standard input. Objects of other kinds are skipped. It decodes strictly, as
// the API server does for kubectl by default: an unknown or repeated field
// is an error. Every error names the file and the document.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Stdin is the path that means standard input, as in `-f -`.
const Stdin = "-"

// Extensions are the file name endings read from a directory; a file named
// on its own is read whatever its name.
var Extensions = []string{".json", ".yaml", ".yml"}

// Set is what the manifests hold of interest.
type Set struct {
	Deployments          []*appsv1.Deployment
	Services             []*corev1.Service
	PodDisruptionBudgets []*policyv1.PodDisruptionBudget
}

// Error is a problem with one file, or one document of it.
type Error struct {
	// Source is the file's path, or "stdin".
	Source string
	// Document is the document's number in the file, from 1 (0: the file
	// itself); Line the line it starts on.
	Document, Line int
	// Item is the number of an item of a List, from 1 (0: not in a List).
	Item int
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d (line %d)", e.Document, e.Line)
	}
	if e.Item > 0 {
		fmt.Fprintf(&b, ", item %d", e.Item)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Options say how to read.
type Options struct {
	// Recursive reads the subdirectories of a directory too (kubectl's -R).
	Recursive bool
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Namespace is given to objects that have none, as kubectl apply does
	// with the context's namespace.
	Namespace string
	// Check, when set, is called with each object read; its error is the
	// input's, reported with the object's place.
	Check func(obj any) error
}

// Read reads every path, in order: a file, a directory, or "-" for
// standard input.
func Read(paths []string, opts Options) (*Set, error) {
	r := &reader{opts: opts, set: &Set{}}
	for _, p := range paths {
		if err := r.path(p); err != nil {
			return nil, err
		}
	}
	return r.set, nil
}

type reader struct {
	opts Options
	set  *Set
}

func (r *reader) path(p string) error {
	if p == Stdin {
		if r.opts.Stdin == nil {
			return &Error{Source: "stdin", Err: errors.New("no standard input to read")}
		}
		data, err := io.ReadAll(r.opts.Stdin)
		if err != nil {
			return &Error{Source: "stdin", Err: err}
		}
		return r.data("stdin", data)
	}
	if strings.Contains(p, "://") {
		return &Error{Source: p, Err: errors.New("URLs are not read: download the file and give its path")}
	}
	info, err := os.Stat(p)
	if err != nil {
		return &Error{Source: p, Err: pathError(err)}
	}
	if !info.IsDir() {
		return r.file(p)
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return &Error{Source: path, Err: pathError(err)}
		}
		if e.IsDir() {
			if path != p && !r.opts.Recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(Extensions, filepath.Ext(path)) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		hint := ""
		if !r.opts.Recursive {
			hint = " (add -R to read its subdirectories)"
		}
		return &Error{Source: p, Err: fmt.Errorf("directory holds no %s files%s", strings.Join(Extensions, ", "), hint)}
	}
	for _, f := range files {
		if err := r.file(f); err != nil {
			return err
		}
	}
	return nil
}

// pathError is the reason of a file system error, without the operation
// and the path the caller names already.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (r *reader) file(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Source: path, Err: pathError(err)}
	}
	return r.data(path, data)
}

// data reads one file's content: a stream of JSON objects when it starts
// with "{" (as kubectl decides), else YAML documents.
func (r *reader) data(source string, data []byte) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		return r.jsonStream(source, data)
	}
	for _, doc := range splitYAML(data) {
		e := &Error{Source: source, Document: doc.n, Line: doc.line}
		// Blank lines in front keep the YAML parser's line numbers those
		// of the file.
		padded := append(bytes.Repeat([]byte("\n"), doc.line-1), doc.data...)
		j, err := yaml.YAMLToJSONStrict(padded)
		if err != nil {
			e.Err = err
			return e
		}
		if err := r.object(j, e); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) jsonStream(source string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		start := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		// The document starts at its first character, not at the
		// whitespace before it.
		start += int64(len(data[start:]) - len(bytes.TrimLeft(data[start:], " \t\r\n")))
		e := &Error{Source: source, Document: n, Line: lineAt(data, start)}
		if err != nil {
			if isSyntax, offset := sigsjson.SyntaxErrorOffset(err); isSyntax {
				err = fmt.Errorf("json: line %d: %w", lineAt(data, offset), err)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("json: the input ends inside this object: %w", err)
			}
			e.Err = err
			return e
		}
		if err := r.object(raw, e); err != nil {
			return err
		}
	}
}

// lineAt is the line, from 1, of byte offset in data.
func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// typeMeta is what says an object's kind.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// object decodes one document (JSON) at place e.
func (r *reader) object(j []byte, e *Error) error {
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil // only comments
	}
	var tm typeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		e.Err = errors.New("not an object: a Kubernetes object is a mapping with apiVersion and kind")
		return e
	}
	if tm.Kind == "" || tm.APIVersion == "" {
		e.Err = errors.New("no apiVersion or kind: every object needs both")
		return e
	}
	if strings.HasSuffix(tm.Kind, "List") {
		return r.list(j, tm, e)
	}
	obj, err := decode(j, tm)
	if err == nil && obj != nil {
		err = r.add(obj)
	}
	if err != nil {
		e.Err = err
		return e
	}
	return nil
}

// list reads the items of a List (`kind: List`, as kubectl get -o yaml
// prints) or of a typed list (DeploymentList), whose items may leave out
// their apiVersion and kind.
func (r *reader) list(j []byte, tm typeMeta, e *Error) error {
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(j, &l); err != nil {
		e.Err = fmt.Errorf("%s %s: items: %w", tm.APIVersion, tm.Kind, err)
		return e
	}
	for i, item := range l.Items {
		ie := *e
		ie.Item = i + 1
		var itm typeMeta
		if err := json.Unmarshal(item, &itm); err != nil {
			ie.Err = errors.New("not an object: a Kubernetes object is a mapping with apiVersion and kind")
			return &ie
		}
		if itm.Kind == "" && tm.Kind != "List" {
			itm = typeMeta{APIVersion: tm.APIVersion, Kind: strings.TrimSuffix(tm.Kind, "List")}
		}
		if itm.Kind == "" || itm.APIVersion == "" {
			ie.Err = errors.New("no apiVersion or kind: every object needs both")
			return &ie
		}
		obj, err := decode(item, itm)
		if err == nil && obj != nil {
			err = r.add(obj)
		}
		if err != nil {
			ie.Err = err
			return &ie
		}
	}
	return nil
}

// decode decodes the kinds the rules read, strictly; nil for other kinds.
func decode(j []byte, tm typeMeta) (any, error) {
	group, _, _ := strings.Cut(tm.APIVersion, "/")
	if !strings.Contains(tm.APIVersion, "/") {
		group = ""
	}
	var obj any
	switch {
	case tm.Kind == "Deployment" && tm.APIVersion == "apps/v1":
		obj = &appsv1.Deployment{}
	case tm.Kind == "Service" && tm.APIVersion == "v1":
		obj = &corev1.Service{}
	case tm.Kind == "PodDisruptionBudget" && tm.APIVersion == "policy/v1":
		obj = &policyv1.PodDisruptionBudget{}
	case tm.Kind == "Deployment" && (group == "apps" || group == "extensions"):
		return nil, fmt.Errorf("%s %s is no longer served (since Kubernetes 1.16): use apiVersion apps/v1", tm.APIVersion, tm.Kind)
	case tm.Kind == "PodDisruptionBudget" && group == "policy":
		return nil, fmt.Errorf("%s %s is no longer served (since Kubernetes 1.25): use apiVersion policy/v1", tm.APIVersion, tm.Kind)
	default:
		return nil, nil
	}
	strict, err := sigsjson.UnmarshalStrict(j, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, s := range strict {
			msgs[i] = s.Error()
		}
		return nil, fmt.Errorf("%s: %s (the API server refuses it; check the spelling and the indentation)", tm.Kind, strings.Join(msgs, ", "))
	}
	return obj, nil
}

// add files obj in the set, with the namespace it would get.
func (r *reader) add(obj any) error {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if err := r.meta(&o.ObjectMeta.Namespace, o.Name, "Deployment"); err != nil {
			return err
		}
		r.set.Deployments = append(r.set.Deployments, o)
	case *corev1.Service:
		if err := r.meta(&o.ObjectMeta.Namespace, o.Name, "Service"); err != nil {
			return err
		}
		r.set.Services = append(r.set.Services, o)
	case *policyv1.PodDisruptionBudget:
		if err := r.meta(&o.ObjectMeta.Namespace, o.Name, "PodDisruptionBudget"); err != nil {
			return err
		}
		r.set.PodDisruptionBudgets = append(r.set.PodDisruptionBudgets, o)
	}
	if r.opts.Check != nil {
		return r.opts.Check(obj)
	}
	return nil
}

func (r *reader) meta(ns *string, name, kind string) error {
	if name == "" {
		return fmt.Errorf("%s has no metadata.name", kind)
	}
	if *ns == "" {
		*ns = r.opts.Namespace
	}
	return nil
}

// document is one YAML document of a file.
type document struct {
	// n is its number, from 1; line the line it starts on.
	n, line int
	data    []byte
}

// splitYAML splits a YAML stream where kubectl does: at a line that is
// "---", alone or followed by a comment. Documents of blank lines only are
// not counted.
func splitYAML(data []byte) []document {
	var docs []document
	var cur []byte
	start, line, n := 1, 0, 0
	flush := func() {
		if len(bytes.TrimSpace(cur)) > 0 {
			n++
			docs = append(docs, document{n: n, line: start, data: cur})
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	sc.Split(scanLinesKeepEOL)
	for sc.Scan() {
		line++
		l := sc.Bytes()
		if isSeparator(l) {
			flush()
			start = line + 1
			continue
		}
		if len(cur) == 0 && len(bytes.TrimSpace(l)) == 0 {
			start = line + 1 // the document starts at its first non-blank line
			continue
		}
		cur = append(cur, l...)
	}
	flush()
	return docs
}

func isSeparator(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// scanLinesKeepEOL is bufio.ScanLines keeping the line ends, so a document
// is the file's bytes as they are.
func scanLinesKeepEOL(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
