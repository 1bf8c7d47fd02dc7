package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A WAL on disk holds zeros ahead of what was written (see zeroStep), so a
// group commit's fsync does not grow the file, and is cut to its writes at
// Close; a WAL in memory just grows.
func TestWALWrittenAheadWithZeros(t *testing.T) {
	path := filepath.Join(t.TempDir(), "000001.log")
	f, err := newWALFS(vfs.Default).Create(path, walCategory)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i, tc := range []struct {
		write    int
		wantSize int64
	}{
		{100, 100 + minZeroStep},             // the first write: the least step
		{700 << 10, 2 * 716900},              // past the zeros: as much again as the file holds
		{400 << 10, 2 * 716900},              // inside them
		{2*zeroStep + 5, 3223657 + zeroStep}, // past them: at most zeroStep
	} {
		p := bytes.Repeat([]byte{byte(i + 1)}, tc.write)
		want = append(want, p...)
		if n, err := f.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		if err := f.SyncData(); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != tc.wantSize {
			t.Fatalf("after write %d: %d bytes on disk, want %d", i, info.Size(), tc.wantSize)
		}
		if got := walData(vfs.Default, path); got != int64(len(want)) {
			t.Fatalf("after write %d: walData = %d, want %d", i, got, len(want))
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("closed, the file holds %d bytes, want the %d written (Close cuts the zeros off)", len(got), len(want))
	}

	mem := vfs.NewMem()
	g, err := newWALFS(mem).Create("000001.log", walCategory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if info, err := g.Stat(); err != nil || info.Size() != 3 {
		t.Fatalf("a WAL in memory: %v, %v; want 3 bytes", info, err)
	}
	_ = g.Close()
}

// Writes of every size, synced now and then: the zeros never land on a
// written byte.
func TestWALZerosNeverOverwriteWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "000001.log")
	f, err := newWALFS(vfs.Default).Create(path, walCategory)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 1500 {
		p := bytes.Repeat([]byte{byte(i%255 + 1)}, 1+(i*7919)%(16<<10))
		want = append(want, p...)
		if _, err := f.Write(p); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := f.SyncData(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("the file's first %d bytes are not the writes", len(want))
	}
	if !bytes.Equal(got[len(want):], make([]byte, len(got)-len(want))) {
		t.Fatal("bytes other than zeros follow the writes")
	}
}

// Through the Disk a server's store writes on, the zeros are written ahead
// and cut off at Close as well.
func TestWALZerosThroughDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "000001.log")
	f, err := newWALFS(NewDisk(nil, dir, DiskOptions{})).Create(path, walCategory)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != 3+minZeroStep {
		t.Fatalf("open: %v, %v; want %d bytes", info, err, 3+minZeroStep)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != 3 {
		t.Fatalf("closed: %v, %v; want 3 bytes", info, err)
	}
}
