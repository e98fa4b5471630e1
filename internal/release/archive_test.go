package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"testing"
	"testing/synctest"
	"time"
)

var (
	commitTime = time.Date(2026, 11, 23, 2, 41, 7, 0, time.UTC)
	testFiles  = []File{
		{Name: "kubectl-deploywatch", Mode: 0o755, Data: []byte("#!binary\x00\x01")},
		{Name: "LICENSE", Mode: 0o644, Data: []byte("Apache License\n")},
	}
	reversed = []File{testFiles[1], testFiles[0]}
)

func archive(t *testing.T, write func(io.Writer, []File, time.Time) error, files []File, mtime time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, files, mtime); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestArchivesAreReproducible(t *testing.T) {
	for name, write := range map[string]func(io.Writer, []File, time.Time) error{"tar.gz": WriteTarGz, "zip": WriteZip} {
		// In a synctest bubble the clock the writers could read moves by
		// the sleep at once, without the test waiting for it.
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := archive(t, write, testFiles, commitTime)
				// The input order, the clock and the time zone must not matter.
				time.Sleep(1100 * time.Millisecond)
				b := archive(t, write, reversed, commitTime.In(time.FixedZone("X", 5*3600)))
				if !bytes.Equal(a, b) {
					t.Fatal("two archives of the same files differ")
				}
				// The mtime is recorded, so a fixed one is what makes them equal.
				if c := archive(t, write, testFiles, commitTime.Add(time.Hour)); bytes.Equal(a, c) {
					t.Fatal("archives with different mtimes are equal: the mtime is not recorded")
				}
			})
		})
	}
}

func TestTarGzEntries(t *testing.T) {
	data := archive(t, WriteTarGz, reversed, commitTime)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header has mtime %v and name %q; want neither", gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		want := fileNamed(t, h.Name)
		body, _ := io.ReadAll(tr)
		if h.Typeflag != tar.TypeReg || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" ||
			!h.ModTime.Equal(commitTime) || fs.FileMode(h.Mode) != want.Mode || !bytes.Equal(body, want.Data) || h.Format != tar.FormatUSTAR {
			t.Errorf("entry %s: type %c uid/gid %d/%d names %q/%q mtime %v mode %v format %v body %q; want a regular file, 0/0, no names, %v, %v, USTAR, %q",
				h.Name, h.Typeflag, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, fs.FileMode(h.Mode), h.Format, body, commitTime, want.Mode, want.Data)
		}
	}
	if len(names) != 2 || names[0] != "LICENSE" || names[1] != "kubectl-deploywatch" {
		t.Errorf("entries %q; want [LICENSE kubectl-deploywatch], sorted", names)
	}
}

func TestZipEntries(t *testing.T) {
	data := archive(t, WriteZip, reversed, commitTime)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		want := fileNamed(t, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if !f.Modified.Equal(commitTime) || f.Mode().Perm() != want.Mode || !bytes.Equal(body, want.Data) {
			t.Errorf("entry %s: mtime %v mode %v body %q; want %v %v %q", f.Name, f.Modified, f.Mode().Perm(), body, commitTime, want.Mode, want.Data)
		}
	}
	if len(names) != 2 || names[0] != "LICENSE" || names[1] != "kubectl-deploywatch" {
		t.Errorf("entries %q; want [LICENSE kubectl-deploywatch], sorted", names)
	}
}

func fileNamed(t *testing.T, name string) File {
	t.Helper()
	for _, f := range testFiles {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("unexpected entry %q", name)
	return File{}
}
