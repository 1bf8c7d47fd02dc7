package store_test

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/strmlocal/strmlocal/internal/store"
)

// fillKeys writes n keys of the log space with 100-byte values, one synced
// batch of 100 keys at a time.
func fillKeys(t testing.TB, db *pebble.DB, from, n int) {
	t.Helper()
	b := db.NewBatch()
	for i := from; i < from+n; i++ {
		k := fmt.Appendf([]byte{store.SpaceLog}, "key-%08d", i)
		if err := b.Set(k, []byte(strings.Repeat(fmt.Sprintf("v%07d", i), 13)[:100]), nil); err != nil {
			t.Fatal(err)
		}
		if (i-from)%100 == 99 || i == from+n-1 {
			if err := b.Commit(pebble.Sync); err != nil {
				t.Fatal(err)
			}
			b = db.NewBatch()
		}
	}
	_ = b.Close()
}

// files returns the base names of the data dir's files ending in suffix.
func files(t testing.TB, loc location, suffix string) []string {
	t.Helper()
	names, err := loc.rawFS().List(loc.dir)
	if err != nil {
		t.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasSuffix(n, suffix) })
	slices.Sort(names)
	return names
}

// flipByte inverts the byte at off (from the end if negative) of a file of
// the data dir, as disk rot or an attacker would, and returns the offset.
func flipByte(t testing.TB, loc location, name string, off int64) int64 {
	t.Helper()
	fs := loc.rawFS()
	path := fs.PathJoin(loc.dir, name)
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += info.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return off
}

func fileSize(t testing.TB, loc location, name string) int64 {
	t.Helper()
	info, err := loc.rawFS().Stat(loc.rawFS().PathJoin(loc.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// readAll reads every key and value of db (a value in a blob file is read
// only when asked for) and returns the first error.
func readAll(db *pebble.DB) error {
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, err := it.ValueAndErr(); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	return it.Close()
}

// Defect: a flipped byte in an .sst file crashed the server with a panic on
// every start (Pebble's corruption report reached a Fatalf that panicked).
// Open must refuse with one line that names the table and what is wrong.
func TestSSTByteFlipRefusesToStartWithoutPanic(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		s := mustOpen(t, loc)
		fillKeys(t, s.DB, 0, 5000)
		if err := s.DB.Flush(); err != nil {
			t.Fatal(err)
		}
		mustClose(t, s)
		ssts := files(t, loc, ".sst")
		if len(ssts) != 1 {
			t.Fatalf("tables %v, want one", ssts)
		}
		flipByte(t, loc, ssts[0], fileSize(t, loc, ssts[0])/2)

		s, err := store.Open(loc.opts())
		if err == nil {
			// Read every block and compact, as a start-up compaction would:
			// this is where the old code panicked.
			readErr := readAll(s.DB)
			compactErr := s.DB.Compact(t.Context(), []byte{0}, []byte{0xff}, true)
			mustClose(t, s)
			t.Fatalf("Open accepted a corrupt table (read: %v, compact: %v)", readErr, compactErr)
		}
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
		path := loc.rawFS().PathJoin(loc.dir, ssts[0])
		want := regexp.QuoteMeta("store: data dir is corrupt: table "+path+" is damaged (block ") +
			`\d+/\d+: crc32c checksum mismatch [0-9a-f]+ != [0-9a-f]+` +
			regexp.QuoteMeta("); `strmlocal repair` cannot mend a table: restore the data dir from a copy, or move it away to start afresh")
		if !regexp.MustCompile("^" + want + "$").MatchString(err.Error()) {
			t.Fatalf("Open: %q\nwant %q", err, want)
		}
		// The refusal released the data dir: it can be moved away or opened
		// again (and refused again).
		if _, err := store.Open(loc.opts()); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("second Open: %v, want ErrCorrupt", err)
		}
	})
}

