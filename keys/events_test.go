package keys_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

func TestEventIndex(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		a := e.mustFor(1, "s1", "alice")
		b := e.mustFor(1, "s2", "bob")
		c := e.mustFor(2, "s1", "carol")
		if at, err := e.ks.EventsIndexed(1); at != (keys.EventCursor{}) || err != nil {
			t.Fatalf("EventsIndexed(1) before any = %+v, %v; want zero", at, err)
		}
		steps := []struct {
			stream   uint64
			from, to uint64
			spans    map[string]keys.EventSpan
		}{
			{1, 0, 10, map[string]keys.EventSpan{a.ID: {0, 8, 5}, b.ID: {1, 9, 5}}},
			{1, 10, 12, map[string]keys.EventSpan{a.ID: {10, 11, 2}}},
			{1, 12, 20, nil}, // a stretch the caller found empty (trimmed)
			{2, 0, 3, map[string]keys.EventSpan{c.ID: {0, 2, 3}}},
		}
		for _, s := range steps {
			if err := e.ks.IndexEvents(streamID(s.stream), s.from, s.to, s.spans); err != nil {
				t.Fatalf("IndexEvents(%d, %d, %d): %v", s.stream, s.from, s.to, err)
			}
		}
		e.check()
		e.reopen()
		for stream, want := range map[uint64]uint64{1: 20, 2: 3, 3: 0} {
			if at, err := e.ks.EventsIndexed(streamID(stream)); at != (keys.EventCursor{Next: want}) || err != nil {
				t.Errorf("EventsIndexed(%d) = %+v, %v; want next %d", stream, at, err, want)
			}
		}
		for _, tc := range []struct {
			link string
			want []keys.EventSpan
		}{
			{a.ID, []keys.EventSpan{{0, 8, 5}, {10, 11, 2}}},
			{b.ID, []keys.EventSpan{{1, 9, 5}}},
			{c.ID, []keys.EventSpan{{0, 2, 3}}},
			{"7b4cf8a4-4a8c-4c7e-9d55-0f1a0e2b3c4d", nil},
		} {
			if got, err := e.ks.EventSpans(tc.link); !slices.Equal(got, tc.want) || err != nil {
				t.Errorf("EventSpans(%s) = %+v, %v; want %+v", tc.link, got, err, tc.want)
			}
		}

		// Forget keeps the spans (as it keeps the tombstones); dropping
		// the stream deletes them with its cursor.
		if _, err := e.ks.Forget("alice"); err != nil {
			t.Fatal(err)
		}
		if got, err := e.ks.EventSpans(a.ID); len(got) != 2 || err != nil {
			t.Fatalf("EventSpans of a forgotten link = %+v, %v; want its 2 spans", got, err)
		}
		batch := e.db.NewBatch()
		if err := e.ks.DropStream(1)(store.PebbleBatch(batch)); err != nil {
			t.Fatal(err)
		}
		if err := batch.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		batch.Close()
		if err := e.ks.Recount(); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a.ID, b.ID} {
			if got, err := e.ks.EventSpans(id); len(got) != 0 || err != nil {
				t.Errorf("EventSpans(%s) after the drop = %+v, %v; want none", id, got, err)
			}
		}
		if at, err := e.ks.EventsIndexed(1); at != (keys.EventCursor{}) || err != nil {
			t.Errorf("EventsIndexed(1) after the drop = %+v, %v; want zero", at, err)
		}
		if at, err := e.ks.EventsIndexed(2); at != (keys.EventCursor{Next: 3}) || err != nil {
			t.Errorf("EventsIndexed(2) after dropping stream 1 = %+v, %v; want next 3", at, err)
		}
	})
}

