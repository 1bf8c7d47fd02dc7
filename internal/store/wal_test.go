package store_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/strmlocal/strmlocal/internal/store"
)

// walDir writes 1,000 keys in 50 synced batches of 20 and closes the store:
// they stay in the WAL (the memtable is not flushed on close), and all in
// one. It returns that WAL's name.
func walDir(t *testing.T, loc location) string {
	t.Helper()
	s := mustOpen(t, loc)
	for i := 0; i < total; i += perBatch {
		fillKeys(t, s.DB, i, perBatch)
	}
	mustClose(t, s)
	wals := files(t, loc, ".log")
	return wals[len(wals)-1]
}

const total, perBatch = 1000, 20

// walEnd is where the records of a WAL end: on disk a WAL is written ahead
// with zeros (options.go, zeroAhead).
func walEnd(t *testing.T, loc location, wal string) int64 {
	t.Helper()
	n := store.WALData(loc.rawFS(), loc.rawFS().PathJoin(loc.dir, wal))
	if n == 0 {
		t.Fatalf("WAL %s holds nothing", wal)
	}
	return n
}

// Defect: a flipped byte in the newest WAL silently dropped every write
// after it (Pebble treats a bad record as the end of the log). Open must
// refuse, naming the file and the offsets; repair says what it drops, drops
// it, and Open then starts with exactly the rest.
func TestWALByteFlipRefusesToStartAndRepairDropsExactlyTheRest(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		wal := walDir(t, loc)
		size := fileSize(t, loc, wal)
		flipByte(t, loc, wal, walEnd(t, loc, wal)/2)
		path := loc.rawFS().PathJoin(loc.dir, wal)

		s, err := store.Open(loc.opts())
		if err == nil {
			lost := get(t, s.DB, fmt.Appendf([]byte{store.SpaceLog}, "key-%08d", total-1)) == "<none>"
			mustClose(t, s)
			t.Fatalf("Open accepted a damaged WAL (last write lost: %v)", lost)
		}
		var d *store.WALDamage
		if !errors.As(err, &d) || !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Open: %v, want a WALDamage", err)
		}
		want := regexp.QuoteMeta("store: data dir is corrupt: write-ahead log "+path+" is damaged at offset ") +
			`\d+ \(checksum mismatch; valid records end at offset \d+ of ` + fmt.Sprint(size) + ` bytes, \d+ intact batches follow it\); ` +
			regexp.QuoteMeta("starting would silently drop everything after it: run `strmlocal repair --data-dir "+loc.dir+"` to see exactly what is lost and drop it, or restore the data dir from a copy")
		if !regexp.MustCompile("^" + want + "$").MatchString(err.Error()) {
			t.Fatalf("Open: %q\nwant %q", err, want)
		}

		r, err := store.OpenRepair(loc.opts())
		if err != nil {
			t.Fatal(err)
		}
		if r.Damage == nil || r.Damage.Offset != d.Offset || r.Damage.BadAt != d.BadAt {
			t.Fatalf("repair sees %+v, Open saw %+v", r.Damage, d)
		}
		// The survivor view holds a prefix of the batches; the lost batches
		// hold exactly the rest, in order.
		kept := 0
		for i := 0; i < total; i++ {
			v, closer, err := r.Survivor.Get(fmt.Appendf([]byte{store.SpaceLog}, "key-%08d", i))
			if err != nil {
				break
			}
			_ = v
			closer.Close()
			kept++
		}
		if kept == 0 || kept%perBatch != 0 || kept == total {
			t.Fatalf("survivor keeps %d keys, want a whole number of batches, not all", kept)
		}
		next := kept + perBatch // the damaged batch itself is not readable
		for _, b := range r.Damage.Lost {
			if got, want := string(b.Writes[0].Key[1:]), fmt.Sprintf("key-%08d", next); got != want || len(b.Writes) != perBatch {
				t.Fatalf("lost batch at %d starts with %s (%d writes), want %s (%d)", b.Offset, got, len(b.Writes), want, perBatch)
			}
			next += perBatch
		}
		if dm := r.Damage.Damaged; dm == nil || dm.Offset != r.Damage.Offset || len(dm.Writes) == 0 || string(dm.Writes[0].Key[1:]) != fmt.Sprintf("key-%08d", kept) {
			t.Fatalf("damaged batch read as %+v, want the batch at %d starting at key %d", dm, r.Damage.Offset, kept)
		}
		if next != total {
			t.Fatalf("lost batches end at key %d, want %d", next, total)
		}
		if err := r.Apply("test: dropped keys " + fmt.Sprint(kept) + " to the end"); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}

		s = mustOpen(t, loc)
		defer mustClose(t, s)
		if got := get(t, s.DB, fmt.Appendf([]byte{store.SpaceLog}, "key-%08d", kept-1)); got == "<none>" {
			t.Fatalf("key %d lost by the repair", kept-1)
		}
		if got := get(t, s.DB, fmt.Appendf([]byte{store.SpaceLog}, "key-%08d", kept)); got != "<none>" {
			t.Fatalf("key %d survived the repair", kept)
		}
	})
}

// The ways a WAL normally ends are not damage: preallocated zeros after the
// last record, and a last write that never finished.
func TestWALNormalEndsAreNotDamage(t *testing.T) {
	cases := map[string]func(t *testing.T, loc location, wal string){
		"preallocated zeros": func(t *testing.T, loc location, wal string) {
			f, err := loc.rawFS().OpenReadWrite(loc.rawFS().PathJoin(loc.dir, wal), vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(make([]byte, 100_000), walEnd(t, loc, wal)); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		},
		"unfinished last write": func(t *testing.T, loc location, wal string) {
			path := loc.rawFS().PathJoin(loc.dir, wal)
			// Cut inside the last record's chunks (a record of 100 keys spans
			// blocks), as a crash during an unacknowledged write leaves it.
			data := make([]byte, walEnd(t, loc, wal)-1000)
			f, err := loc.rawFS().Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.ReadAt(data, 0); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
			g, err := loc.rawFS().Create(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Write(data); err != nil {
				t.Fatal(err)
			}
			_ = g.Close()
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			eachLocation(t, func(t *testing.T, loc location) {
				wal := walDir(t, loc)
				damage(t, loc, wal)
				mustClose(t, mustOpen(t, loc))
			})
		})
	}
}
