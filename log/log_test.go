package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func rec(v string) Record { return Record{Meta: []byte("m:" + v), Value: []byte(v)} }

func recAt(v string, t time.Time) Record { r := rec(v); r.Time = t; return r }

func mustAppend(t testing.TB, l *Log, id StreamID, recs ...Record) uint64 {
	t.Helper()
	first, err := l.Append(context.Background(), id, recs)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

func values(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%d:%s:%s", r.Offset, r.Meta, r.Value)
	}
	return out
}

func assertValues(t *testing.T, got []Record, want ...string) {
	t.Helper()
	g := values(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("records = %q, want %q", g, want)
	}
}

func TestAppendRead(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		recs := []Record{recAt("a", t0), recAt("b", t0.Add(time.Second))}
		if first := mustAppend(t, l, 1, recs...); first != 0 {
			t.Fatalf("first = %d", first)
		}
		if recs[0].Offset != 0 || recs[1].Offset != 1 || !recs[1].Time.Equal(t0.Add(time.Second)) {
			t.Fatalf("Append did not set offsets and times: %+v", recs)
		}
		if first := mustAppend(t, l, 1, recAt("c", t0.Add(2*time.Second))); first != 2 {
			t.Fatalf("first = %d", first)
		}
		mustAppend(t, l, 2, recAt("other", t0))

		got, err := l.Read(1, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		assertValues(t, got, "0:m:a:a", "1:m:b:b", "2:m:c:c")
		if !got[2].Time.Equal(t0.Add(2 * time.Second)) {
			t.Fatalf("time = %v", got[2].Time)
		}
		got, _ = l.Read(1, 1, 1)
		assertValues(t, got, "1:m:b:b")
		got, _ = l.Read(1, 3, 10)
		assertValues(t, got)
		got, _ = l.Read(2, 0, 10)
		assertValues(t, got, "0:m:other:other")
		got, _ = l.Read(3, 0, 10)
		assertValues(t, got)

		first, next, err := l.Bounds(1)
		if first != 0 || next != 3 || err != nil {
			t.Fatalf("Bounds = %d, %d, %v", first, next, err)
		}
	})
}

func TestAppendStampsAndClampsTime(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.reopen(Options{Now: func() time.Time { return t0.Add(time.Hour) }})
		mustAppend(t, l, 1, rec("now"), recAt("later", t0.Add(2*time.Hour)), recAt("earlier", t0))
		got, _ := l.Read(1, 0, 10)
		want := []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)}
		for i, r := range got {
			if !r.Time.Equal(want[i]) {
				t.Errorf("record %d time = %v, want %v", i, r.Time, want[i])
			}
		}
	})
}

func TestAppendErrors(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		if _, err := l.Append(context.Background(), 1, nil); !errors.Is(err, ErrEmpty) {
			t.Fatalf("empty append: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.Append(ctx, 1, []Record{rec("x")}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled append: %v", err)
		}
		if _, next, _ := l.Bounds(1); next != 0 {
			t.Fatalf("a refused append left records: next = %d", next)
		}
	})
}

func TestReopenContinuesOffsets(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		mustAppend(t, e.log, 7, rec("a"), rec("b"))
		l := e.reopen(Options{})
		if first := mustAppend(t, l, 7, rec("c")); first != 2 {
			t.Fatalf("first after reopen = %d, want 2", first)
		}
		got, _ := l.Read(7, 0, 10)
		assertValues(t, got, "0:m:a:a", "1:m:b:b", "2:m:c:c")
	})
}

