package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// Forget counts the stored events of the forgotten links exactly, through
// the event index that ingest keeps: across forgets with events appended
// in between, across a reopen of the data dir, after retention cut a
// link's span, and over records stored without their index (by an older
// version), which a forget indexes once.
func TestForgetCountsThroughTheIndex(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	st, _, err := a.CreateStream(catalog.NewStream{Name: "clicks"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(events ...string) { // "session customer"
		t.Helper()
		bodies := make([][]byte, len(events))
		for i, ev := range events {
			var session, customer string
			_, _ = fmt.Sscanf(ev, "%s %s", &session, &customer)
			bodies[i] = forgetClick(session, customer, i)
		}
		res, err := a.Ingest(context.Background(), st, "streammachine/clickstream/1.0.0", engine.JSON, bodies)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	forget := func(subject string, want Forgotten) {
		t.Helper()
		if got, err := a.Forget(subject); got != want || err != nil {
			t.Fatalf("Forget(%s) = %+v, %v; want %+v", subject, got, err, want)
		}
		if err := a.keys.Check(); err != nil {
			t.Fatalf("keys.Check after Forget(%s): %v", subject, err)
		}
	}
	indexed := func(want keys.EventCursor) {
		t.Helper()
		if at, err := a.keys.EventsIndexed(st.ID); at != want || err != nil {
			t.Fatalf("EventsIndexed = %+v, %v; want %+v", at, err, want)
		}
	}

	// sendOld appends events as a version that did not keep the event
	// index at ingest did: no index entries, the cursor left behind.
	sendOld := func(events ...string) {
		t.Helper()
		schema, err := a.reg.ActiveSchema("streammachine/clickstream/1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		now := a.opts.Clock.Now().UTC()
		recs := make([]log.Record, len(events))
		for i, e := range events {
			var session, customer string
			_, _ = fmt.Sscanf(e, "%s %s", &session, &customer)
			// For stores the link itself, so the append need not.
			if _, err := a.keys.For(st.ID, session, customer); err != nil {
				t.Fatal(err)
			}
			ev, cc, err := engine.Validate(schema, engine.JSON, forgetClick(session, customer, i), a.opts.MaxEventBytes, a.reg.ActiveContract)
			if err != nil {
				t.Fatal(err)
			}
			var meta engine.RecordMeta
			value, err := a.seal(nil, st.ID, ev, cc, now, &meta, a.keys.Pending(), &keyMemo{})
			if err != nil {
				t.Fatal(err)
			}
			recs[i] = log.Record{Time: now, Meta: meta.Append(nil), Value: value}
		}
		if _, err := a.log.AppendAlso(context.Background(), st.ID, recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	reopen := func() {
		t.Helper()
		a.Close()
		if a, err = Open(Options{DataDir: dir}); err != nil {
			t.Fatal(err)
		}
		if st, err = a.Streams().Get("clicks"); err != nil {
			t.Fatal(err)
		}
	}

	// Offsets 0-5: ingest indexes them.
	send("s1 alice", "s2 bob", "s1 alice", "s3 carol", "s2 bob", "s4 alice")
	indexed(keys.EventCursor{Next: 6})
	forget("nobody", Forgotten{KeyLinks: 0, Events: 0})
	forget("carol", Forgotten{KeyLinks: 1, Events: 1})
	indexed(keys.EventCursor{Next: 6})
	// Offsets 6-9: more of alice's links after a forget.
	send("s1 alice", "s5 dave", "s4 alice", "s5 dave")

	reopen()
	indexed(keys.EventCursor{Next: 10})
	// Offsets 10-13.
	send("s6 erin", "s2 bob", "s6 erin", "s6 erin")
	forget("alice", Forgotten{KeyLinks: 2, Events: 5})
	indexed(keys.EventCursor{Next: 14})
	forget("alice", Forgotten{KeyLinks: 0, Events: 0})

	// Retention removes offsets 0-10: bob keeps his span 11-11 and none
	// of 1-4, dave (7-9) keeps nothing, and erin's span 10-13 is cut: 11-13
	// is read, and holds 2 of hers.
	if n, err := trimTo(a.log.(*log.Log), st.ID, 11); n != 11 || err != nil {
		t.Fatalf("trim = %d, %v; want 11 records removed", n, err)
	}
	forget("bob", Forgotten{KeyLinks: 1, Events: 1})
	forget("dave", Forgotten{KeyLinks: 1, Events: 0})
	forget("erin", Forgotten{KeyLinks: 1, Events: 2})
	indexed(keys.EventCursor{Next: 14})

	// Offsets 14-16 as an older version stored them, then 17-18 through
	// ingest: the index records the gap, and a forget reads it, once.
	sendOld("s8 gina", "s9 hank", "s8 gina")
	indexed(keys.EventCursor{Next: 14})
	send("s8 gina", "s9 hank")
	indexed(keys.EventCursor{Next: 19, GapFrom: 14, GapTo: 17})
	reopen()
	indexed(keys.EventCursor{Next: 19, GapFrom: 14, GapTo: 17})
	forget("gina", Forgotten{KeyLinks: 1, Events: 3})
	indexed(keys.EventCursor{Next: 19})
	send("s9 hank")
	forget("hank", Forgotten{KeyLinks: 1, Events: 3})
	// Stored after the last indexed append: read from the cursor on.
	sendOld("s10 ivan", "s10 ivan")
	forget("ivan", Forgotten{KeyLinks: 1, Events: 2})
	indexed(keys.EventCursor{Next: 22})

	// Dropping the stream drops its index, and a forget meets no link.
	send("s7 frank")
	if _, err := a.DeleteStream("clicks", false); err != nil {
		t.Fatal(err)
	}
	forget("frank", Forgotten{KeyLinks: 0, Events: 0})
	indexed(keys.EventCursor{})
}

// trimTo removes the records of stream before offset keep by size
// retention: it keeps at most the bytes of the records from keep on.
func trimTo(l *log.Log, id log.StreamID, keep uint64) (uint64, error) {
	var kept uint64
	_, next, err := l.Bounds(id)
	if err != nil {
		return 0, err
	}
	recs, err := l.Read(id, keep, int(next-keep))
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		kept += uint64(len(r.Meta) + len(r.Value))
	}
	// The stored size of a record is a little more than its meta and
	// value; allow for it without keeping one more record.
	return l.Trim(id, log.Retention{MaxBytes: kept + uint64(len(recs))*16}, recs[0].Time)
}

// TestBatchReusesKeyOnlyForSameSessionAndSubject: Ingest takes the key of
// the batch's previous event for an event of the same session and data
// subject (keyMemo). A session's events in one batch share one key link,
// whose every subject is recorded, also one that follows another of the
// same session.
func TestBatchReusesKeyOnlyForSameSessionAndSubject(t *testing.T) {
	a, st := openClicks(t, Options{DataDir: t.TempDir()})
	var bodies [][]byte
	for i, ev := range []string{"s1 c1", "s1 c1", "s2 c2", "s1 c1", "s1 c3", "s1 c1", "s2 c2"} {
		var session, customer string
		_, _ = fmt.Sscanf(ev, "%s %s", &session, &customer)
		bodies = append(bodies, forgetClick(session, customer, i))
	}
	res, err := a.Ingest(context.Background(), st, "streammachine/clickstream/1.0.0", engine.JSON, bodies)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
	}
	if links, err := a.keys.Links(st.ID); len(links) != 2 || err != nil {
		t.Fatalf("Links = %v, %v; want the links of s1 and s2", links, err)
	}
	for _, tc := range []struct {
		subject string
		want    Forgotten
	}{
		{"c3", Forgotten{KeyLinks: 1, Events: 5}}, // s1's link, recorded for c3 after c1
		{"c1", Forgotten{}},                       // the same link, shredded already
		{"c2", Forgotten{KeyLinks: 1, Events: 2}},
	} {
		if got, err := a.Forget(tc.subject); got != tc.want || err != nil {
			t.Fatalf("Forget(%s) = %+v, %v; want %+v", tc.subject, got, err, tc.want)
		}
	}
}
