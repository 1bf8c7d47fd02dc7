package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// FormatVersion is the version of the on-disk layout this build reads and
// writes. Bump it whenever a key space changes incompatibly.
const FormatVersion = 1

// Key spaces: the first byte of every key. Each space belongs to one package.
const (
	SpaceStore   byte = 0x01 // store: format version
	SpaceCatalog byte = 0x02 // catalog: streams (schemas and contracts follow)
	SpaceLog     byte = 0x03 // log: records, time index, per-stream state
	SpaceKeys    byte = 0x04 // keys: key links and keysets
)

var formatKey = []byte{SpaceStore, 'f', 'o', 'r', 'm', 'a', 't'}

var (
	// ErrLocked is returned when another process (or another Store in this
	// process) has the data dir open.
	ErrLocked = errors.New("store: data dir is in use")
	// ErrIncompatible is returned when the data dir holds a format this build
	// cannot read.
	ErrIncompatible = errors.New("store: incompatible data dir")
)

// Options configure Open. The zero value is not valid: set Dir, or FS for an
// in-memory store.
type Options struct {
	// Dir is the directory of the database. It is created if missing.
	// Default: "" (only allowed together with an in-memory FS).
	Dir string
	// FS is the file system. Default: vfs.Default (the real disk). Use
	// vfs.NewMem() for an in-memory store.
	FS vfs.FS
	// Logger receives Pebble's own messages at debug level (errors at error
	// level). Default: a logger that discards everything.
	Logger *slog.Logger
}

// Store is an open database. Its DB is shared by the packages that own the
// key spaces above.
type Store struct {
	DB *pebble.DB
	// KV is DB as the state of the catalogue and the keys (PebbleKV).
	KV   KV
	dir  string
	lock *pebble.Lock // our reference; Pebble holds its own while open
	h    *health
}

// Open opens (creating if needed) the database described by opts.
func Open(opts Options) (*Store, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
		if opts.Dir == "" {
			return nil, errors.New("store: Options.Dir is required for an on-disk store")
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.FS.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create data dir %s: %w", opts.Dir, err)
	}
	lock, err := pebble.LockDirectory(opts.Dir, opts.FS)
	if err != nil {
		if isLockConflict(err) {
			return nil, fmt.Errorf("%w: %s is locked by another running strmlocal server; stop it, or pass a different --data-dir (or --ephemeral)", ErrLocked, opts.Dir)
		}
		return nil, fmt.Errorf("store: lock data dir %s: %w", opts.Dir, err)
	}
	h := newHealth(opts.Logger)
	popts := pebbleOptions(opts, lock, h)
	// Pebble reads past a damaged MANIFEST or WAL record as if the file
	// ended there; look first (damage.go).
	if err := checkRecordFiles(opts.FS, opts.Dir, popts); err != nil {
		_ = lock.Close()
		return nil, err
	}
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		_ = lock.Close()
		return nil, openError(opts.Dir, err)
	}
	s := &Store{DB: db, KV: PebbleKV(db), dir: opts.Dir, lock: lock, h: h}
	if err := verifyTables(db, opts.FS, opts.Dir, popts); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w%s", err, corruptAdvice)
	}
	if err := s.checkFormat(); err != nil {
		_ = s.Close()
		return nil, s.OpenFailed(err)
	}
	// Upgrade the Pebble format only now: Pebble's Open would ratchet it
	// before checkFormat could refuse the database, and a refused database
	// must stay readable by the program (or strmlocal release) that wrote it.
	if err := db.RatchetFormatMajorVersion(pebble.FormatNewest); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: upgrade data dir %s: %w", opts.Dir, err)
	}
	if err := reportRepairs(opts.FS, opts.Dir, opts.Logger); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// corruptAdvice ends the message of an Open refused for a corrupt file.
const corruptAdvice = "; `strmlocal repair` cannot mend a table: restore the data dir from a copy, or move it away to start afresh"

// OpenFailed is what an open that failed with err says: the corruption
// Pebble reported meanwhile, if it met one (one line that names the file,
// with what to do), else err. A table damaged after the Open that checked
// it (verifyTables checks each once) is met by a read, and the reads made
// while a server opens (the format, the log's ends, the catalogue) would
// otherwise fail with Pebble's own error. The owner of the store calls it
// for the errors of what it opens on top.
func (s *Store) OpenFailed(err error) error {
	if c := s.Corruption(); c != nil {
		return fmt.Errorf("%w%s", c, corruptAdvice)
	}
	return err
}

// checkFormat stamps a new database with FormatVersion, and refuses one that
// carries another version or that holds keys but no version at all (not a
// strmlocal database).
func (s *Store) checkFormat() error {
	v, closer, err := s.DB.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%w: %s holds a database that strmlocal did not write; use a different --data-dir", ErrIncompatible, s.dir)
		}
		return s.DB.Set(formatKey, []byte(strconv.Itoa(FormatVersion)), pebble.Sync)
	case err != nil:
		return fmt.Errorf("store: read format version: %w", err)
	}
	defer closer.Close()
	got, err := strconv.Atoi(string(v))
	if err != nil || got != FormatVersion {
		return fmt.Errorf("%w: %s has format version %q but this strmlocal reads version %d; use a different --data-dir, or the strmlocal release that wrote it",
			ErrIncompatible, s.dir, v, FormatVersion)
	}
	return nil
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.DB.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// Close closes the database and releases the directory lock.
func (s *Store) Close() error {
	return errors.Join(s.DB.Close(), s.lock.Close())
}

func isLockConflict(err error) bool {
	// Creating the LOCK file failed (EACCES: a dir this user may not
	// write): no conflict, whatever the errno. The lock call itself
	// returns a bare errno.
	var perr *fs.PathError
	if errors.As(err, &perr) {
		return false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno == syscall.EAGAIN || errno == syscall.EACCES
	}
	// Pebble refuses a second lock from the same process with this text.
	return err.Error() == "lock held by current process"
}
