package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

func TestAppendRead(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	const id = 7

	// A stream never appended to is empty.
	if got := bounds(t, l, id); got != [2]uint64{0, 0} {
		t.Fatalf("bounds of a new stream: %v, want [0 0]", got)
	}
	if rs, err := l.Read(id, 0, 10); err != nil || len(rs) != 0 {
		t.Fatalf("read of a new stream: %v, %v; want none", show(rs), err)
	}
	if n, err := l.Size(id); err != nil || n != 0 {
		t.Fatalf("size of a new stream: %d, %v; want 0", n, err)
	}

	in := recs("a", 3, t0.Add(-time.Hour))
	want := slices.Clone(in)
	first := appendRecs(t, l, id, in)
	if first != 0 {
		t.Fatalf("first offset %d, want 0", first)
	}
	for i := range want {
		want[i].Offset = uint64(i)
		want[i].Time = want[i].Time.UTC()
		if in[i].Offset != uint64(i) || !in[i].Time.Equal(want[i].Time) {
			t.Fatalf("append set record %d to offset %d time %s; want %d %s", i, in[i].Offset, in[i].Time, i, want[i].Time)
		}
	}
	got, err := l.Read(id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)
	if got := bounds(t, l, id); got != [2]uint64{0, 3} {
		t.Fatalf("bounds %v, want [0 3]", got)
	}

	// From an offset, with a limit; at the end, nothing.
	got, err = l.Read(id, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want[1:2])
	for _, from := range []uint64{3, 4, 1 << 40} {
		if rs, err := l.Read(id, from, 10); err != nil || len(rs) != 0 {
			t.Fatalf("read from %d: %s, %v; want none", from, show(rs), err)
		}
	}

	// A record without a time gets Now; one earlier than the last is
	// raised to it (times never go back in offset order).
	more := []log.Record{{Meta: []byte("m3"), Value: []byte("v3")}, {Time: t0.Add(-2 * time.Hour), Meta: []byte{}, Value: []byte("v4")}}
	if first := appendRecs(t, l, id, more); first != 3 {
		t.Fatalf("second append at %d, want 3", first)
	}
	want = append(want,
		log.Record{Offset: 3, Time: t0, Meta: []byte("m3"), Value: []byte("v3")},
		log.Record{Offset: 4, Time: t0, Meta: []byte{}, Value: []byte("v4")})
	got, err = l.Read(id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)

	// Size is the bytes of the two batches the broker holds.
	size, err := l.Size(id)
	if err != nil {
		t.Fatal(err)
	}
	if wantSize := uint64(len(encodeBatch(in).b) + len(encodeBatch(more).b)); size != wantSize {
		t.Fatalf("size %d, want %d", size, wantSize)
	}

	// Another gateway reads the same.
	l2 := e.open(t)
	got, err = l2.Read(id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, want)

	if _, err := l.AppendAlso(context.Background(), id, nil, nil); !errors.Is(err, log.ErrEmpty) {
		t.Fatalf("append of no records: %v, want log.ErrEmpty", err)
	}
}

