package log

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Defect: a data dir whose records ended before a stream's end marker (the
// s|stream state) started silently and would have handed the lost offsets
// out again. Open refuses it, naming the stream and both ranges.
func TestStreamEndMarkerMismatchRefusesToOpen(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b *pebble.Batch) error
		want   string
	}{
		{
			name:   "tail records lost",
			damage: func(b *pebble.Batch) error { return b.DeleteRange(recordKey(1, 7), recordKey(1, 10), nil) },
			want:   "stream 1: its state says offsets [0, 10) and the records present are [0, 7)",
		},
		{
			name:   "all records lost",
			damage: func(b *pebble.Batch) error { return b.DeleteRange(recordKey(1, 0), recordKey(1, 10), nil) },
			want:   "stream 1: its state says offsets [0, 10) and no record is present",
		},
		{
			name:   "state lost",
			damage: func(b *pebble.Batch) error { return b.Delete(stateKey(1), nil) },
			want:   "stream 1: records without a stream state",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eachFS(t, func(t *testing.T, e *env) {
				recs := make([]Record, 10)
				for i := range recs {
					recs[i].Value = []byte("v")
				}
				if _, err := e.log.Append(context.Background(), 1, recs); err != nil {
					t.Fatal(err)
				}
				if err := e.log.Close(); err != nil {
					t.Fatal(err)
				}
				b := e.st.DB.NewBatch()
				if err := c.damage(b); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(pebble.Sync); err != nil {
					t.Fatal(err)
				}
				if err := e.st.Close(); err != nil {
					t.Fatal(err)
				}
				e.log = nil
				st, err := store.Open(store.Options{Dir: e.dir, FS: e.fs})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				l, err := Open(st.DB, Options{})
				if err == nil {
					l.Close()
					t.Fatal("Open accepted a stream whose state does not match its records")
				}
				want := "log: stream state does not match its records: " + c.want +
					"; records were lost from a data file, and starting would hand their offsets out again: restore the data dir from a copy, or move it away to start afresh"
				if !errors.Is(err, ErrInconsistent) || err.Error() != want {
					t.Fatalf("Open: %v\nwant %s", err, want)
				}
			})
		})
	}
}