// A table damaged while the server runs fails the read that meets it, and
// the store reports the corruption; nothing panics.
func TestSSTByteFlipWhileOpenFailsReadsWithoutPanic(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		s := mustOpen(t, loc)
		defer mustClose(t, s)
		fillKeys(t, s.DB, 0, 5000)
		if err := s.DB.Flush(); err != nil {
			t.Fatal(err)
		}
		ssts := files(t, loc, ".sst")
		flipByte(t, loc, ssts[len(ssts)-1], fileSize(t, loc, ssts[len(ssts)-1])/2)

		err := readAll(s.DB)
		if !pebble.IsCorruptionError(err) {
			t.Fatalf("read: %v, want a corruption error", err)
		}
		path := loc.rawFS().PathJoin(loc.dir, ssts[len(ssts)-1])
		got := s.Corruption()
		if !errors.Is(got, store.ErrCorrupt) || !strings.HasPrefix(got.Error(), "store: data dir is corrupt: "+path+": ") {
			t.Fatalf("Corruption() = %v, want ErrCorrupt naming %s", got, path)
		}
	})
}

// Defect: a corrupt MANIFEST was refused as an "incompatible data dir" (or,
// with the byte in its last record, read as empty: Pebble started with no
// tables and deleted them). It is corrupt: the refusal names the file and
// says what helps, which is not `strmlocal repair`.
func TestCorruptManifestIsReportedAsCorruptNotIncompatible(t *testing.T) {
	for _, at := range []string{"first record", "last record"} {
		t.Run(at, func(t *testing.T) {
			eachLocation(t, func(t *testing.T, loc location) {
				s := mustOpen(t, loc)
				fillKeys(t, s.DB, 0, 1000)
				if err := s.DB.Flush(); err != nil {
					t.Fatal(err)
				}
				mustClose(t, s)
				desc, err := pebble.Peek(loc.dir, loc.rawFS())
				if err != nil {
					t.Fatal(err)
				}
				name := loc.rawFS().PathBase(desc.ManifestFilename)
				off := int64(10)
				if at == "last record" {
					off = -10
				}
				flipByte(t, loc, name, off)

				s, err = store.Open(loc.opts())
				if err == nil {
					empty := get(t, s.DB, []byte{store.SpaceLog, 'k', 'e', 'y', '-', '0', '0', '0', '0', '0', '0', '0', '0'}) == "<none>"
					mustClose(t, s)
					t.Fatalf("Open accepted a corrupt MANIFEST (data lost: %v)", empty)
				}
				if errors.Is(err, store.ErrIncompatible) || !errors.Is(err, store.ErrCorrupt) {
					t.Fatalf("Open: %v, want ErrCorrupt and not ErrIncompatible", err)
				}
				want := regexp.QuoteMeta("store: data dir is corrupt: "+desc.ManifestFilename+" is damaged at offset ") + `\d+ \(checksum mismatch; valid records end at offset \d+ of \d+ bytes\); ` +
					regexp.QuoteMeta("it lists the data files, and read only up to there it would lose some and have them deleted. `strmlocal repair` cannot rebuild it: restore the data dir from a copy, or move it away to start afresh")
				if !regexp.MustCompile("^" + want + "$").MatchString(err.Error()) {
					t.Fatalf("Open: %q\nwant %q", err, want)
				}
				// Nothing was deleted: the tables are still there.
				if got := files(t, loc, ".sst"); len(got) != 1 {
					t.Fatalf("tables after the refusal: %v", got)
				}
			})
		})
	}
}

// Each table is read whole once, by the first Open that finds it, not at
// every start (start-up would cost a read of the whole data dir). A table
// damaged after its check opens, and the read that meets the damage fails
// and is reported, without a panic.
func TestTablesAreVerifiedOnce(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		s := mustOpen(t, loc)
		fillKeys(t, s.DB, 0, 5000)
		if err := s.DB.Flush(); err != nil {
			t.Fatal(err)
		}
		mustClose(t, s)
		ssts := files(t, loc, ".sst")
		mustClose(t, mustOpen(t, loc)) // checks the new table and lists it

		f, err := loc.rawFS().Open(loc.rawFS().PathJoin(loc.dir, "STRMLOCAL-VERIFIED"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if want := strings.TrimLeft(strings.TrimSuffix(ssts[0], ".sst"), "0") + "\n"; string(b) != want {
			t.Fatalf("verified list %q, want %q", b, want)
		}

		flipByte(t, loc, ssts[0], fileSize(t, loc, ssts[0])/2)
		s = mustOpen(t, loc)
		defer mustClose(t, s)
		if err := readAll(s.DB); !pebble.IsCorruptionError(err) {
			t.Fatalf("read: %v, want a corruption error", err)
		}
		if got := s.Corruption(); !errors.Is(got, store.ErrCorrupt) {
			t.Fatalf("Corruption() = %v, want ErrCorrupt", got)
		}
	})
}
