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
		FS:     walFS{opts.FS},
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

// walFS passes everything to the FS below, except that WAL files are not
// preallocated: Pebble preallocates each WAL to 1.1x MemTableSize (35 MiB
// of allocated blocks for an empty data dir). A WAL grows as it is written
// instead; the log benchmark shows no difference (docs/storage.md).
type walFS struct{ vfs.FS }

const walCategory vfs.DiskWriteCategory = "pebble-wal"

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return wrapWAL(f, err, category)
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return wrapWAL(f, err, category)
}

func (fs walFS) Unwrap() vfs.FS { return fs.FS }

func wrapWAL(f vfs.File, err error, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err != nil || category != walCategory {
		return f, err
	}
	return unpreallocated{f}, nil
}

type unpreallocated struct{ vfs.File }

func (unpreallocated) Preallocate(offset, length int64) error { return nil }
