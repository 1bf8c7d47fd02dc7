package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/strmlocal/strmlocal/exporter"
)

// Config is the config of a local connector.
type Config struct {
	// Path is the directory, absolute. It need not exist yet.
	Path string `json:"path"`
}

// Schema is the JSON Schema of Config.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "local data connector",
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "properties": {
    "path": {
      "type": "string",
      "minLength": 1,
      "description": "The directory objects are written to, as an absolute path on the server's machine; created if missing."
    }
  }
}`

// Secrets are the secret fields of Config: none.
var Secrets []string

// Validate checks what the schema cannot.
func (c Config) Validate() error {
	if !filepath.IsAbs(c.Path) {
		return fmt.Errorf("path: want an absolute directory, got %q", c.Path)
	}
	if filepath.Clean(c.Path) != c.Path && filepath.Clean(c.Path)+string(filepath.Separator) != c.Path {
		return fmt.Errorf("path: want a clean path (no '.', '..' or repeated separators), got %q", c.Path)
	}
	return nil
}

// Bucket is a directory.
type Bucket struct{ dir string }

// New returns the bucket of c; it touches nothing (see exporter.Probe).
func New(c Config) (*Bucket, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Bucket{dir: filepath.Clean(c.Path)}, nil
}

func (b *Bucket) String() string { return fmt.Sprintf("directory %q", b.dir) }

// file returns the path of object name, refusing a name that would leave
// the directory.
func (b *Bucket) file(name string) (string, error) {
	if name == "" || !fs.ValidPath(name) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return filepath.Join(b.dir, filepath.FromSlash(name)), nil
}

// Put writes name through a temporary file in the same directory, synced
// and renamed into place, and syncs the directory.
func (b *Bucket) Put(ctx context.Context, name string, body io.Reader) (int64, error) {
	target, err := b.file(name)
	if err != nil {
		return 0, b.fail("put", name, err)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, b.fail("put", name, err)
	}
	// A Put cut short by a crash left its temporary file: this Put of the
	// same name replaces it.
	stale, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(path.Base(name))+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	tmp, err := os.CreateTemp(dir, "."+path.Base(name)+".tmp-*")
	if err != nil {
		return 0, b.fail("put", name, err)
	}
	n, err := io.Copy(tmp, ctxReader{ctx, body})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, b.fail("put", name, err)
	}
	if err := syncDir(dir); err != nil {
		return 0, b.fail("put", name, err)
	}
	return n, nil
}

// Delete removes name; a missing file is no error.
func (b *Bucket) Delete(_ context.Context, name string) error {
	target, err := b.file(name)
	if err == nil {
		err = os.Remove(target)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return b.fail("delete", name, err)
	}
	return nil
}

// fail says what failed. Every failure of a local directory is a refusal:
// retrying may work once someone fixes the directory, as a job does.
func (b *Bucket) fail(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%s %s", pe.Op, pe.Err) // the path is in Where and Name already
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = fmt.Errorf("%s: %v", le.Op, le.Err)
	}
	return &exporter.Error{Where: b.String(), Op: op, Name: name, Kind: exporter.ErrRefused, Err: err}
}

// globEscape quotes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