func TestReadBounds(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.ReadBytes = 40 })
	rs := recs("b", 5, t0) // meta+value: 8+7 = 15 bytes each
	appendRecs(t, l, 1, slices.Clone(rs))
	got, err := l.Read(1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Offset != 0 || got[1].Offset != 1 {
		t.Fatalf("read with ReadBytes 40: %s; want offsets 0 and 1", show(got))
	}
	// A record larger than ReadBytes comes alone.
	big := []log.Record{{Time: t0, Meta: []byte("m"), Value: make([]byte, 200)}}
	appendRecs(t, l, 1, big)
	got, err = l.Read(1, 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Offset != 5 || len(got[0].Value) != 200 {
		t.Fatalf("read of a record larger than ReadBytes: %s", show(got))
	}
}

func TestSeekTime(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	const id = 3
	if o, err := l.SeekTime(id, t0); err != nil || o != 0 {
		t.Fatalf("seek in a new stream: %d, %v; want 0", o, err)
	}
	// Two records in one millisecond (1µs apart), then one 5 ms later.
	times := []time.Time{t0, t0.Add(time.Microsecond), t0.Add(5 * time.Millisecond)}
	var in []log.Record
	for i, ts := range times {
		in = append(in, log.Record{Time: ts, Meta: []byte("m"), Value: []byte(strconv.Itoa(i))})
	}
	appendRecs(t, l, id, in)
	for _, c := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Time{}, 0}, // before 1970
		{t0.Add(-time.Hour), 0},
		{times[0], 0},
		{times[0].Add(time.Nanosecond), 1},
		{times[1], 1},
		{times[1].Add(time.Nanosecond), 2},
		{times[2].Add(-time.Nanosecond), 2},
		{times[2], 2},
		{times[2].Add(time.Nanosecond), 3},
		{t0.Add(time.Hour), 3},
	} {
		if got, err := l.SeekTime(id, c.t); err != nil || got != c.want {
			t.Errorf("SeekTime(%s) = %d, %v; want %d", c.t.Format(time.RFC3339Nano), got, err, c.want)
		}
	}
}

func TestScanMeta(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.ReadBytes = 30 }) // a fetch or two per record
	const id = 4
	if next, err := l.ScanMeta(id, 0, 10, func(uint64, []byte) error { return errors.New("called") }); err != nil || next != 0 {
		t.Fatalf("scan of a new stream: %d, %v; want 0", next, err)
	}
	appendRecs(t, l, id, recs("s", 5, t0))
	scan := func(from, to uint64) (string, uint64) {
		t.Helper()
		var seen string
		next, err := l.ScanMeta(id, from, to, func(off uint64, meta []byte) error {
			seen += fmt.Sprintf("%d:%s ", off, meta)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return seen, next
	}
	for _, c := range []struct {
		from, to uint64
		seen     string
		next     uint64
	}{
		{1, 3, "1:s-meta-1 2:s-meta-2 ", 3},
		{0, 100, "0:s-meta-0 1:s-meta-1 2:s-meta-2 3:s-meta-3 4:s-meta-4 ", 5},
		{4, 5, "4:s-meta-4 ", 5},
		{5, 9, "", 5},
		{7, 9, "", 5},
		{3, 2, "", 2},
	} {
		if seen, next := scan(c.from, c.to); seen != c.seen || next != c.next {
			t.Errorf("ScanMeta(%d, %d): %q, next %d; want %q, next %d", c.from, c.to, seen, next, c.seen, c.next)
		}
	}
	stop := errors.New("stop")
	n := 0
	next, err := l.ScanMeta(id, 1, 5, func(uint64, []byte) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || next != 1 || n != 2 {
		t.Fatalf("scan stopped by fn: next %d, %v after %d calls; want 1, stop after 2", next, err, n)
	}
}

// TestTailAcrossGateways is the scale-out property: a tail in one process
// waits (at the broker, not polling) and wakes on an append by another.
func TestTailAcrossGateways(t *testing.T) {
	e := newEnv(t)
	l1, l2 := e.open(t), e.open(t)
	const id = 9

	type result struct {
		recs []log.Record
		err  error
	}
	next := func(tl log.Tail) <-chan result {
		ch := make(chan result, 1)
		go func() {
			rs, err := nextWithin(t, tl, 10*time.Second)
			ch <- result{rs, err}
		}()
		return ch
	}

	// A tail of a stream never appended to.
	tl := l1.Subscribe(id, 0)
	ch := next(tl)
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-ch:
		t.Fatalf("Next returned before any append: %s, %v", show(r.recs), r.err)
	default:
	}
	fetches := l1.fetches.Load()

	in := recs("x", 2, t0)
	appendRecs(t, l2, id, in)
	start := time.Now()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the tail woke %s after the append", d)
	}
	sameRecords(t, r.recs, []log.Record{{Offset: 0, Time: t0, Meta: in[0].Meta, Value: in[0].Value}, {Offset: 1, Time: t0.Add(time.Microsecond), Meta: in[1].Meta, Value: in[1].Value}})
	if tl.Offset() != 2 {
		t.Fatalf("tail offset %d, want 2", tl.Offset())
	}
	if n := l1.fetches.Load() - fetches; n > 2 {
		t.Errorf("%d fetches while the tail waited, want at most 2 (a fetch the broker holds)", n)
	}

	// Again, at the end of a stream with records.
	ch = next(tl)
	time.Sleep(100 * time.Millisecond)
	appendRecs(t, l2, id, recs("y", 1, t0.Add(time.Second)))
	if r := <-ch; r.err != nil || len(r.recs) != 1 || r.recs[0].Offset != 2 {
		t.Fatalf("second Next: %s, %v; want offset 2", show(r.recs), r.err)
	}

	// A tail from an offset after the end waits for the stream to get there.
	tl3 := l1.Subscribe(id, 4)
	ch = next(tl3)
	appendRecs(t, l2, id, recs("z", 1, t0.Add(2*time.Second))) // offset 3
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-ch:
		t.Fatalf("a tail from 4 returned %s, %v with the stream ending at 4", show(r.recs), r.err)
	default:
	}
	appendRecs(t, l2, id, recs("w", 2, t0.Add(3*time.Second))) // offsets 4, 5
	if r := <-ch; r.err != nil || len(r.recs) != 2 || r.recs[0].Offset != 4 {
		t.Fatalf("tail from 4: %s, %v; want offsets 4 and 5", show(r.recs), r.err)
	}

	// ReadBatch bounds a step.
	l3 := e.open(t, func(o *Options) { o.ReadBatch = 2 })
	tl4 := l3.Subscribe(id, 0)
	if rs, err := nextWithin(t, tl4, 5*time.Second); err != nil || len(rs) != 2 || rs[1].Offset != 1 {
		t.Fatalf("tail with ReadBatch 2: %s, %v", show(rs), err)
	}

	// ctx ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if rs, err := l1.Subscribe(id, 6).Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with ctx ending: %s, %v; want context.DeadlineExceeded", show(rs), err)
	}
}

