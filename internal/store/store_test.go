package store_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/strmlocal/strmlocal/internal/store"
)

var formatKey = []byte{store.SpaceStore, 'f', 'o', 'r', 'm', 'a', 't'}

// location is a data dir: in memory, or on disk through Options' default FS.
type location struct {
	fs  vfs.FS // nil on disk
	dir string
}

func (l location) opts() store.Options { return store.Options{Dir: l.dir, FS: l.fs} }

// rawFS is the FS for opening the directory with Pebble directly.
func (l location) rawFS() vfs.FS {
	if l.fs == nil {
		return vfs.Default
	}
	return l.fs
}

// eachLocation runs fn on a fresh in-memory data dir and on a fresh data dir
// on disk. Neither exists yet: Open creates it.
func eachLocation(t *testing.T, fn func(t *testing.T, loc location)) {
	t.Run("mem", func(t *testing.T) { fn(t, location{fs: vfs.NewMem(), dir: "data"}) })
	t.Run("disk", func(t *testing.T) { fn(t, location{dir: filepath.Join(t.TempDir(), "data")}) })
}

func mustOpen(t *testing.T, loc location) *store.Store {
	t.Helper()
	s, err := store.Open(loc.opts())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustClose(t *testing.T, s *store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// get returns the value of key, or "<none>".
func get(t *testing.T, db *pebble.DB, key []byte) string {
	t.Helper()
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return string(v)
}

// withRaw opens loc with Pebble directly (not through store), at Pebble's
// default format major version, runs fn and closes it.
func withRaw(t *testing.T, loc location, fn func(db *pebble.DB)) {
	t.Helper()
	db, err := pebble.Open(loc.dir, &pebble.Options{FS: loc.rawFS(), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	fn(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// quietLogger drops Pebble's messages; Fatalf still stops the test binary.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(string, ...any)             {}
func (quietLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func TestOpenStampsFormatVersion(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		s := mustOpen(t, loc)
		if got, want := get(t, s.DB, formatKey), "1"; got != want {
			t.Fatalf("format version = %q, want %q", got, want)
		}
		if got := s.DB.FormatMajorVersion(); got != pebble.FormatNewest {
			t.Fatalf("Pebble format major version = %d, want %d (FormatNewest)", got, pebble.FormatNewest)
		}
		key := []byte{store.SpaceCatalog, 'k'}
		if err := s.DB.Set(key, []byte("v"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		mustClose(t, s)

		s = mustOpen(t, loc)
		defer mustClose(t, s)
		if got, want := get(t, s.DB, formatKey), "1"; got != want {
			t.Fatalf("format version after reopen = %q, want %q", got, want)
		}
		if got, want := get(t, s.DB, key), "v"; got != want {
			t.Fatalf("key after reopen = %q, want %q", got, want)
		}
	})
}

func TestOpenLocked(t *testing.T) {
	// On disk the lock is the OS's; in memory it belongs to the MemFS, so
	// the second Open uses the same FS object.
	eachLocation(t, func(t *testing.T, loc location) {
		s := mustOpen(t, loc)
		_, err := store.Open(loc.opts())
		if !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second Open: %v, want ErrLocked", err)
		}
		if got, want := err.Error(), lockedMessage(loc.dir); got != want {
			t.Fatalf("second Open:\n got %s\nwant %s", got, want)
		}
		// The refused Open left the first one working.
		if err := s.DB.Set([]byte{store.SpaceCatalog, 'k'}, []byte("v"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		mustClose(t, s)

		s = mustOpen(t, loc) // the lock was released
		mustClose(t, s)
	})
}

func lockedMessage(dir string) string {
	return "store: data dir is in use: " + dir + " is locked by another running strmlocal server; stop it, or pass a different --data-dir (or --ephemeral)"
}

func TestOpenIncompatible(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]string // written with Pebble directly
		want string            // %[1]s is the dir
	}{{
		name: "other format version",
		keys: map[string]string{string(formatKey): "999"},
		want: `store: incompatible data dir: %[1]s has format version "999" but this strmlocal reads version 1; use a different --data-dir, or the strmlocal release that wrote it`,
	}, {
		name: "unparsable format version",
		keys: map[string]string{string(formatKey): "v1"},
		want: `store: incompatible data dir: %[1]s has format version "v1" but this strmlocal reads version 1; use a different --data-dir, or the strmlocal release that wrote it`,
	}, {
		name: "empty format version",
		keys: map[string]string{string(formatKey): ""},
		want: `store: incompatible data dir: %[1]s has format version "" but this strmlocal reads version 1; use a different --data-dir, or the strmlocal release that wrote it`,
	}, {
		name: "foreign key",
		keys: map[string]string{"hello": "world"},
		want: `store: incompatible data dir: %[1]s holds a database that strmlocal did not write; use a different --data-dir`,
	}, {
		name: "strmlocal key without format version",
		keys: map[string]string{string([]byte{store.SpaceLog, 's', 0, 0, 0, 0, 0, 0, 0, 1}): "x"},
		want: `store: incompatible data dir: %[1]s holds a database that strmlocal did not write; use a different --data-dir`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachLocation(t, func(t *testing.T, loc location) {
				var fmv pebble.FormatMajorVersion
				withRaw(t, loc, func(db *pebble.DB) {
					for k, v := range tt.keys {
						if err := db.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
							t.Fatal(err)
						}
					}
					fmv = db.FormatMajorVersion()
				})
				want := fmt.Sprintf(tt.want, loc.dir)
				// Twice: a refused Open must release the lock and the
				// database.
				for range 2 {
					_, err := store.Open(loc.opts())
					if !errors.Is(err, store.ErrIncompatible) {
						t.Fatalf("Open: %v, want ErrIncompatible", err)
					}
					if got := err.Error(); got != want {
						t.Fatalf("Open:\n got %s\nwant %s", got, want)
					}
				}
				// A refused database is left as it was: not stamped, and
				// not upgraded beyond what the program that wrote it reads.
				withRaw(t, loc, func(db *pebble.DB) {
					for k, v := range tt.keys {
						if got := get(t, db, []byte(k)); got != v {
							t.Errorf("key %q = %q after the refused Open, want %q", k, got, v)
						}
					}
					if _, ok := tt.keys[string(formatKey)]; !ok {
						if got := get(t, db, formatKey); got != "<none>" {
							t.Errorf("refused database was stamped with format version %q", got)
						}
					}
					if got := db.FormatMajorVersion(); got != fmv {
						t.Errorf("Pebble format major version = %d after the refused Open, want %d as written", got, fmv)
					}
				})
			})
		})
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	legacy := t.TempDir() // a Pebble (or LevelDB) layout older than Pebble reads
	if err := os.WriteFile(filepath.Join(legacy, "CURRENT"), []byte("MANIFEST-000001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    store.Options
		wantIs  error
		wantMsg string
	}{{
		name:    "no dir on disk",
		opts:    store.Options{},
		wantMsg: "store: Options.Dir is required for an on-disk store",
	}, {
		name:    "dir is a file",
		opts:    store.Options{Dir: file},
		wantMsg: "store: create data dir " + file + ": mkdir " + file + ": not a directory",
	}, {
		name:    "legacy Pebble layout",
		opts:    store.Options{Dir: legacy},
		wantIs:  store.ErrIncompatible,
		wantMsg: `store: incompatible data dir: ` + legacy + ` cannot be opened (pebble: database "` + legacy + `" was written in format major version 1, which is no longer supported); use a different --data-dir, or move this one away`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(tt.opts)
			if err == nil {
				mustClose(t, s)
				t.Fatalf("Open succeeded, want %s", tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open: %v, want errors.Is %v", err, tt.wantIs)
			}
			for _, sentinel := range []error{store.ErrLocked, store.ErrIncompatible} {
				if sentinel != tt.wantIs && errors.Is(err, sentinel) {
					t.Errorf("Open: %v is %v", err, sentinel)
				}
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("Open:\n got %s\nwant %s", got, tt.wantMsg)
			}
		})
	}
}

func TestOpenInMemoryWithoutDir(t *testing.T) {
	s, err := store.Open(store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := get(t, s.DB, formatKey), "1"; got != want {
		t.Fatalf("format version = %q, want %q", got, want)
	}
	mustClose(t, s)
}

// lockErrFS is an in-memory FS whose Lock fails with err.
type lockErrFS struct {
	vfs.FS
	err func(name string) error
}

func (f lockErrFS) Lock(name string) (io.Closer, error) { return nil, f.err(name) }

func TestOpenLockErrors(t *testing.T) {
	// On unix the lock is fcntl(F_SETLK), which reports a conflict as a
	// bare EAGAIN or EACCES; creating the LOCK file can fail with EACCES
	// too (a dir this user may not write), and that is no conflict.
	tests := []struct {
		name    string
		err     func(name string) error
		locked  bool
		wantMsg string
	}{{
		name:    "conflict EAGAIN",
		err:     func(string) error { return syscall.EAGAIN },
		locked:  true,
		wantMsg: lockedMessage("data"),
	}, {
		name:    "conflict EACCES",
		err:     func(string) error { return syscall.EACCES },
		locked:  true,
		wantMsg: lockedMessage("data"),
	}, {
		name:    "LOCK file not writable",
		err:     func(name string) error { return &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES} },
		wantMsg: "store: lock data dir data: open data/LOCK: permission denied",
	}, {
		name:    "LOCK file on a read-only file system",
		err:     func(name string) error { return &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS} },
		wantMsg: "store: lock data dir data: open data/LOCK: read-only file system",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(store.Options{Dir: "data", FS: lockErrFS{FS: vfs.NewMem(), err: tt.err}})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, store.ErrLocked); got != tt.locked {
				t.Errorf("errors.Is(%v, ErrLocked) = %t, want %t", err, got, tt.locked)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("Open:\n got %s\nwant %s", got, tt.wantMsg)
			}
		})
	}
}

// lockChildEnv names the data dir a child process of
// TestOpenLockedByAnotherProcess opens and holds until it is killed.
const lockChildEnv = "STRMLOCAL_STORE_LOCK_CHILD"

func TestOpenLockedByAnotherProcess(t *testing.T) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		holdLock(dir)
	}
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLockedByAnotherProcess$", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	var stderr bytes.Buffer // read only after Wait
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if killed {
			return
		}
		killed = true
		if err := cmd.Process.Kill(); err != nil {
			t.Error(err)
		}
		_ = cmd.Wait() // an error: it was killed
	}
	defer kill()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		kill()
		t.Fatalf("child said %q (%v), want \"ready\\n\"; stderr:\n%s", line, err, &stderr)
	}
	_, err = store.Open(store.Options{Dir: dir})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("Open while another process holds the dir: %v, want ErrLocked", err)
	}
	if got, want := err.Error(), lockedMessage(dir); got != want {
		t.Fatalf("Open while another process holds the dir:\n got %s\nwant %s", got, want)
	}

	kill() // the OS releases the lock of a dead process
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after the other process died: %v", err)
	}
	mustClose(t, s)
}

// holdLock is the child process of TestOpenLockedByAnotherProcess: it opens
// dir, says so, and blocks until it is killed.
func holdLock(dir string) {
	if _, err := store.Open(store.Options{Dir: dir}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if _, err := os.Stdout.WriteString("ready\n"); err != nil {
		os.Exit(3)
	}
	select {}
}
