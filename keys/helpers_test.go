package keys_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
)

// t0 is where every fake clock starts.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// location is a database directory: in memory, or on disk.
type location struct {
	fs  vfs.FS
	dir string
}

// eachLocation runs fn on a fresh in-memory directory and on a fresh
// directory on disk.
func eachLocation(t *testing.T, fn func(t *testing.T, loc location)) {
	t.Run("mem", func(t *testing.T) { fn(t, location{fs: vfs.NewMem(), dir: "data"}) })
	t.Run("disk", func(t *testing.T) { fn(t, location{fs: vfs.Default, dir: filepath.Join(t.TempDir(), "data")}) })
}

// openDB opens a Pebble database at loc without compression, so that a
// scan of its files sees every byte written.
func openDB(t testing.TB, loc location) *pebble.DB {
	t.Helper()
	opts := &pebble.Options{FS: loc.fs, Logger: quietLogger{}}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	db, err := pebble.Open(loc.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(string, ...any)             {}
func (quietLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func newMaster(t testing.TB) tink.AEAD {
	t.Helper()
	m, err := keys.LoadMaster("", "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// env is an open Keys on a database, with a fake clock. Its cleanup runs
// Check and closes everything.
type env struct {
	t      testing.TB
	loc    location
	clock  *clock
	master tink.AEAD
	db     *pebble.DB
	ks     *keys.Keys
	// cacheBytes is Options.CacheBytes (0: the default).
	cacheBytes int64
}

func newEnv(t testing.TB, loc location) *env {
	t.Helper()
	e := &env{t: t, loc: loc, clock: newClock(), master: newMaster(t)}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) opts() keys.Options {
	return keys.Options{Now: e.clock.Now, Rotation: 24 * time.Hour, Retention: 7 * 24 * time.Hour, Master: e.master, CacheBytes: e.cacheBytes}
}

func (e *env) open() {
	e.t.Helper()
	e.db = openDB(e.t, e.loc)
	ks, err := keys.Open(store.PebbleKV(e.db), e.opts())
	if err != nil {
		e.t.Fatal(err)
	}
	e.ks = ks
}

// close checks and closes Keys and the database; a no-op when closed.
func (e *env) close() {
	e.t.Helper()
	if e.db == nil {
		return
	}
	if err := e.ks.Check(); err != nil {
		e.t.Errorf("Check: %v", err)
	}
	if err := e.ks.Close(); err != nil {
		e.t.Error(err)
	}
	if err := e.db.Close(); err != nil {
		e.t.Error(err)
	}
	e.db, e.ks = nil, nil
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) mustFor(stream uint64, value, subject string) *keys.Key {
	e.t.Helper()
	k, err := e.ks.For(streamID(stream), value, subject)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) links(stream uint64) []keys.Link {
	e.t.Helper()
	l, err := e.ks.Links(streamID(stream))
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) check() {
	e.t.Helper()
	if err := e.ks.Check(); err != nil {
		e.t.Fatalf("Check: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
