package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// repairsFile, in the data dir, holds one line per repair: what it dropped.
// Open logs every line as a warning, so a repaired data dir always says what
// it lost.
const repairsFile = "REPAIRS"

// reportRepairs logs the data dir's repair records.
func reportRepairs(fs vfs.FS, dir string, l *slog.Logger) error {
	f, err := fs.Open(fs.PathJoin(dir, repairsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			l.Warn("this data dir was repaired: " + line)
		}
	}
	return sc.Err()
}

// Repair is a data dir held locked while a repair of its WAL is looked at
// and, if confirmed, applied (docs/storage.md). A repair drops everything
// from where the damaged WAL's valid records stop: the rest of that file
// and every later WAL. Nothing else can be kept: the writes after the
// damage follow writes that are gone, and keeping them would leave gaps.
type Repair struct {
	// Damage is what is damaged and what the repair drops; nil when the
	// WALs are intact (then Survivor is the database as it is).
	Damage *WALDamage
	// Survivor is a read-only view of the database as the repair leaves
	// it. Close closes it.
	Survivor *pebble.DB

	fs    vfs.FS
	dir   string
	lock  *pebble.Lock
	popts *pebble.Options
}

// OpenRepair locks the data dir of opts and finds what a repair would do.
// It changes nothing. A damaged MANIFEST is refused: a repair cannot mend
// it.
func OpenRepair(opts Options) (*Repair, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	desc, err := pebble.Peek(opts.Dir, opts.FS)
	if err != nil || !desc.Exists {
		return nil, fmt.Errorf("store: %s holds no strmlocal data dir", opts.Dir)
	}
	lock, err := pebble.LockDirectory(opts.Dir, opts.FS)
	if err != nil {
		if isLockConflict(err) {
			return nil, fmt.Errorf("%w: %s is locked by a running strmlocal server; stop it first", ErrLocked, opts.Dir)
		}
		return nil, fmt.Errorf("store: lock data dir %s: %w", opts.Dir, err)
	}
	h := newHealth(opts.Logger)
	popts := &pebble.Options{FS: opts.FS, Lock: lock, Logger: h, EventListener: h.listener()}
	r := &Repair{fs: opts.FS, dir: opts.Dir, lock: lock, popts: popts}
	if err := checkRecordFiles(opts.FS, opts.Dir, popts); err != nil {
		var d *WALDamage
		if !errors.As(err, &d) {
			_ = lock.Close()
			return nil, err
		}
		r.Damage = d
	}
	view := &viewFS{FS: opts.FS}
	if d := r.Damage; d != nil {
		view.cut = map[string]int64{opts.FS.PathBase(d.File): d.Offset}
		view.hidden = map[string]bool{}
		for _, n := range d.Later {
			view.hidden[n] = true
		}
	}
	o := popts.Clone()
	o.FS, o.ReadOnly = view, true
	r.Survivor, err = pebble.Open(opts.Dir, o)
	if err != nil {
		_ = lock.Close()
		return nil, openError(opts.Dir, err)
	}
	return r, nil
}

// Apply performs the repair: it appends report (one line saying what is
// dropped) to the data dir's repair records, which every later Open logs,
// then cuts the damaged WAL at its last valid record and removes the later
// ones. The record is written first, so that a crash in between leaves the
// damage (which refuses the start again) rather than an unreported loss.
func (r *Repair) Apply(report string) error {
	d := r.Damage
	if d == nil {
		return nil
	}
	if err := r.Survivor.Close(); err != nil {
		return err
	}
	r.Survivor = nil
	fs := r.fs
	if err := appendLine(fs, fs.PathJoin(r.dir, repairsFile), strings.ReplaceAll(report, "\n", " ")); err != nil {
		return fmt.Errorf("store: record the repair: %w", err)
	}
	if err := copyPrefix(fs, d.File, d.File+".repair", d.Offset); err != nil {
		return fmt.Errorf("store: cut %s: %w", d.File, err)
	}
	if err := fs.Rename(d.File+".repair", d.File); err != nil {
		return fmt.Errorf("store: cut %s: %w", d.File, err)
	}
	for _, n := range d.Later {
		if err := fs.Remove(fs.PathJoin(r.dir, n)); err != nil {
			return fmt.Errorf("store: remove %s: %w", n, err)
		}
	}
	return syncDir(fs, r.dir)
}

// Close releases the data dir.
func (r *Repair) Close() error {
	var err error
	if r.Survivor != nil {
		err = r.Survivor.Close()
		r.Survivor = nil
	}
	return errors.Join(err, r.lock.Close())
}

func appendLine(fs vfs.FS, path, line string) error {
	var old []byte
	if f, err := fs.Open(path); err == nil {
		old, err = io.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := fs.Create(path+".new", vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(append(old, line+"\n"...))
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	return fs.Rename(path+".new", path)
}

func copyPrefix(fs vfs.FS, from, to string, n int64) error {
	src, err := fs.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := fs.Create(to, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = io.CopyN(dst, src, n)
	if err == nil {
		err = dst.Sync()
	}
	return errors.Join(err, dst.Close())
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