func TestConcurrentAppendersGroupCommit(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		const writers, appends = 16, 50
		var wg sync.WaitGroup
		firsts := make([][]uint64, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range appends {
					n := 1 + (w+i)%3
					recs := make([]Record, n)
					for j := range recs {
						recs[j] = rec(fmt.Sprintf("w%d-%d-%d", w, i, j))
					}
					first, err := l.Append(context.Background(), StreamID(1+w%2), recs)
					if err != nil {
						t.Error(err)
						return
					}
					firsts[w] = append(firsts[w], first)
				}
			})
		}
		wg.Wait()
		// Every append's records are contiguous and where Append said.
		for stream := StreamID(1); stream <= 2; stream++ {
			all, err := l.Read(stream, 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			byValue := map[string]uint64{}
			for i, r := range all {
				if r.Offset != uint64(i) {
					t.Fatalf("offset %d at index %d", r.Offset, i)
				}
				byValue[string(r.Value)] = r.Offset
			}
			for w := range writers {
				if StreamID(1+w%2) != stream {
					continue
				}
				for i, first := range firsts[w] {
					for j := range 1 + (w+i)%3 {
						if got := byValue[fmt.Sprintf("w%d-%d-%d", w, i, j)]; got != first+uint64(j) {
							t.Fatalf("writer %d append %d record %d at %d, want %d", w, i, j, got, first+uint64(j))
						}
					}
				}
			}
		}
		total := uint64(0)
		for w := range writers {
			for i := range appends {
				total += uint64(1 + (w+i)%3)
			}
		}
		st := l.Stats()
		if st.Records != total || st.Appends != writers*appends {
			t.Fatalf("stats = %+v", st)
		}
		if st.Commits >= st.Appends {
			t.Errorf("no group commit happened: %+v", st)
		}
	})
}

func TestSeekTime(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		ms := time.Millisecond
		mustAppend(t, l, 1,
			recAt("a", t0),
			recAt("b", t0.Add(300*time.Microsecond)),
			recAt("c", t0.Add(ms)),
			recAt("d", t0.Add(5*time.Second)),
			recAt("e", t0.Add(5*time.Second)),
		)
		for _, tc := range []struct {
			at   time.Time
			want uint64
		}{
			{t0.Add(-time.Hour), 0},
			{t0, 0},
			{t0.Add(time.Microsecond), 1},
			{t0.Add(300 * time.Microsecond), 1},
			{t0.Add(301 * time.Microsecond), 2},
			{t0.Add(ms), 2},
			{t0.Add(2 * ms), 3},
			{t0.Add(5 * time.Second), 3},
			{t0.Add(5*time.Second + 1), 5},
			{t0.Add(time.Hour), 5},
		} {
			got, err := l.SeekTime(1, tc.at)
			if err != nil || got != tc.want {
				t.Errorf("SeekTime(t0%+v) = %d, %v; want %d", tc.at.Sub(t0), got, err, tc.want)
			}
		}
		if got, err := l.SeekTime(9, t0); got != 0 || err != nil {
			t.Errorf("SeekTime on an empty stream = %d, %v", got, err)
		}
	})
}

