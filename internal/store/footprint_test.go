package store_test

import (
	"crypto/rand"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// usage is what du measures of a directory: allocated blocks, and the
// apparent size of the sstables.
type usage struct{ allocated, tables int64 }

func diskUsage(t *testing.T, dir string) usage {
	t.Helper()
	var u usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			return err
		}
		u.allocated += st.Blocks * 512
		if strings.HasSuffix(path, ".sst") {
			u.tables += st.Size
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDiskFootprint: an empty data dir took 71 MB on disk (a WAL
// preallocated to 1.1x the memtable size), and written data took many
// times its size (preallocated and recycled WALs) until a restart.
func TestDiskFootprint(t *testing.T) {
	const maxIdle = 8 << 20
	dir := filepath.Join(t.TempDir(), "data")
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Pebble preallocates a WAL at its first write.
	if err := s.DB.Set([]byte{store.SpaceLog}, []byte("x"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if u := diskUsage(t, dir); u.allocated > maxIdle {
		t.Fatalf("a fresh data dir takes %d bytes on disk, want at most %d", u.allocated, maxIdle)
	}
	// 32 MiB in batches of 256 values of 512 bytes: the memtable grows and
	// rotates (with its WAL) several times on the way.
	val := make([]byte, 512)
	var key [9]byte
	key[0] = store.SpaceLog
	for i := range 256 {
		b := s.DB.NewBatch()
		for j := range 256 {
			rand.Read(val)
			binary.BigEndian.PutUint64(key[1:], uint64(i*256+j))
			if err := b.Set(key[:], val, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	if u := diskUsage(t, dir); u.allocated > 3*32<<20 {
		t.Errorf("32 MiB written, not flushed: %d bytes on disk, want at most 3x", u.allocated)
	}
	if err := s.DB.Flush(); err != nil {
		t.Fatal(err)
	}
	s.DB.TestOnlyWaitForCleaning() // obsolete files are deleted in the background
	u := diskUsage(t, dir)
	if u.tables < 32<<20 {
		t.Fatalf("sstables hold %d bytes, want at least the 32 MiB written", u.tables)
	}
	if limit := u.tables * 3 / 2; u.allocated > limit {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("flushed: %d bytes on disk for %d of sstables, want at most 1.5x (%d); files: %v", u.allocated, u.tables, limit, names)
	}
}
