package store

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// pebbleOptions are the Pebble settings of every store; docs/storage.md
// says why each is what it is. h hears Pebble's log and its corruption
// reports; repeated background errors are logged once a window.
func pebbleOptions(opts Options, lock *pebble.Lock, h *health) *pebble.Options {
	listener := h.listener()
	listener.BackgroundError = newRepeatLimiter(opts.Logger).backgroundError
	popts := &pebble.Options{
		FS:     newWALFS(opts.FS),
		Lock:   lock,
		Logger: h,
		// A large memtable keeps synced group commits from stalling on
		// flushes (the log benchmark gained about 1.7x at 64 MiB over the
		// 4 MiB default). Under full-speed ingest two are in memory (one
		// flushing), so 32 MiB keeps a server at about 200 MB RSS
		// (docs/performance.md). Pebble starts memtables small and grows
		// them, so a small sandbox does not pay for it in memory; walFS
		// keeps it from costing disk (Pebble preallocates each WAL to 1.1x
		// this size).
		MemTableSize: 32 << 20,
		// Obsolete WALs are deleted, not kept for reuse: Pebble would keep
		// up to MemTableStopWritesThreshold+1 of them, each as large as the
		// memtable it logged, until the next start.
		Cleaner: deleteCleaner{},
		// The MANIFEST is rewritten from a snapshot past this size; Pebble's
		// default (128 MiB) would let an idle sandbox's grow that far.
		MaxManifestFileSize: 4 << 20,
		EventListener:       listener,
	}
	// Bloom filters on every level (a level takes the filter of the one
	// above it): ingest looks up the current key link of every session
	// value it has not seen since start, and most of those lookups miss.
	popts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return popts
}

// deleteCleaner deletes obsolete files: its Clean is pebble.DeleteCleaner's.
// The ArchiveCleaner one level down adds only the marker Pebble looks for
// to turn WAL recycling off (a cleaner that "needs the file contents"); its
// Clean is shadowed by the shallower one.
type deleteCleaner struct {
	pebble.DeleteCleaner
	noRecycle
}

type noRecycle struct{ pebble.ArchiveCleaner }

// walFS passes everything to the FS below except WAL files. Pebble would
// preallocate each WAL to 1.1x MemTableSize (35 MiB of allocated blocks for
// an empty data dir); instead a WAL on the real disk is written ahead with
// zeros a step at a time (zeroAhead), and one in memory just grows
// (docs/storage.md).
type walFS struct {
	vfs.FS
	zero bool // WALs are written ahead with zeros: the FS is the real disk
}

func newWALFS(fs vfs.FS) walFS { return walFS{FS: fs, zero: vfs.Root(fs) == vfs.Default} }

const walCategory vfs.DiskWriteCategory = "pebble-wal"

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrapWAL(f, err, category)
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrapWAL(f, err, category)
}

func (fs walFS) Unwrap() vfs.FS { return fs.FS }

func (fs walFS) wrapWAL(f vfs.File, err error, category vfs.DiskWriteCategory) (vfs.File, error) {
	switch {
	case err != nil || category != walCategory:
		return f, err
	case fs.zero:
		return &zeroAhead{File: f}, nil
	default:
		return unpreallocated{f}, nil
	}
}

type unpreallocated struct{ vfs.File }

func (unpreallocated) Preallocate(offset, length int64) error { return nil }

// The zeros reach past a write that runs out of them by as much as the WAL
// holds, at least minZeroStep and at most zeroStep: a fill is a write of
// zeros and an fsync (about 1.5 ms for 1 MiB on a VM's disk), so a busy
// WAL pays one per MiB of log, and a WAL of a few small writes (a start)
// zeroes only 64 KiB. At most zeroStep of disk per WAL, and none once it
// is closed.
const (
	minZeroStep = 64 << 10
	zeroStep    = 1 << 20
)

var zeros [64 << 10]byte

// zeroAhead is a WAL file that holds written and synced zeros ahead of
// what Pebble wrote. A group commit's fsync then only flushes data into
// blocks the file already has: after a write that grows the file, the
// fsync must also commit the new size (a journal commit on ext4), which
// takes about twice the time and CPU. Pebble reads a WAL's zeroed tail as
// its end, as after its own preallocation, and so does the damage check
// (records.go, endZeroed).
//
// Pebble writes a WAL from one goroutine, by appending only (Write, never
// WriteAt), so off is where the next write lands.
type zeroAhead struct {
	vfs.File
	off    int64 // bytes Pebble wrote
	zeroed int64 // zeros are written and synced up to here
}

func (f *zeroAhead) Write(p []byte) (int, error) {
	if end := f.off + int64(len(p)); end > f.zeroed {
		if err := f.zeroTo(end); err != nil {
			return 0, err
		}
	}
	n, err := f.File.Write(p)
	f.off += int64(n)
	return n, err
}

// zeroTo writes zeros from f.zeroed on past end (see zeroStep) and syncs
// them.
func (f *zeroAhead) zeroTo(end int64) error {
	to := end + min(max(end, minZeroStep), zeroStep)
	for at := f.zeroed; at < to; {
		n, err := f.File.WriteAt(zeros[:min(int64(len(zeros)), to-at)], at)
		if err != nil {
			return err
		}
		at += int64(n)
	}
	if err := f.File.SyncData(); err != nil {
		return err
	}
	f.zeroed = to
	return nil
}

// Preallocate does nothing: the zeros are written as the WAL grows.
func (*zeroAhead) Preallocate(offset, length int64) error { return nil }

// Close cuts the zeros off a WAL that Pebble has closed (it wrote and
// synced its end-of-log trailer first): the next start then reads no
// zeros, and a WAL that stays until its memtable is flushed takes no disk
// for them. A cut that fails, or that a crash undoes, leaves zeros that
// read as the WAL's end, as they did while it was open.
func (f *zeroAhead) Close() error {
	if t, ok := truncater(f.File); ok && f.zeroed > f.off {
		_ = t.Truncate(f.off)
	}
	return f.File.Close()
}

// truncater is the file of the disk under f (an *os.File, in Pebble's
// file), past a Disk's wrapping.
func truncater(f vfs.File) (interface{ Truncate(size int64) error }, bool) {
	if d, ok := f.(*diskFile); ok {
		f = d.File
	}
	t, ok := f.(interface{ Truncate(size int64) error })
	return t, ok
}