func TestEventIndexErrors(t *testing.T) {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	a := e.mustFor(1, "s1", "alice")
	if err := e.ks.IndexEvents(1, 0, 5, map[string]keys.EventSpan{a.ID: {0, 4, 5}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to uint64
		spans    map[string]keys.EventSpan
		want     string
	}{
		{"from before the cursor", 0, 8, nil,
			"keys: event index of stream 1: from is 0 and to 8, the cursor is at 5"},
		{"from past the cursor", 6, 8, nil,
			"keys: event index of stream 1: from is 6 and to 8, the cursor is at 5"},
		{"to before from", 5, 4, nil,
			"keys: event index of stream 1: from is 5 and to 4, the cursor is at 5"},
		{"span past to", 5, 8, map[string]keys.EventSpan{a.ID: {5, 8, 2}},
			"keys: event index of stream 1: span 5-8 of key link " + a.ID + " is outside offsets [5, 8)"},
		{"span before from", 5, 8, map[string]keys.EventSpan{a.ID: {4, 6, 2}},
			"keys: event index of stream 1: span 4-6 of key link " + a.ID + " is outside offsets [5, 8)"},
		{"empty span", 5, 8, map[string]keys.EventSpan{a.ID: {5, 6, 0}},
			"keys: event index of stream 1: span 5-6 of key link " + a.ID + " cannot hold 0 events"},
		{"more events than offsets", 5, 8, map[string]keys.EventSpan{a.ID: {5, 6, 3}},
			"keys: event index of stream 1: span 5-6 of key link " + a.ID + " cannot hold 3 events"},
		{"inverted span", 5, 8, map[string]keys.EventSpan{a.ID: {7, 6, 1}},
			"keys: event index of stream 1: span 7-6 of key link " + a.ID + " cannot hold 1 events"},
		{"not a UUID", 5, 8, map[string]keys.EventSpan{"nope": {5, 6, 1}},
			`keys: corrupt data: stream 1: event names key link "nope", not a UUID`},
	} {
		if err := e.ks.IndexEvents(1, tc.from, tc.to, tc.spans); errString(err) != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if at, err := e.ks.EventsIndexed(1); at != (keys.EventCursor{Next: 5}) || err != nil {
		t.Errorf("EventsIndexed(1) after refusals = %+v, %v; want next 5", at, err)
	}
	if _, err := e.ks.EventSpans("nope"); errString(err) != "keys: key link not found: not a UUID" {
		t.Errorf("EventSpans(nope) = %v", err)
	}
}

// appendEvents appends to stream 1 one record per key, telling a Pending
// the key of each, and returns the offset of the first.
func (a *appendEnv) appendEvents(ks ...*keys.Key) uint64 {
	a.t.Helper()
	p := a.ks.Pending()
	recs := make([]log.Record, len(ks))
	for i, k := range ks {
		p.Event(k)
		recs[i] = log.Record{Value: []byte("event")}
	}
	first, err := a.log.AppendAlso(context.Background(), 1, recs, p)
	if err != nil {
		a.t.Fatal(err)
	}
	return first
}

func (a *appendEnv) wantCursor(want keys.EventCursor) {
	a.t.Helper()
	if got, err := a.ks.EventsIndexed(1); got != want || err != nil {
		a.t.Fatalf("EventsIndexed(1) = %+v, %v; want %+v", got, err, want)
	}
}

func (a *appendEnv) wantSpans(k *keys.Key, want ...keys.EventSpan) {
	a.t.Helper()
	if got, err := a.ks.EventSpans(k.ID); !slices.Equal(got, want) || err != nil {
		a.t.Fatalf("EventSpans(%s) = %+v, %v; want %+v", k.ID, got, err, want)
	}
}

func (a *appendEnv) indexEvents(from, to uint64, spans map[string]keys.EventSpan) {
	a.t.Helper()
	if err := a.ks.IndexEvents(1, from, to, spans); err != nil {
		a.t.Fatalf("IndexEvents(1, %d, %d): %v", from, to, err)
	}
}

// An append keeps the event index in its own batch: each link's events
// merge into its span, the cursor follows the log, and a crash keeps both
// with the records; after it, appends merge into the same spans.
func TestEventIndexKeptByAppends(t *testing.T) {
	a := newAppendEnv(t)
	ka, kb := a.mustFor(1, "s1", "alice"), a.mustFor(1, "s2", "bob")
	a.appendEvents(ka, kb, ka) // 0-2
	a.appendEvents(ka)         // 3
	p := a.ks.Pending()
	kc := a.forAppend("s3", "carol", p) // a new link, written by the append
	p.Event(kb)
	p.Event(kc)
	if _, err := a.log.AppendAlso(context.Background(), 1, []log.Record{{Value: []byte("event")}, {Value: []byte("event")}}, p); err != nil {
		t.Fatal(err) // 4-5
	}
	a.wantCursor(keys.EventCursor{Next: 6})
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 3, Count: 3})
	a.wantSpans(kb, keys.EventSpan{First: 1, Last: 4, Count: 2})
	a.wantSpans(kc, keys.EventSpan{First: 5, Last: 5, Count: 1})
	a.check()

	a.crash()
	a.wantCursor(keys.EventCursor{Next: 6})
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 3, Count: 3})
	a.wantSpans(kc, keys.EventSpan{First: 5, Last: 5, Count: 1})
	ka, kc = a.mustFor(1, "s1", "alice"), a.mustFor(1, "s3", "carol")
	a.appendEvents(kc, ka) // 6-7
	a.appendEvents(ka)     // 8
	a.wantCursor(keys.EventCursor{Next: 9})
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 8, Count: 5})
	a.wantSpans(kc, keys.EventSpan{First: 5, Last: 6, Count: 2})
	a.check()
}

