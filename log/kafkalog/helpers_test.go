package kafkalog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// t0 is the clock of the tests' logs.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

// env is a kfake broker and a State shared by the Logs of a test (the
// gateways of a scale-out deployment share both).
type env struct {
	b     *kafkatest.Broker
	state store.KV
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := store.Open(store.Options{FS: vfs.NewMem(), Dir: "state"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{b: kafkatest.Start(t), state: store.PebbleKV(st.DB)}
}

// open opens a Log (a gateway) on the env, closed when the test ends.
func (e *env) open(t testing.TB, mod ...func(*Options)) *Log {
	t.Helper()
	opts := Options{
		Brokers:        []string{e.b.Addr},
		State:          e.state,
		Now:            func() time.Time { return t0 },
		ProduceTimeout: 2 * time.Second,
		OpenTimeout:    2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// recs returns n records with distinct meta and value, at times t, t+1µs,
// ... (zero t: unset).
func recs(prefix string, n int, t time.Time) []log.Record {
	out := make([]log.Record, n)
	for i := range out {
		out[i].Meta = fmt.Appendf(nil, "%s-meta-%d", prefix, i)
		out[i].Value = fmt.Appendf(nil, "{\"%s\":%d}", prefix, i)
		if !t.IsZero() {
			out[i].Time = t.Add(time.Duration(i) * time.Microsecond)
		}
	}
	return out
}

func appendRecs(t testing.TB, l *Log, id log.StreamID, rs []log.Record) uint64 {
	t.Helper()
	first, err := l.AppendAlso(context.Background(), id, rs, nil)
	if err != nil {
		t.Fatalf("append to stream %d: %v", id, err)
	}
	return first
}

// sameRecords compares records exactly: offset, time (ns), meta, value.
func sameRecords(t testing.TB, got, want []log.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\ngot  %s\nwant %s", len(got), len(want), show(got), show(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC ||
			!bytes.Equal(g.Meta, w.Meta) || !bytes.Equal(g.Value, w.Value) || g.Meta == nil || g.Value == nil {
			t.Fatalf("record %d:\ngot  %s\nwant %s", i, show(got[i:i+1]), show(want[i:i+1]))
		}
	}
}

func show(rs []log.Record) string {
	var b bytes.Buffer
	for _, r := range rs {
		fmt.Fprintf(&b, "{%d %s %q %q} ", r.Offset, r.Time.Format(time.RFC3339Nano), r.Meta, r.Value)
	}
	return b.String()
}

func bounds(t testing.TB, l *Log, id log.StreamID) [2]uint64 {
	t.Helper()
	first, next, err := l.Bounds(id)
	if err != nil {
		t.Fatalf("bounds of stream %d: %v", id, err)
	}
	return [2]uint64{first, next}
}

// fakeAlso is a log.Also that writes one key, and checks what holds when
// Done is called: the key is committed, and no record produced yet.
type fakeAlso struct {
	l            *Log
	state        store.KV
	id           log.StreamID
	key          []byte
	failAdd      error
	failEndGroup error

	calls      []string
	keyAtDone  bool
	nextAtDone uint64
}

func (f *fakeAlso) Add(b store.Batch, first uint64, n int) error {
	f.calls = append(f.calls, fmt.Sprintf("add first=%d n=%d", first, n))
	b.Set(f.key, []byte("link"))
	return f.failAdd
}

func (f *fakeAlso) EndGroup(b store.Batch) error {
	f.calls = append(f.calls, "end")
	return f.failEndGroup
}

func (f *fakeAlso) Done(ok bool) {
	f.calls = append(f.calls, fmt.Sprintf("done %v", ok))
	_, err := f.state.Get(f.key)
	f.keyAtDone = err == nil
	_, f.nextAtDone, _ = f.l.Bounds(f.id)
}

// failKV is a State whose commits fail.
type failKV struct{ store.KV }

func (f failKV) NewBatch() store.Batch { return failBatch{f.KV.NewBatch()} }

type failBatch struct{ store.Batch }

func (failBatch) Commit(bool) error { return fmt.Errorf("the state's disk is on fire") }

// nextWithin calls tl.Next and fails the test if it takes longer than d.
func nextWithin(t testing.TB, tl log.Tail, d time.Duration) ([]log.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return tl.Next(ctx)
}

// testWriter sends a Log's diagnostics to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	return len(p), nil
}
