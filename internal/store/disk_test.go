package store_test

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/tmpfs"
)

// fullFS fails every write with ENOSPC while full is set, as a full disk
// does, and says so on hit the first time.
type fullFS struct {
	vfs.FS
	full atomic.Bool
	hit  chan struct{}
	once atomic.Bool
}

func (fs *fullFS) enospc(name string) error {
	if !fs.full.Load() {
		return nil
	}
	if fs.once.CompareAndSwap(false, true) {
		close(fs.hit)
	}
	return &os.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}
}

func (fs *fullFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.enospc(name); err != nil {
		return nil, err
	}
	f, err := fs.FS.Create(name, c)
	return &fullFile{f, fs, name}, err
}

type fullFile struct {
	vfs.File
	fs   *fullFS
	name string
}

func (f *fullFile) Write(p []byte) (int, error) {
	if err := f.fs.enospc(f.name); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

// TestStorageFullWritesWait: after ENOSPC a store stayed broken until a
// restart (Pebble's WAL keeps its first error). Through a store.Disk, a
// write that meets a full disk waits for space, the disk reports itself
// full meanwhile (without file names), and the write completes once space
// is back.
func TestStorageFullWritesWait(t *testing.T) {
	ffs := &fullFS{FS: vfs.NewMem(), hit: make(chan struct{})}
	disk := store.NewDisk(ffs, "data", store.DiskOptions{Retry: time.Millisecond})
	s, err := store.Open(store.Options{Dir: "data", FS: disk})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer disk.Release() // first: a failed check must not leave Close waiting for space
	disk.Running()
	if err := disk.Full(); err != nil {
		t.Fatalf("Full before: %v", err)
	}
	ffs.full.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.DB.Set([]byte{store.SpaceLog, 1}, []byte("v"), pebble.Sync) }()
	<-ffs.hit
	// The write counts itself as waiting just after its first ENOSPC, so
	// Full can still say nil for a moment after hit.
	for err = disk.Full(); err == nil; err = disk.Full() {
		runtime.Gosched()
	}
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("Full while a write waits = %v, want ErrFull", err)
	}
	if want := "storage full: a write is waiting for space on the disk of the data dir; free some space and writes resume by themselves"; err.Error() != want {
		t.Fatalf("Full = %q, want %q", err, want)
	}
	select {
	case err := <-done:
		t.Fatalf("the write returned %v on a full disk, want it to wait", err)
	default:
	}
	ffs.full.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("the write after space came back: %v", err)
	}
	if err := disk.Full(); err != nil {
		t.Fatalf("Full after: %v", err)
	}
	if err := s.DB.Set([]byte{store.SpaceLog, 2}, []byte("w"), pebble.Sync); err != nil {
		t.Fatalf("a later write: %v", err)
	}
	for _, k := range []byte{1, 2} {
		if _, c, err := s.DB.Get([]byte{store.SpaceLog, k}); err != nil {
			t.Fatalf("read back %d: %v", k, err)
		} else {
			c.Close()
		}
	}
}

// TestStorageFullRelease: Close must not wait forever for a write waiting
// for space: Release makes it give up.
func TestStorageFullRelease(t *testing.T) {
	ffs := &fullFS{FS: vfs.NewMem(), hit: make(chan struct{})}
	disk := store.NewDisk(ffs, "data", store.DiskOptions{Retry: time.Millisecond})
	s, err := store.Open(store.Options{Dir: "data", FS: disk})
	if err != nil {
		t.Fatal(err)
	}
	disk.Running()
	ffs.full.Store(true)
	b := s.DB.NewBatch()
	_ = b.Set([]byte{store.SpaceLog, 1}, []byte("v"), nil)
	if err := s.DB.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	<-ffs.hit
	disk.Release()
	if err := b.SyncWait(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("SyncWait after Release = %v, want ENOSPC", err)
	}
	b.Close()
	_ = s.Close() // the WAL's error, or none: it must return
}

// TestStartOnFullDisk: starting on a full disk spun at ~94% CPU in
// Pebble's flush retries, logging an error each time, and never returned.
// CheckOpen refuses at once, in one line, counting the WAL to replay.
func TestStartOnFullDisk(t *testing.T) {
	root := tmpfs.Mount(t, 32<<20)
	dir := root + "/data"
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := s.DB.Set([]byte{store.SpaceLog, byte(i >> 8), byte(i)}, make([]byte, 1000), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	free := tmpfs.Fill(t, root)
	err = store.NewDisk(nil, dir, store.DiskOptions{}).CheckOpen()
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("CheckOpen on a full disk = %v, want ErrFull", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "storage full: the disk of the data dir has 0 B free; strmlocal needs 17.0 MiB to start (") ||
		!strings.Contains(msg, "to flush its write-ahead log and 16.0 MiB kept free); free some space and start again") || strings.Contains(msg, root) {
		t.Fatalf("CheckOpen = %q", msg)
	}
	free()
	if err := store.NewDisk(nil, dir, store.DiskOptions{}).CheckOpen(); err != nil {
		t.Fatalf("CheckOpen with space: %v", err)
	}
}