// Appends of one stream from many goroutines share group commits: each
// Add gets its append's offsets, in order, so every link has one span of
// exactly its events and the cursor is the log's end.
func TestEventIndexConcurrentAppends(t *testing.T) {
	a := newAppendEnv(t)
	const producers, appends = 8, 50
	shared := a.mustFor(1, "shared", "")
	own := make([]*keys.Key, producers)
	firsts := make([][]uint64, producers)
	for i := range own {
		own[i] = a.mustFor(1, fmt.Sprintf("s%d", i), "")
	}
	var wg sync.WaitGroup
	for i := range producers {
		wg.Go(func() {
			for range appends {
				p := a.ks.Pending()
				for _, k := range []*keys.Key{own[i], shared, own[i]} {
					p.Event(k)
				}
				first, err := a.log.AppendAlso(context.Background(), 1, []log.Record{{Value: []byte("e")}, {Value: []byte("e")}, {Value: []byte("e")}}, p)
				if err != nil {
					t.Error(err)
					return
				}
				firsts[i] = append(firsts[i], first)
			}
		})
	}
	wg.Wait()
	a.wantCursor(keys.EventCursor{Next: producers * appends * 3})
	for i, k := range own {
		a.wantSpans(k, keys.EventSpan{First: slices.Min(firsts[i]), Last: slices.Max(firsts[i]) + 2, Count: 2 * appends})
	}
	a.wantSpans(shared, keys.EventSpan{First: 1, Last: producers*appends*3 - 2, Count: producers * appends})
	a.check()
}

// A link's span stays within the chunk of offsets where it began (plus one
// append): appends merge into the spans of the chunk where the first of
// them began, and the first append that begins in a later chunk folds
// them and starts new ones. Folded or not, EventSpans gives them all.
func TestEventIndexChunks(t *testing.T) {
	a := newAppendEnv(t)
	ka, kb, kc := a.mustFor(1, "s1", "alice"), a.mustFor(1, "s2", "bob"), a.mustFor(1, "s3", "carol")
	const batch = 10_000
	for j := range 8 { // 0-79999; the seventh append (60000-69999) crosses 65536
		ks := make([]*keys.Key, batch)
		for i := range ks {
			switch off := j*batch + i; {
			case off == 70_000, off >= 65_536 && off < 70_000 && off%2 == 1:
				ks[i] = kc
			case off%2 == 0:
				ks[i] = ka
			default:
				ks[i] = kb
			}
		}
		a.appendEvents(ks...)
	}
	a.wantCursor(keys.EventCursor{Next: 8 * batch})
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 69_998, Count: 35_000}, keys.EventSpan{First: 70_002, Last: 79_998, Count: 4_999})
	a.wantSpans(kb, keys.EventSpan{First: 1, Last: 65_535, Count: 32_768}, keys.EventSpan{First: 70_001, Last: 79_999, Count: 5_000})
	a.wantSpans(kc, keys.EventSpan{First: 65_537, Last: 69_999, Count: 2_232}, keys.EventSpan{First: 70_000, Last: 70_000, Count: 1})
	a.check()
	a.crash()
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 69_998, Count: 35_000}, keys.EventSpan{First: 70_002, Last: 79_998, Count: 4_999})
	a.wantSpans(kc, keys.EventSpan{First: 65_537, Last: 69_999, Count: 2_232}, keys.EventSpan{First: 70_000, Last: 70_000, Count: 1})
}