// TestConcurrentAppends: gateways appending to one stream at once give
// dense offsets, each append contiguous, nothing twice.
func TestConcurrentAppends(t *testing.T) {
	e := newEnv(t)
	logs := []*Log{e.open(t), e.open(t)}
	const (
		id        = 11
		writers   = 4 // per log
		appends   = 15
		perAppend = 3
	)
	var (
		mu   sync.Mutex
		seen = map[uint64]string{}
		wg   sync.WaitGroup
	)
	for li, l := range logs {
		for w := range writers {
			wg.Go(func() {
				for a := range appends {
					name := fmt.Sprintf("l%dw%da%d", li, w, a)
					rs := recs(name, perAppend, time.Time{})
					first, err := l.AppendAlso(context.Background(), id, rs, nil)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for i, r := range rs {
						if r.Offset != first+uint64(i) {
							t.Errorf("%s: record %d at %d, first %d: not contiguous", name, i, r.Offset, first)
						}
						if prev, dup := seen[r.Offset]; dup {
							t.Errorf("offset %d given to %s and %s", r.Offset, prev, name)
						}
						seen[r.Offset] = string(r.Value)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	const n = 2 * writers * appends * perAppend
	if got := bounds(t, logs[0], id); got != [2]uint64{0, n} {
		t.Fatalf("bounds %v, want [0 %d]", got, n)
	}
	var all []log.Record
	for len(all) < n {
		rs, err := logs[1].Read(id, uint64(len(all)), 1000)
		if err != nil || len(rs) == 0 {
			t.Fatalf("read at %d: %d records, %v", len(all), len(rs), err)
		}
		all = append(all, rs...)
	}
	for i, r := range all {
		if r.Offset != uint64(i) || seen[r.Offset] != string(r.Value) {
			t.Fatalf("record %d: offset %d value %q; the append was told %q", i, r.Offset, r.Value, seen[r.Offset])
		}
	}
}

// TestSplitAppend: an append larger than MaxBatchBytes goes in several
// batches, in order.
func TestSplitAppend(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.MaxBatchBytes = 2048 })
	rs := recs("big", 20, t0)
	for i := range rs {
		rs[i].Value = append(rs[i].Value, make([]byte, 400)...)
	}
	want := slices.Clone(rs)
	if first := appendRecs(t, l, 2, rs); first != 0 {
		t.Fatalf("first %d", first)
	}
	for i := range want {
		want[i].Offset = uint64(i)
	}
	var got []log.Record
	for len(got) < len(want) {
		r, err := l.Read(2, uint64(len(got)), 100)
		if err != nil || len(r) == 0 {
			t.Fatalf("read at %d: %v", len(got), err)
		}
		got = append(got, r...)
	}
	sameRecords(t, got, want)
	if l.produced.Load() != 20 {
		t.Fatalf("%d records produced", l.produced.Load())
	}
}

func TestAlso(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	const id = 5
	appendRecs(t, l, id, recs("p", 1, t0))

	// The Also's writes are committed before the records are produced.
	a := &fakeAlso{l: l, state: e.state, id: id, key: []byte("\x04link-1")}
	first, err := l.AppendAlso(context.Background(), id, recs("q", 2, t0), a)
	if err != nil || first != 1 {
		t.Fatalf("append with also: %d, %v", first, err)
	}
	if want := []string{"add first=0 n=2", "end", "done true"}; !slices.Equal(a.calls, want) {
		t.Fatalf("also calls %q, want %q", a.calls, want)
	}
	if !a.keyAtDone || a.nextAtDone != 1 {
		t.Fatalf("at Done: key committed %v, stream end %d; want true, 1 (nothing produced yet)", a.keyAtDone, a.nextAtDone)
	}
	if got := bounds(t, l, id); got != [2]uint64{0, 3} {
		t.Fatalf("bounds %v, want [0 3]", got)
	}

	// A failing Add: nothing written, nothing produced.
	boom := errors.New("boom")
	a = &fakeAlso{l: l, state: e.state, id: id, key: []byte("\x04link-2"), failAdd: boom}
	if _, err := l.AppendAlso(context.Background(), id, recs("r", 2, t0), a); !errors.Is(err, boom) {
		t.Fatalf("append with a failing Add: %v, want boom", err)
	}
	if want := []string{"add first=0 n=2", "done false"}; !slices.Equal(a.calls, want) {
		t.Fatalf("also calls %q, want %q", a.calls, want)
	}
	if _, err := e.state.Get(a.key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed Also's key: %v, want not found", err)
	}

	// A failing EndGroup: nothing committed, nothing produced.
	a = &fakeAlso{l: l, state: e.state, id: id, key: []byte("\x04link-4"), failEndGroup: boom}
	if _, err := l.AppendAlso(context.Background(), id, recs("t", 2, t0), a); !errors.Is(err, boom) || err.Error() != "kafka log: end the group in the state: boom" {
		t.Fatalf("append with a failing EndGroup: %v, want kafka log: end the group in the state: boom", err)
	}
	if want := []string{"add first=0 n=2", "end", "done false"}; !slices.Equal(a.calls, want) {
		t.Fatalf("also calls %q, want %q", a.calls, want)
	}
	if _, err := e.state.Get(a.key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the key of the Also whose EndGroup failed: %v, want not found", err)
	}

	// A failing commit: nothing produced.
	lf := e.open(t, func(o *Options) { o.State = failKV{e.state} })
	a = &fakeAlso{l: l, state: e.state, id: id, key: []byte("\x04link-3")}
	if _, err := lf.AppendAlso(context.Background(), id, recs("s", 2, t0), a); err == nil || err.Error() != "kafka log: commit to the state: the state's disk is on fire" {
		t.Fatalf("append with a failing commit: %v", err)
	}
	if want := []string{"add first=0 n=2", "end", "done false"}; !slices.Equal(a.calls, want) {
		t.Fatalf("also calls %q, want %q", a.calls, want)
	}
	if got := bounds(t, l, id); got != [2]uint64{0, 3} {
		t.Fatalf("bounds %v after failed appends, want [0 3]", got)
	}
}

func TestDrop(t *testing.T) {
	e := newEnv(t)
	l1, l2 := e.open(t), e.open(t)
	const id = 6
	appendRecs(t, l1, id, recs("d", 3, t0))

	tails := []log.Tail{l1.Subscribe(id, 3), l2.Subscribe(id, 3)}
	errs := make(chan error, len(tails))
	for _, tl := range tails {
		go func() {
			_, err := nextWithin(t, tl, 10*time.Second)
			errs <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)

	key := []byte("\x02stream-6")
	b := e.state.NewBatch()
	b.Set(key, []byte("entry"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := l1.Drop(id, func(b store.Batch) error { b.Delete(key); return nil }); err != nil {
		t.Fatal(err)
	}
	// Both tails wake: this gateway's at once, the other's when the
	// broker ends its fetch for the deleted topic.
	for range tails {
		select {
		case err := <-errs:
			if !errors.Is(err, log.ErrDropped) {
				t.Fatalf("tail woke with %v, want log.ErrDropped", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a tail did not wake on the drop")
		}
	}
	if _, err := e.state.Get(key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the drop's also was not committed: %v", err)
	}
	if _, err := e.state.Get(markerKey(id)); err != nil {
		t.Fatalf("dropped marker: %v", err)
	}
	for i, l := range []*Log{l1, l2} {
		if _, err := l.AppendAlso(context.Background(), id, recs("e", 1, t0), nil); !errors.Is(err, log.ErrDropped) {
			t.Errorf("log %d: append to a dropped stream: %v", i+1, err)
		}
		if _, err := l.Read(id, 0, 10); !errors.Is(err, log.ErrDropped) {
			t.Errorf("log %d: read of a dropped stream: %v", i+1, err)
		}
		if _, _, err := l.Bounds(id); !errors.Is(err, log.ErrDropped) {
			t.Errorf("log %d: bounds of a dropped stream: %v", i+1, err)
		}
		if _, err := l.Subscribe(id, 0).Next(context.Background()); !errors.Is(err, log.ErrDropped) {
			t.Errorf("log %d: tail of a dropped stream: %v", i+1, err)
		}
	}
	// A gateway started after the drop.
	l3 := e.open(t)
	for _, err := range []error{
		func() error { _, err := l3.Read(id, 0, 1); return err }(),
		func() error { _, err := l3.Size(id); return err }(),
		func() error { _, err := l3.SeekTime(id, t0); return err }(),
		func() error { _, err := l3.ScanMeta(id, 0, 1, nil); return err }(),
		func() error { _, err := l3.Trim(id, log.Retention{MaxAge: time.Hour}, t0); return err }(),
		func() error { _, err := l3.AppendAlso(context.Background(), id, recs("f", 1, t0), nil); return err }(),
	} {
		if !errors.Is(err, log.ErrDropped) {
			t.Errorf("a new gateway on a dropped stream: %v, want log.ErrDropped", err)
		}
	}
	// The topic is gone.
	if topics, err := l1.adm.ListTopics(context.Background()); err != nil || topics.Has(l1.topicName(id)) {
		t.Fatalf("topic after the drop: %v, %v", topics, err)
	}
	// Dropping again is fine.
	if err := l2.Drop(id, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTrim(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	const id = 8
	// One append per second: t0-5s ... t0-1s.
	for i := range 5 {
		appendRecs(t, l, id, []log.Record{{Time: t0.Add(time.Duration(i-5) * time.Second), Meta: []byte("m"), Value: []byte(strconv.Itoa(i))}})
	}
	if n, err := l.Trim(id, log.Retention{}, t0); err != nil || n != 0 {
		t.Fatalf("trim with no limit: %d, %v", n, err)
	}
	// Keep what is at most 3 s old: t0-3s, t0-2s, t0-1s.
	if n, err := l.Trim(id, log.Retention{MaxAge: 3 * time.Second}, t0); err != nil || n != 2 {
		t.Fatalf("trim by age: %d, %v; want 2 removed", n, err)
	}
	if got := bounds(t, l, id); got != [2]uint64{2, 5} {
		t.Fatalf("bounds after trim %v, want [2 5]", got)
	}
	rs, err := l.Read(id, 0, 10)
	if err != nil || len(rs) != 3 || rs[0].Offset != 2 || string(rs[0].Value) != "2" {
		t.Fatalf("read from 0 after trim: %s, %v; want from offset 2", show(rs), err)
	}
	if rs, err := nextWithin(t, l.Subscribe(id, 0), 5*time.Second); err != nil || rs[0].Offset != 2 {
		t.Fatalf("tail from 0 after trim: %s, %v", show(rs), err)
	}
	if o, err := l.SeekTime(id, t0.Add(-time.Hour)); err != nil || o != 2 {
		t.Fatalf("seek before the first retained record: %d, %v; want 2", o, err)
	}
	if n, err := l.Trim(id, log.Retention{MaxAge: 3 * time.Second}, t0); err != nil || n != 0 {
		t.Fatalf("trim again: %d, %v; want 0", n, err)
	}

	// By bytes: each one-record batch is the same size; keep two.
	size, err := l.Size(id)
	if err != nil {
		t.Fatal(err)
	}
	one := size / 3
	if n, err := l.Trim(id, log.Retention{MaxBytes: 2*one + one/2}, t0); err != nil || n != 1 {
		t.Fatalf("trim by bytes: %d, %v; want 1 removed", n, err)
	}
	if got := bounds(t, l, id); got != [2]uint64{3, 5} {
		t.Fatalf("bounds after trim by bytes %v, want [3 5]", got)
	}
	if size, err := l.Size(id); err != nil || size != 2*one {
		t.Fatalf("size after trim by bytes: %d, %v; want %d", size, err, 2*one)
	}
	// Everything too old.
	if n, err := l.Trim(id, log.Retention{MaxAge: time.Millisecond}, t0); err != nil || n != 2 {
		t.Fatalf("trim all: %d, %v; want 2", n, err)
	}
	if got := bounds(t, l, id); got != [2]uint64{5, 5} {
		t.Fatalf("bounds after trimming all %v, want [5 5]", got)
	}
	if first := appendRecs(t, l, id, recs("after", 1, t0)); first != 5 {
		t.Fatalf("append after trimming all at %d, want 5", first)
	}
}

// TestBrokerDown: with the broker gone an append fails within a few
// seconds with ErrUnavailable, and works again once a broker is back
// (kafkatest's restarted broker is a new, empty cluster).
func TestBrokerDown(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.PollWait = 500 * time.Millisecond })
	const id = 12
	appendRecs(t, l, id, recs("up", 2, t0))
	tl := l.Subscribe(id, 2)
	tailErr := make(chan error, 1)
	go func() {
		_, err := nextWithin(t, tl, 20*time.Second)
		tailErr <- err
	}()
	time.Sleep(100 * time.Millisecond)

	e.b.Stop(t)
	start := time.Now()
	_, err := l.AppendAlso(context.Background(), id, recs("down", 1, t0), nil)
	d := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append with the broker down: %v, want ErrUnavailable", err)
	}
	if d > 4*time.Second {
		t.Fatalf("append with the broker down failed after %s, want within ProduceTimeout (2s)", d)
	}
	if want := fmt.Sprintf("storage unavailable: kafka log at %s: produce to topic strmlocal-log-12: ", e.b.Addr); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("append with the broker down: %q, want it to start with %q", err, want)
	}
	t.Logf("after %s: %v", d.Round(time.Millisecond), err)
	if _, err := l.Read(id, 0, 10); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("read with the broker down: %v, want ErrUnavailable", err)
	}

	// A waiting tail says so too, within PollWait + ProduceTimeout.
	select {
	case err := <-tailErr:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("a tail with the broker down: %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting tail did not return with the broker down")
	}

	e.b.Start(t)
	rs := recs("back", 2, t0)
	first, err := l.AppendAlso(context.Background(), id, rs, nil)
	if err != nil {
		t.Fatalf("append once the broker is back: %v", err)
	}
	if first != 0 || rs[1].Offset != 1 { // a new cluster: the topic starts over
		t.Fatalf("append once the broker is back: first %d", first)
	}
	got, err := l.Read(id, 0, 10)
	if err != nil || len(got) != 2 || string(got[1].Value) != string(rs[1].Value) {
		t.Fatalf("read once the broker is back: %s, %v", show(got), err)
	}
	// The tail goes on (at offset 2, which the new cluster reaches now).
	appendRecs(t, l, id, recs("more", 1, t0))
	if rs, err := nextWithin(t, tl, 5*time.Second); err != nil || len(rs) != 1 || rs[0].Offset != 2 || string(rs[0].Value) != `{"more":0}` {
		t.Fatalf("the tail once the broker is back: %s, %v", show(rs), err)
	}
}

func TestOpenNoBroker(t *testing.T) {
	b := kafkatest.Reserve(t) // a port where nothing listens
	st := newEnv(t).state
	start := time.Now()
	_, err := Open(context.Background(), Options{Brokers: []string{b.Addr}, State: st, OpenTimeout: 2 * time.Second})
	want := fmt.Sprintf("kafka log: no broker reachable at %s: dial tcp %s: connect: connection refused", b.Addr, b.Addr)
	if err == nil || err.Error() != want {
		t.Fatalf("Open with no broker:\n got %v\nwant %s", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Open with no broker took %s", d)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("the error does not wrap the dial error: %#v", err)
	}
	if _, err := Open(context.Background(), Options{State: st}); err == nil || err.Error() != "kafka log: Options.Brokers is empty: want at least one broker as host:port" {
		t.Fatalf("Open with no brokers: %v", err)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	appendRecs(t, l, 1, recs("c", 1, t0))
	errs := make(chan error, 1)
	go func() {
		_, err := l.Subscribe(1, 1).Next(context.Background())
		errs <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s with a tail waiting", d)
	}
	if err := <-errs; !errors.Is(err, log.ErrClosed) {
		t.Fatalf("a waiting tail woke with %v, want log.ErrClosed", err)
	}
	for _, err := range []error{
		func() error { _, err := l.AppendAlso(context.Background(), 1, recs("c", 1, t0), nil); return err }(),
		func() error { _, err := l.Read(1, 0, 1); return err }(),
		func() error { _, _, err := l.Bounds(1); return err }(),
		func() error { _, err := l.Subscribe(1, 0).Next(context.Background()); return err }(),
		l.Drop(1, nil),
	} {
		if !errors.Is(err, log.ErrClosed) {
			t.Errorf("after Close: %v, want log.ErrClosed", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestKcat: what is produced is ordinary Kafka records, read by a client
// other than franz-go.
func TestKcat(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	in := recs("k", 3, t0)
	appendRecs(t, l, 21, in)
	msgs := kafkatest.Kcat(t, e.b.Addr, "strmlocal-log-21")
	if len(msgs) != 3 {
		t.Fatalf("kcat read %d messages, want 3: %v", len(msgs), msgs)
	}
	for i, m := range msgs {
		want := kafkatest.Message{
			Headers: kafkatest.Headers(HeaderTime, strconv.FormatInt(in[i].Time.UnixNano(), 10), HeaderMeta, string(in[i].Meta)),
			Value:   string(in[i].Value),
		}
		if m != want {
			t.Errorf("message %d: %+v, want %+v", i, m, want)
		}
	}
}

// TestNoLeaks: Close ends every goroutine and connection a Log started,
// tails abandoned mid-wait and pooled fetch clients included.
func TestNoLeaks(t *testing.T) {
	e := newEnv(t)
	before := runtime.NumGoroutine()
	l := e.open(t)
	appendRecs(t, l, 1, recs("n", 2, t0))
	if _, err := l.Read(1, 0, 10); err != nil {
		t.Fatal(err)
	}
	// Tails: one read and left, one left waiting until its ctx ends, and
	// several waiting at once (each on a client of its own).
	if _, err := nextWithin(t, l.Subscribe(1, 0), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { _, _ = l.Subscribe(1, 2).Next(ctx) })
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before Open:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestTopicConfig: topics keep everything unless Options.Retention says
// otherwise, and take batches of MaxBatchBytes.
func TestTopicConfig(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		opts            func(*Options)
		retMs, retBytes string
	}{
		{func(*Options) {}, "-1", "-1"},
		{func(o *Options) { o.Retention = log.Retention{MaxAge: time.Hour, MaxBytes: 1 << 30} }, "3600000", "1073741824"},
	} {
		l := e.open(t, c.opts, func(o *Options) { o.TopicPrefix = fmt.Sprintf("cfg-%s-", c.retMs) })
		appendRecs(t, l, 1, recs("c", 1, t0))
		rcs, err := l.adm.DescribeTopicConfigs(context.Background(), l.topicName(1))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, rc := range rcs {
			for _, cfg := range rc.Configs {
				got[cfg.Key] = cfg.MaybeValue()
			}
		}
		want := map[string]string{"retention.ms": c.retMs, "retention.bytes": c.retBytes, "message.timestamp.type": "CreateTime", "max.message.bytes": strconv.Itoa(DefaultMaxBatchBytes + batchSlack)}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("topic %s: %s=%q, want %q", l.topicName(1), k, got[k], v)
			}
		}
	}
}

// TestCombiner: appends queued while a group runs go in the next group,
// together; one whose ctx ends while queued leaves the queue.
func TestCombiner(t *testing.T) {
	var c combiner
	release := make(chan struct{})
	var groups [][]int
	var mu sync.Mutex
	do := func(g []*appendJob) {
		mu.Lock()
		var ids []int
		for _, j := range g {
			ids = append(ids, len(j.recs))
		}
		groups = append(groups, ids)
		first := len(groups) == 1
		mu.Unlock()
		if first {
			<-release
		}
		for _, j := range g {
			j.first = uint64(len(j.recs))
		}
	}
	all := func(q []*appendJob) int { return len(q) }
	job := func(n int) *appendJob { return &appendJob{recs: make([]log.Record, n)} }

	var wg sync.WaitGroup
	wg.Go(func() { _ = c.run(context.Background(), job(1), all, do) })
	for {
		c.mu.Lock()
		started := c.busy && len(c.queue) == 0
		c.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { cancelled <- c.run(ctx, job(9), all, do) }()
	results := make([]*appendJob, 3)
	for i := range results {
		results[i] = job(i + 2)
		wg.Go(func() { _ = c.run(context.Background(), results[i], all, do) })
	}
	for {
		c.mu.Lock()
		n := len(c.queue)
		c.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("a queued job whose ctx ended: %v", err)
	}
	close(release)
	wg.Wait()
	if len(groups) != 2 || len(groups[0]) != 1 || len(groups[1]) != 3 || slices.Contains(groups[1], 9) {
		t.Fatalf("groups %v, want [[1] [2 3 4] in some order]", groups)
	}
	for _, j := range results {
		if j.first != uint64(len(j.recs)) {
			t.Fatalf("job of %d records not settled", len(j.recs))
		}
	}
	if c.busy || len(c.queue) != 0 {
		t.Fatalf("combiner left busy=%v with %d queued", c.busy, len(c.queue))
	}
}

// OnCommit sees every acknowledged batch: its records, its bytes (the
// encoded batch) and the wait for the acknowledgement.
func TestOnCommit(t *testing.T) {
	e := newEnv(t)
	var got []log.CommitStats
	l := e.open(t, func(o *Options) { o.OnCommit = func(s log.CommitStats) { got = append(got, s) } })
	rs := recs("c", 3, t0)
	appendRecs(t, l, 1, rs)
	appendRecs(t, l, 1, recs("d", 1, t0.Add(time.Second)))
	if len(got) != 2 || got[0].Records != 3 || got[1].Records != 1 {
		t.Fatalf("OnCommit saw %+v, want batches of 3 and 1 records", got)
	}
	if want := len(encodeBatch(rs).b); got[0].Bytes != want || got[0].Sync <= 0 {
		t.Fatalf("first batch: %+v, want %d bytes and a positive wait", got[0], want)
	}
}
