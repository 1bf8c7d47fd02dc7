package log

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
)

// env is one database location that can be opened, closed and reopened.
type env struct {
	t   testing.TB
	fs  vfs.FS
	dir string
	st  *store.Store
	log *Log
}

// eachFS runs fn twice: on an in-memory FS and on a real directory.
func eachFS(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("mem", func(t *testing.T) { fn(t, newEnv(t, vfs.NewMem(), "db")) })
	t.Run("disk", func(t *testing.T) { fn(t, newEnv(t, vfs.Default, t.TempDir())) })
}

func newEnv(t testing.TB, fs vfs.FS, dir string) *env {
	e := &env{t: t, fs: fs, dir: dir}
	e.open(Options{})
	t.Cleanup(func() {
		if e.log != nil {
			e.close()
		}
	})
	return e
}

func (e *env) open(opts Options) *Log {
	e.t.Helper()
	st, err := store.Open(store.Options{Dir: e.dir, FS: e.fs})
	if err != nil {
		e.t.Fatal(err)
	}
	l, err := Open(st.DB, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.log = st, l
	return l
}

// close checks the log's invariants, then closes it.
func (e *env) close() {
	e.t.Helper()
	if err := e.log.Check(); err != nil {
		e.t.Errorf("Check: %v", err)
	}
	if err := e.log.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.st.Close(); err != nil {
		e.t.Error(err)
	}
	e.log = nil
}

func (e *env) reopen(opts Options) *Log {
	e.close()
	return e.open(opts)
}
