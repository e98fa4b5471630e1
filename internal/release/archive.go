package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one entry of an archive.
type File struct {
	Name string      // slash-separated path inside the archive
	Mode fs.FileMode // permission bits
	Data []byte
}

// Everything that could differ between two builds of one commit is fixed
// here: entries are sorted by name, every mtime is the given one (the
// commit's date), owners are 0/0 with no names, the tar format is USTAR (no
// PAX access or change times), and the gzip header has no name and no time.

// WriteTarGz writes files as a reproducible .tar.gz.
func WriteTarGz(w io.Writer, files []File, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, f := range sorted(files) {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Name,
			Mode:     int64(f.Mode.Perm()),
			Size:     int64(len(f.Data)),
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteZip writes files as a reproducible .zip.
func WriteZip(w io.Writer, files []File, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, f := range sorted(files) {
		hdr := &zip.FileHeader{
			Name:     f.Name,
			Method:   zip.Deflate,
			Modified: mtime.UTC().Truncate(time.Second),
		}
		hdr.SetMode(f.Mode.Perm())
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return fmt.Errorf("zip %s: %w", f.Name, err)
		}
		if _, err := fw.Write(f.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// WriteArchiveFile writes files to path as a .zip or a .tar.gz, by the
// path's extension. The file appears complete or not at all.
func WriteArchiveFile(path string, files []File, mtime time.Time) error {
	var buf bytes.Buffer
	var err error
	switch {
	case strings.HasSuffix(path, ".zip"):
		err = WriteZip(&buf, files, mtime)
	case strings.HasSuffix(path, ".tar.gz"):
		err = WriteTarGz(&buf, files, mtime)
	default:
		return fmt.Errorf("archive %s: the name must end in .zip or .tar.gz", path)
	}
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sorted(files []File) []File {
	s := slices.Clone(files)
	slices.SortFunc(s, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return s
}