// Records appended without their index (by an older version, or without
// events told) leave a gap that the next indexed append records; the
// catch-up (IndexEvents) closes it, and a crash loses at most its unsynced
// part. A second stretch without index while the gap is open is not
// indexed at all until the catch-up reaches it.
func TestEventIndexGap(t *testing.T) {
	a := newAppendEnv(t)
	ka, kb := a.mustFor(1, "s1", "alice"), a.mustFor(1, "s2", "bob")
	for range 3 {
		a.appendWith(a.ks.Pending()) // 0-2, as an older version wrote them
	}
	a.wantCursor(keys.EventCursor{})
	a.appendEvents(ka, kb) // 3-4
	a.wantCursor(keys.EventCursor{Next: 5, GapFrom: 0, GapTo: 3})
	a.wantSpans(ka, keys.EventSpan{First: 3, Last: 3, Count: 1})
	a.check()
	for _, tc := range []struct {
		from, to uint64
		want     string
	}{
		{1, 3, "keys: event index of stream 1: from is 1 and to 3, the index misses offsets [0, 3)"},
		{0, 4, "keys: event index of stream 1: from is 0 and to 4, the index misses offsets [0, 3)"},
		{5, 6, "keys: event index of stream 1: from is 5 and to 6, the index misses offsets [0, 3)"},
	} {
		if err := a.ks.IndexEvents(1, tc.from, tc.to, nil); errString(err) != tc.want {
			t.Errorf("IndexEvents(1, %d, %d) = %v\nwant %s", tc.from, tc.to, err, tc.want)
		}
	}
	a.indexEvents(0, 2, map[string]keys.EventSpan{ka.ID: {First: 0, Last: 1, Count: 2}})
	a.wantCursor(keys.EventCursor{Next: 5, GapFrom: 2, GapTo: 3})
	// The catch-up is written without a sync, and nothing synced follows.
	a.crash()
	a.wantCursor(keys.EventCursor{Next: 5, GapFrom: 0, GapTo: 3})
	a.wantSpans(ka, keys.EventSpan{First: 3, Last: 3, Count: 1})
	a.indexEvents(0, 3, map[string]keys.EventSpan{ka.ID: {First: 0, Last: 1, Count: 2}, kb.ID: {First: 2, Last: 2, Count: 1}})
	a.wantCursor(keys.EventCursor{Next: 5})
	ka, kb = a.mustFor(1, "s1", "alice"), a.mustFor(1, "s2", "bob")
	a.appendEvents(ka) // 5, merged with nothing: the cursor moved under it
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 1, Count: 2}, keys.EventSpan{First: 3, Last: 3, Count: 1}, keys.EventSpan{First: 5, Last: 5, Count: 1})

	a.appendWith(a.ks.Pending()) // 6
	a.appendEvents(kb)           // 7: a new gap
	a.appendWith(a.ks.Pending()) // 8
	a.appendEvents(kb)           // 9: not indexed, the gap is open
	a.wantCursor(keys.EventCursor{Next: 8, GapFrom: 6, GapTo: 7})
	for _, tc := range []struct {
		cur      keys.EventCursor
		end      uint64
		from, to uint64
	}{
		{keys.EventCursor{Next: 8, GapFrom: 6, GapTo: 7}, 10, 6, 7},
		{keys.EventCursor{Next: 8, GapFrom: 6, GapTo: 7}, 6, 6, 6},
		{keys.EventCursor{Next: 8}, 10, 8, 10},
		{keys.EventCursor{Next: 8}, 8, 8, 8},
	} {
		if from, to := tc.cur.Missing(tc.end); from != tc.from || to != tc.to {
			t.Errorf("%+v.Missing(%d) = %d, %d; want %d, %d", tc.cur, tc.end, from, to, tc.from, tc.to)
		}
	}
	a.indexEvents(6, 7, nil)
	a.wantCursor(keys.EventCursor{Next: 8})
	a.indexEvents(8, 10, map[string]keys.EventSpan{kb.ID: {First: 9, Last: 9, Count: 1}})
	a.appendEvents(kb) // 10
	a.wantCursor(keys.EventCursor{Next: 11})
	a.wantSpans(kb, keys.EventSpan{First: 2, Last: 2, Count: 1}, keys.EventSpan{First: 4, Last: 4, Count: 1},
		keys.EventSpan{First: 7, Last: 7, Count: 1}, keys.EventSpan{First: 9, Last: 9, Count: 1}, keys.EventSpan{First: 10, Last: 10, Count: 1})
	a.check()
}

// An append whose events do not match its records fails, and writes
// nothing: neither records nor index.
func TestEventIndexAppendRefused(t *testing.T) {
	a := newAppendEnv(t)
	ka, kd := a.mustFor(1, "s1", "alice"), a.mustFor(2, "s1", "dave")
	for _, tc := range []struct {
		name   string
		events []*keys.Key
		recs   int
		want   string
	}{
		{"fewer events", []*keys.Key{ka}, 2, "keys: event index of stream 1: an append of 2 records names the key links of 1"},
		{"more events", []*keys.Key{ka, ka, ka}, 2, "keys: event index of stream 1: an append of 2 records names the key links of 3"},
		{"two streams", []*keys.Key{ka, kd}, 2, "keys: event index: the events of one append use key links of streams 1 and 2"},
	} {
		p := a.ks.Pending()
		for _, k := range tc.events {
			p.Event(k)
		}
		_, err := a.log.AppendAlso(context.Background(), 1, make([]log.Record, tc.recs), p)
		if errString(err) != tc.want {
			t.Errorf("%s: append = %v\nwant %s", tc.name, err, tc.want)
		}
	}
	if first, next, err := a.log.Bounds(1); err != nil || first != 0 || next != 0 {
		t.Fatalf("Bounds = %d, %d, %v; want 0, 0", first, next, err)
	}
	a.wantCursor(keys.EventCursor{})
	a.appendEvents(ka, ka)
	a.wantCursor(keys.EventCursor{Next: 2})
	a.wantSpans(ka, keys.EventSpan{First: 0, Last: 1, Count: 2})
}
