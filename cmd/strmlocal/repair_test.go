package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// logDir writes records to streams 1, 2 and 3 of a fresh data dir, in
// appends of 10, and closes it: the records stay in the WAL.
func logDir(t *testing.T) (dir, wal string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(st.DB, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 30; round++ {
		for id := log.StreamID(1); id <= 3; id++ {
			recs := make([]log.Record, 10)
			for i := range recs {
				recs[i].Value = bytes.Repeat([]byte{'x'}, 200)
			}
			if _, err := l.Append(context.Background(), id, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wals, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	return dir, wals[len(wals)-1]
}

// flipAt inverts the byte at frac of a WAL's records (a WAL on disk is
// written ahead with zeros past them).
func flipAt(t *testing.T, path string, frac float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[int(float64(len(bytes.TrimRight(b, "\x00")))*frac)] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Defect: a flipped byte in the newest WAL silently dropped acknowledged
// events. repair says which streams lose which offsets, asks, drops exactly
// that, and the data dir then opens with exactly the rest.
func TestRepairOfWALByteFlipSaysWhatItDropsAndDropsExactlyThat(t *testing.T) {
	dir, wal := logDir(t)
	flipAt(t, wal, 0.5)

	run1 := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(string) string { return "" })
		return code, out.String(), errb.String()
	}
	// Declining changes nothing.
	code, out, stderr := run1("n\n", "repair", "--data-dir", dir)
	if code != 1 || stderr != "strmlocal: not repaired: nothing was changed\n" {
		t.Fatalf("declined repair: code %d, stderr %q", code, stderr)
	}
	if _, err := store.Open(store.Options{Dir: dir}); err == nil {
		t.Fatal("the data dir opens after a declined repair")
	}
	want := regexp.QuoteMeta(dir+": write-ahead log "+wal+" is damaged at offset ") + `\d+ \([a-z ]+\)\.\n` +
		`A repair keeps it up to offset \d+, where its valid records end, and drops the \d+ bytes after that \(\d+ intact batches and the damaged record\)\.\n` +
		`It drops:\n` +
		`(  stream #[123] \(not in the catalogue\): offsets (\d+) to 299 \(\d+ events; \d+ survive, its next event gets offset \d+ again\)\n){3}` +
		// The flipped byte may fall in a key of the damaged record itself:
		// what that record names is listed as read, and said to be so.
		`(  (stream #\d+ \(not in the catalogue\): offsets \d+ to \d+ \(\d+ events; \d+ survive, its next event gets offset \d+ again\), as read from the damaged record despite its checksum|` +
		`the damaged record itself, which cannot be read: what it held is lost too and not listed)\n)?` +
		regexp.QuoteMeta("Drop this and repair? [y/N] ")
	if !regexp.MustCompile("^" + want + "$").MatchString(out) {
		t.Fatalf("repair says:\n%s\nwant:\n%s", out, want)
	}
	// What it says each stream keeps.
	keeps := map[log.StreamID]uint64{}
	for _, m := range regexp.MustCompile(`stream #(\d) \(not in the catalogue\): offsets (\d+) to`).FindAllStringSubmatch(out, -1) {
		var id, from uint64
		fmt.Sscan(m[1], &id)
		fmt.Sscan(m[2], &from)
		keeps[log.StreamID(id)] = from
	}

	code, out, stderr = run1("y\n", "repair", "--data-dir", dir)
	if code != 0 || !strings.HasSuffix(out, "repaired; `strmlocal serve --data-dir "+dir+"` starts again and reports this loss\n") {
		t.Fatalf("repair: code %d\n%s%s", code, out, stderr)
	}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := log.Open(st.DB, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id := log.StreamID(1); id <= 3; id++ {
		_, next, err := l.Bounds(id)
		if err != nil {
			t.Fatal(err)
		}
		if next != keeps[id] {
			t.Errorf("stream %d ends at %d after the repair, which said %d", id, next, keeps[id])
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(l.Close(), st.Close()); err != nil {
		t.Fatal(err)
	}
	// The repair is on record, for every start to report.
	rec, err := os.ReadFile(filepath.Join(dir, "REPAIRS"))
	if err != nil || !strings.Contains(string(rec), "stream #1 (not in the catalogue): offsets ") {
		t.Fatalf("REPAIRS: %q, %v", rec, err)
	}
	// A second repair finds nothing to do.
	if code, out, _ := run1("", "repair", "--data-dir", dir); code != 0 || out != dir+": the write-ahead log is intact; nothing to repair\n" {
		t.Fatalf("second repair: %d %q", code, out)
	}
}
