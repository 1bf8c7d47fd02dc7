package keys_test

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/keys"
)

func TestEventIndex(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := newEnv(t, loc)
		a := e.mustFor(1, "s1", "alice")
		b := e.mustFor(1, "s2", "bob")
		c := e.mustFor(2, "s1", "carol")
		if at, err := e.ks.EventsIndexed(1); at != 0 || err != nil {
			t.Fatalf("EventsIndexed(1) before any = %d, %v; want 0", at, err)
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
			if at, err := e.ks.EventsIndexed(streamID(stream)); at != want || err != nil {
				t.Errorf("EventsIndexed(%d) = %d, %v; want %d", stream, at, err, want)
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
		if err := e.ks.DropStream(1)(batch); err != nil {
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
		if at, err := e.ks.EventsIndexed(1); at != 0 || err != nil {
			t.Errorf("EventsIndexed(1) after the drop = %d, %v; want 0", at, err)
		}
		if at, err := e.ks.EventsIndexed(2); at != 3 || err != nil {
			t.Errorf("EventsIndexed(2) after dropping stream 1 = %d, %v; want 3", at, err)
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
	if at, err := e.ks.EventsIndexed(1); at != 5 || err != nil {
		t.Errorf("EventsIndexed(1) after refusals = %d, %v; want 5", at, err)
	}
	if _, err := e.ks.EventSpans("nope"); errString(err) != "keys: key link not found: not a UUID" {
		t.Errorf("EventSpans(nope) = %v", err)
	}
}