func TestRetention(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		for i := range 10 {
			mustAppend(t, l, 1, recAt(fmt.Sprintf("r%d", i), t0.Add(time.Duration(i)*time.Minute)))
		}
		mustAppend(t, l, 2, recAt("keep", t0))
		size := func() uint64 { st, _, _ := l.view(1); return st.bytes }
		perRecord := size() / 10

		// Zero retention keeps everything.
		if n, err := l.Trim(1, Retention{}, t0.Add(time.Hour)); n != 0 || err != nil {
			t.Fatalf("Trim(zero) = %d, %v", n, err)
		}
		// Age: records older than 5 minutes at t0+9m are r0..r3.
		n, err := l.Trim(1, Retention{MaxAge: 5 * time.Minute}, t0.Add(9*time.Minute))
		if n != 4 || err != nil {
			t.Fatalf("Trim(age) = %d, %v", n, err)
		}
		if first, next, _ := l.Bounds(1); first != 4 || next != 10 {
			t.Fatalf("bounds after age trim = %d, %d", first, next)
		}
		got, _ := l.Read(1, 0, 2)
		assertValues(t, got, "4:m:r4:r4", "5:m:r5:r5")
		if off, _ := l.SeekTime(1, t0); off != 4 {
			t.Fatalf("SeekTime before first = %d, want 4", off)
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
		// Size: keep at most 3 records' worth.
		n, err = l.Trim(1, Retention{MaxBytes: 3 * perRecord}, t0)
		if n != 3 || err != nil {
			t.Fatalf("Trim(size) = %d, %v", n, err)
		}
		if size() != 3*perRecord {
			t.Fatalf("size after trim = %d, want %d", size(), 3*perRecord)
		}
		// Everything.
		n, err = l.Trim(1, Retention{MaxAge: time.Nanosecond}, t0.Add(time.Hour))
		if n != 3 || err != nil {
			t.Fatalf("Trim(all) = %d, %v", n, err)
		}
		if first, next, _ := l.Bounds(1); first != 10 || next != 10 {
			t.Fatalf("bounds after full trim = %d, %d", first, next)
		}
		if err := l.Check(); err != nil {
			t.Fatal(err)
		}
		// Appending continues the sequence, and the time index is rebuilt.
		if first := mustAppend(t, l, 1, recAt("r10", t0.Add(9*time.Minute))); first != 10 {
			t.Fatalf("first after full trim = %d", first)
		}
		if off, _ := l.SeekTime(1, t0); off != 10 {
			t.Fatalf("SeekTime = %d, want 10", off)
		}
		l = e.reopen(Options{})
		if first, next, _ := l.Bounds(1); first != 10 || next != 11 {
			t.Fatalf("bounds after reopen = %d, %d", first, next)
		}
		got, _ = l.Read(2, 0, 10)
		assertValues(t, got, "0:m:keep:keep")
	})
}

func TestDrop(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		mustAppend(t, l, 1, rec("a"), rec("b"))
		mustAppend(t, l, 2, rec("c"))
		sub := l.Subscribe(1, 2)
		errc := make(chan error, 1)
		go func() { _, err := sub.Next(context.Background()); errc <- err }()
		if err := l.Drop(1, nil); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrDropped) {
			t.Fatalf("subscriber got %v, want ErrDropped", err)
		}
		if _, err := l.Append(context.Background(), 1, []Record{rec("x")}); !errors.Is(err, ErrDropped) {
			t.Fatalf("append to dropped stream: %v", err)
		}
		if _, err := l.Read(1, 0, 10); !errors.Is(err, ErrDropped) {
			t.Fatalf("read of dropped stream: %v", err)
		}
		got, _ := l.Read(2, 0, 10)
		assertValues(t, got, "0:m:c:c")
		l = e.reopen(Options{})
		got, _ = l.Read(1, 0, 10)
		assertValues(t, got)
	})
}

func TestCheckFindsCorruption(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		mustAppend(t, l, 1, recAt("a", t0), recAt("b", t0.Add(time.Second)))
		// A record past the end, written behind the log's back.
		v := appendRecordValue(nil, &Record{Time: t0.Add(time.Hour), Value: []byte("zz")})
		sz := len(appendRecordValue(nil, &Record{Time: t0, Meta: []byte("m:a"), Value: []byte("a")}))
		if err := e.st.DB.Set(recordKey(1, 5), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		err := l.Check()
		want := "stream 1: offset 5 where 2 was expected\n" +
			"stream 1: records end before 6, state says 2\n" +
			fmt.Sprintf("stream 1: records hold %d bytes, state says %d\n", 2*sz+len(v), 2*sz) +
			fmt.Sprintf("stream 1: last record time %d, state says %d\n", t0.Add(time.Hour).UnixNano(), t0.Add(time.Second).UnixNano()) +
			fmt.Sprintf("stream 1: time index [%d 0 %d 1], records imply [%d 0 %d 1 %d 5]",
				t0.UnixMilli(), t0.Add(time.Second).UnixMilli(), t0.UnixMilli(), t0.Add(time.Second).UnixMilli(), t0.Add(time.Hour).UnixMilli())
		if err == nil || err.Error() != want {
			t.Fatalf("Check() = %v\nwant %s", err, want)
		}
		// Undo, so the harness's final Check passes.
		if err := e.st.DB.Delete(recordKey(1, 5), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	})
}
