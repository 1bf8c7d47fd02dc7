package keys

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// EventSpan is what a stretch of a stream's log holds of one key link's
// events: Count events, the first at offset First and the last at Last.
type EventSpan struct {
	First, Last, Count uint64
}

// The event index tells, per key link, where its events are in its
// stream's log, so that counting them (Forget's answer) reads the link's
// spans instead of the stream. Ingest keeps it: the append's Pending (its
// log.Also) is told the link of every record (Pending.Event), and the
// batch of the append's group commit holds, per stream the group appended
// to, one entry with the span of each link its appends name (a kindAppends
// key, keyed by the offset of the group's first append to the stream,
// after the stream's last: a cheap insert, where one key per link would be
// one at a random place each), and the stream's cursor moved to the end of
// its last append. Each Add (indexAppend) merges its append's spans into
// the stream's group spans in memory; the group's EndGroup (endGroupEvents) writes
// them and the cursors, two Sets per stream and group rather than per
// append (single-event appends come ~20 to a group). So a crash keeps the
// records and their index together or loses both. The entry has the
// encoding an entry of one append had: an entry of an older version (one
// per append) and one of a group read the same.
//
// The spans of the entries since the last fold are merged by link in
// memory (read again from their entries after a restart); the first
// append that begins in a later chunk of offsets folds them into one span
// entry per link and deletes their entries, in its batch. A fold inside a
// group folds that group's appends so far too (they are in the merged
// spans): its entry then holds only the appends after the fold, and is
// keyed by the first of them.
//
// Records appended without it (by a version before this index was kept at
// ingest, or by an append without events told) leave the cursor behind the
// log. The first indexed append after them records the stretch they hold
// as the cursor's gap and indexes its own records; the caller reads the
// gap's records (or, with no gap, those from the cursor on) and hands
// their spans to IndexEvents, which closes it. So the index never holds a
// record twice or skips one. IndexEvents writes without a sync: a crash
// loses at most a suffix of the WAL, which the next catch-up reads again.

// eventChunk bounds a span: an append merges a link's events into its span
// only when that span begins in the chunk of offsets (eventChunk of them)
// where the append begins, so a span covers at most eventChunk offsets
// plus one append. That holds for the spans of a group's entry too: each
// append of the group is checked against the chunk, and one that begins
// in a later chunk folds (indexAppend), so an entry never covers more than
// the chunk where its first append begins, plus its last append.
const eventChunk = 1 << 16

// EventCursor is how far a stream's event index goes: it holds the events
// of every offset before Next, but those of the gap [GapFrom, GapTo) when
// GapFrom < GapTo.
type EventCursor struct {
	Next, GapFrom, GapTo uint64
}

func (c EventCursor) gap() bool { return c.GapFrom < c.GapTo }

// Missing returns the first stretch [from, to) of offsets before end whose
// events the index does not hold; from >= to when there is none.
func (c EventCursor) Missing(end uint64) (from, to uint64) {
	if c.gap() {
		return c.GapFrom, min(c.GapTo, end)
	}
	return c.Next, end
}

func (c EventCursor) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, c.Next)
	if c.gap() {
		b = binary.AppendUvarint(b, c.GapFrom)
		b = binary.AppendUvarint(b, c.GapTo)
	}
	return b
}

// decodeEventCursor reads Next, or Next, GapFrom and GapTo.
func decodeEventCursor(v []byte) (EventCursor, bool) {
	var c EventCursor
	var vals [3]uint64
	i := 0
	for ; i < 3 && len(v) > 0; i++ {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return c, false
		}
		vals[i], v = x, v[n:]
	}
	c = EventCursor{Next: vals[0], GapFrom: vals[1], GapTo: vals[2]}
	switch {
	case len(v) != 0 || (i != 1 && i != 3):
		return c, false
	case i == 3 && !(c.GapFrom < c.GapTo && c.GapTo <= c.Next):
		return c, false
	}
	return c, true
}

func eventsPrefix(id uuid.UUID) []byte { return append(prefix(kindEvents, 16+8), id[:]...) }

func eventsKey(id uuid.UUID, first uint64) []byte {
	return binary.BigEndian.AppendUint64(eventsPrefix(id), first)
}

func indexedKey(s log.StreamID) []byte { return appendStream(prefix(kindIndexed, 8), s) }

func (sp EventSpan) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, sp.Count)
	return binary.AppendUvarint(b, sp.Last-sp.First)
}

func decodeEventSpan(k, v []byte) (EventSpan, error) {
	sp := EventSpan{First: binary.BigEndian.Uint64(k[len(k)-8:])}
	var n, m int
	var span uint64
	sp.Count, n = binary.Uvarint(v)
	if n > 0 {
		span, m = binary.Uvarint(v[n:])
	}
	if n <= 0 || m <= 0 || n+m != len(v) || sp.Count == 0 || span > ^uint64(0)-sp.First {
		return sp, fmt.Errorf("%w: event span of key link %s", errCorrupt, idSuffix(k[:len(k)-8]))
	}
	sp.Last = sp.First + span
	return sp, nil
}

func appendsPrefix(s log.StreamID) []byte { return appendStream(prefix(kindAppends, 16), s) }

func appendsKey(b []byte, s log.StreamID, first uint64) []byte {
	return binary.BigEndian.AppendUint64(appendStream(append(b, store.SpaceKeys, kindAppends), s), first)
}

// appendSpans encodes the spans of the appends whose records begin at
// first (one append, or a group's appends of one stream): per link its ID,
// then its first position among those records, last - first and count, as
// uvarints.
func appendSpans(b []byte, first uint64, spans []linkSpan) []byte {
	for i := range spans {
		s := &spans[i]
		b = append(b, s.id[:]...)
		b = binary.AppendUvarint(b, s.First-first)
		b = binary.AppendUvarint(b, s.Last-s.First)
		b = binary.AppendUvarint(b, s.Count)
	}
	return b
}

// eachAppendSpan decodes an appends entry (appendSpans) whose records begin
// at first. A span of n events covers at least n offsets, however many
// appends it merges (their offsets are distinct): count <= last-first+1.
func eachAppendSpan(stream log.StreamID, first uint64, v []byte, fn func(id uuid.UUID, sp EventSpan)) error {
	for len(v) > 0 {
		var vals [3]uint64
		ok := len(v) > 16
		id := uuid.UUID(v[:min(16, len(v))])
		if ok {
			v = v[16:]
		}
		for i := 0; ok && i < 3; i++ {
			x, n := binary.Uvarint(v)
			ok = n > 0
			if ok {
				vals[i], v = x, v[n:]
			}
		}
		if !ok || vals[2] == 0 || vals[2] > vals[1]+1 {
			return fmt.Errorf("%w: event index entry of stream %d at offset %d", errCorrupt, stream, first)
		}
		fn(id, EventSpan{First: first + vals[0], Last: first + vals[0] + vals[1], Count: vals[2]})
	}
	return nil
}

// eventState is the event index in memory: the cursor of every stream
// loaded since Open and, per stream, the spans of the appends not folded
// yet. REQUIRES: Keys.writeMu held (the log's committer holds it for a
// group).
type eventState struct {
	streams map[log.StreamID]*streamEvents
	// touched lists the streams whose state the group being written
	// changed: dropped, to be read again, if the group is abandoned.
	touched []log.StreamID
	// sealing lists the streams whose cursor the group being written
	// moved, whose entry and cursor its EndGroup writes (endGroupEvents).
	sealing  []log.StreamID
	key, val []byte // scratch
}

// streamEvents is a stream's event index in memory: its cursor, and the
// appends since the last fold, stored as entries (kindAppends) of one
// group each and, for the group being written, in group; their spans are
// merged by link in pending.
type streamEvents struct {
	cur     EventCursor
	chunk   uint64                  // the chunk where the first of the appends begins
	appends []uint64                // the offsets of the entries not folded
	pending map[uuid.UUID]EventSpan // their spans and group's, merged by link
	// group holds the spans of the group's appends since its first or
	// since a fold inside it, to be written as one entry by EndGroup.
	group   groupSpans
	sealing bool // listed in eventState.sealing
}

// linkSpan is a link's span among some appends of its stream.
type linkSpan struct {
	id uuid.UUID
	EventSpan
}

// groupSpans is what a group of appends keeps of the event index of one
// stream until its EndGroup: the offset of the first of these appends and
// their spans, merged by link in the order of their first event.
// REQUIRES: Keys.writeMu held.
type groupSpans struct {
	first  uint64
	spans  []linkSpan
	byLink map[uuid.UUID]int // index in spans, once there are many
}

func (g *groupSpans) empty() bool { return len(g.spans) == 0 }

// merge adds the span of a later append of the group.
func (g *groupSpans) merge(id uuid.UUID, sp EventSpan) {
	i := -1
	if g.byLink != nil {
		if j, ok := g.byLink[id]; ok {
			i = j
		}
	} else {
		for j := range g.spans {
			if g.spans[j].id == id {
				i = j
				break
			}
		}
	}
	if i >= 0 {
		have := &g.spans[i].EventSpan
		have.Last, have.Count = sp.Last, have.Count+sp.Count
		return
	}
	g.spans = append(g.spans, linkSpan{id, sp})
	switch {
	case g.byLink != nil:
		g.byLink[id] = len(g.spans) - 1
	case len(g.spans) > spansScanned:
		g.byLink = make(map[uuid.UUID]int, 2*len(g.spans))
		for j := range g.spans {
			g.byLink[g.spans[j].id] = j
		}
	}
}

// reset empties g, keeping its memory unless it grew large.
func (g *groupSpans) reset() {
	if cap(g.spans) > maxPooledSpans {
		*g = groupSpans{}
		return
	}
	clear(g.spans)
	g.spans = g.spans[:0]
	clear(g.byLink)
}

// unfolded says whether se has appends not folded, stored or in the group.
func (se *streamEvents) unfolded() bool { return len(se.appends) > 0 || !se.group.empty() }

// streamEvents returns the state of stream, reading its cursor and the
// entries of the appends not folded on first use. REQUIRES: opMu held
// shared, writeMu held.
func (ks *Keys) streamEvents(stream log.StreamID) (*streamEvents, error) {
	ev := &ks.events
	if se := ev.streams[stream]; se != nil {
		return se, nil
	}
	c, err := ks.storedCursor(stream)
	if err != nil {
		return nil, err
	}
	se := &streamEvents{cur: c, pending: make(map[uuid.UUID]EventSpan)}
	err = store.ScanPrefix(ks.db, appendsPrefix(stream), func(k, v []byte) error {
		first := binary.BigEndian.Uint64(k[len(k)-8:])
		if len(se.appends) == 0 {
			se.chunk = first / eventChunk
		}
		se.appends = append(se.appends, first)
		return eachAppendSpan(stream, first, v, se.merge)
	})
	if err != nil {
		return nil, err
	}
	if ev.streams == nil {
		ev.streams = make(map[log.StreamID]*streamEvents)
	}
	ev.streams[stream] = se
	return se, nil
}

// merge adds a span of an append, later than the ones merged before, to
// the link's pending span.
func (se *streamEvents) merge(id uuid.UUID, sp EventSpan) {
	if have, ok := se.pending[id]; ok {
		sp.First, sp.Count = have.First, have.Count+sp.Count
	}
	se.pending[id] = sp
}

// fold puts into b the pending spans as span entries of their links and
// the deletion of the appends entries that held them; the group's spans,
// merged in the pending ones, are dropped too. REQUIRES: writeMu held.
func (ks *Keys) fold(b store.Batch, stream log.StreamID, se *streamEvents) {
	ev := &ks.events
	for id, sp := range se.pending {
		ev.key = binary.BigEndian.AppendUint64(append(append(ev.key[:0], store.SpaceKeys, kindEvents), id[:]...), sp.First)
		ev.val = sp.appendTo(ev.val[:0])
		b.Set(ev.key, ev.val)
	}
	for _, first := range se.appends {
		ev.key = appendsKey(ev.key[:0], stream, first)
		b.Delete(ev.key)
	}
	clear(se.pending)
	se.appends = se.appends[:0]
	se.group.reset()
}

// foldInGroup is fold by an append of a group: the cursor as it stands
// (Next at the end of the appends folded) goes into b with the fold, so
// that the fold's spans never lie past the stored cursor, even in a batch
// committed without its EndGroup (see settleEvents). REQUIRES: writeMu held.
func (ks *Keys) foldInGroup(b store.Batch, stream log.StreamID, se *streamEvents) {
	ks.setCursor(b, stream, se.cur)
	ks.fold(b, stream, se)
}

func (ks *Keys) setCursor(b store.Batch, stream log.StreamID, c EventCursor) {
	ev := &ks.events
	ev.key = appendStream(append(ev.key[:0], store.SpaceKeys, kindIndexed), stream)
	ev.val = c.appendTo(ev.val[:0])
	b.Set(ev.key, ev.val)
}

// storedCursor reads stream's cursor from Pebble. REQUIRES: opMu held.
func (ks *Keys) storedCursor(stream log.StreamID) (EventCursor, error) {
	v, err := ks.get(indexedKey(stream))
	if v == nil || err != nil {
		return EventCursor{}, err
	}
	c, ok := decodeEventCursor(v)
	if !ok {
		return EventCursor{}, fmt.Errorf("%w: event index cursor of stream %d", errCorrupt, stream)
	}
	return c, nil
}

// dropEvents adds to b the deletion of stream's append entries, and
// forgets its state (DropStream). REQUIRES: opMu held exclusively.
func (ks *Keys) dropEvents(b store.Batch, stream log.StreamID) error {
	ks.writeMu.Lock()
	delete(ks.events.streams, stream)
	ks.writeMu.Unlock()
	return store.ScanPrefix(ks.db, appendsPrefix(stream), func(k, _ []byte) error {
		b.Delete(k)
		return nil
	})
}

// settleEvents ends a group: its states stand when ok, else they are read
// again from Pebble, group spans and all. A stream still listed in sealing
// had its cursor moved by an Add but no EndGroup wrote its entry: its state is
// read again too, so that memory holds what Pebble does (the stored cursor
// stays behind those appends, and the next indexed append records them as
// a gap for the catch-up). REQUIRES: writeMu held.
func (ks *Keys) settleEvents(ok bool) {
	ev := &ks.events
	if !ok {
		for _, s := range ev.touched {
			delete(ev.streams, s)
		}
	}
	for _, s := range ev.sealing {
		delete(ev.streams, s)
	}
	ev.touched = ev.touched[:0]
	ev.sealing = ev.sealing[:0]
}

// endGroupEvents puts into b, for every stream whose cursor the group moved,
// the appends entry of its group spans (keyed by the offset of the first
// of them) and its cursor, once per group: the streams it wrote are no
// longer listed, so the EndGroup of every other Pending of the group finds
// nothing to do. REQUIRES: opMu held shared, writeMu held, by the log's
// committer in a group, after its last Add.
func (ks *Keys) endGroupEvents(b store.Batch) {
	ev := &ks.events
	for _, s := range ev.sealing {
		se := ev.streams[s]
		if !se.group.empty() {
			ev.key = appendsKey(ev.key[:0], s, se.group.first)
			ev.val = appendSpans(ev.val[:0], se.group.first, se.group.spans)
			b.Set(ev.key, ev.val)
			se.appends = append(se.appends, se.group.first)
			se.group.reset()
		}
		ks.setCursor(b, s, se.cur)
		se.sealing = false
	}
	ev.sealing = ev.sealing[:0]
}

// indexAppend merges the spans of the records [first, first+n) of p's
// stream, whose links Event told p, into the stream's pending and group
// spans, and moves the stream's cursor past them in memory (EndGroup writes
// both, endGroupEvents); and puts into b, when the append begins in a chunk
// after the one of the pending appends or after a stretch not indexed,
// their fold. REQUIRES: opMu held shared, writeMu held, by the log's
// committer in a group.
func (ks *Keys) indexAppend(b store.Batch, p *Pending, first uint64, n int) error {
	if p.events == 0 {
		return nil
	}
	switch {
	case p.other != p.stream:
		return fmt.Errorf("keys: event index: the events of one append use key links of streams %d and %d", p.stream, p.other)
	case p.events != n:
		return fmt.Errorf("keys: event index of stream %d: an append of %d records names the key links of %d", p.stream, n, p.events)
	}
	se, err := ks.streamEvents(p.stream)
	if err != nil {
		return err
	}
	ev := &ks.events
	ev.touched = append(ev.touched, p.stream)
	c := &se.cur
	switch {
	case c.Next == first:
	case c.Next > first:
		return fmt.Errorf("%w: event index of stream %d is at offset %d, past the append at %d", errCorrupt, p.stream, c.Next, first)
	case c.gap():
		// A second stretch without its index while the first is still
		// missing: this append is not indexed either, and the catch-up
		// reads it after the gap (the cursor stays behind). The group's
		// entry, if any, holds its appends before this one, which end at
		// the cursor: EndGroup writes both as they stand.
		return nil
	default:
		// The records [Next, first) were appended without their index:
		// the catch-up reads them. No span may reach over them: the
		// spans so far (this group's too) are folded, with the cursor
		// before the gap, and the group's entry starts again here.
		ks.foldInGroup(b, p.stream, se)
		c.GapFrom, c.GapTo = c.Next, first
	}
	if se.unfolded() && first/eventChunk != se.chunk {
		ks.foldInGroup(b, p.stream, se)
	}
	if !se.unfolded() {
		se.chunk = first / eventChunk
	}
	g := &se.group
	if g.empty() {
		// The first append of the group, or the first after a fold in
		// it: the log gives the group's appends of a stream consecutive
		// offsets, and each begins at the cursor, so the entry's records
		// are [g.first, c.Next).
		g.first = first
	}
	for i := range p.spans {
		s := &p.spans[i]
		sp := EventSpan{First: first + uint64(s.first), Last: first + uint64(s.last), Count: uint64(s.count)}
		se.merge(s.id, sp)
		g.merge(s.id, sp)
	}
	c.Next = first + uint64(n)
	if !se.sealing {
		se.sealing = true
		ev.sealing = append(ev.sealing, p.stream)
	}
	return nil
}

// EventsIndexed returns how far the event index of stream goes: the zero
// cursor before any record is indexed.
func (ks *Keys) EventsIndexed(stream log.StreamID) (EventCursor, error) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return EventCursor{}, ErrClosed
	}
	ks.writeMu.Lock()
	defer ks.writeMu.Unlock()
	se, err := ks.streamEvents(stream)
	if err != nil {
		return EventCursor{}, err
	}
	return se.cur, nil
}

// IndexEvents records the events of stream's log in offsets [from, to),
// the stretch that EventsIndexed(stream).Missing gave (or a start of it):
// spans maps the ID of each key link that encrypted some of them to its
// span among them. The cursor moves past them (its gap shrinks, or Next
// moves to to). The caller serialises IndexEvents per stream, and against
// dropping the stream (DropStream deletes the index).
func (ks *Keys) IndexEvents(stream log.StreamID, from, to uint64, spans map[string]EventSpan) error {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return ErrClosed
	}
	ks.writeMu.Lock()
	defer ks.writeMu.Unlock()
	se, err := ks.streamEvents(stream)
	if err != nil {
		return err
	}
	c := se.cur
	switch {
	case c.gap() && (from != c.GapFrom || to < from || to > c.GapTo):
		return fmt.Errorf("keys: event index of stream %d: from is %d and to %d, the index misses offsets [%d, %d)", stream, from, to, c.GapFrom, c.GapTo)
	case !c.gap() && (from != c.Next || to < from):
		return fmt.Errorf("keys: event index of stream %d: from is %d and to %d, the cursor is at %d", stream, from, to, c.Next)
	}
	b := ks.db.NewBatch()
	defer b.Close()
	for link, sp := range spans {
		id, err := uuid.Parse(link)
		if err != nil {
			return fmt.Errorf("%w: stream %d: event names key link %q, not a UUID", errCorrupt, stream, link)
		}
		switch {
		case sp.Count == 0 || sp.Last < sp.First || sp.Count > sp.Last-sp.First+1:
			return fmt.Errorf("keys: event index of stream %d: span %d-%d of key link %s cannot hold %d events", stream, sp.First, sp.Last, id, sp.Count)
		case sp.First < from || sp.Last >= to:
			return fmt.Errorf("keys: event index of stream %d: span %d-%d of key link %s is outside offsets [%d, %d)", stream, sp.First, sp.Last, id, from, to)
		}
		b.Set(eventsKey(id, sp.First), sp.appendTo(nil))
	}
	if c.gap() {
		c.GapFrom = to
		if !c.gap() {
			c.GapFrom, c.GapTo = 0, 0
		}
	} else {
		c.Next = to
	}
	b.Set(indexedKey(stream), c.appendTo(nil))
	// The appends after the catch-up's records must not merge into
	// spans before them.
	ks.fold(b, stream, se)
	// No sync: the index is derived from the log (see above).
	if err := b.Commit(false); err != nil {
		delete(ks.events.streams, stream) // read again: the fold did not happen
		return fmt.Errorf("keys: store event index of stream %d: %w", stream, err)
	}
	se.cur = c
	return nil
}

// EventSpans returns the spans of a key link's events that the event index
// holds, by First: those folded, and its span among the appends not
// folded yet.
func (ks *Keys) EventSpans(linkID string) ([]EventSpan, error) {
	id, err := uuid.Parse(linkID)
	if err != nil {
		return nil, fmt.Errorf("%w: not a UUID", ErrNotFound)
	}
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return nil, ErrClosed
	}
	r, err := ks.record(id)
	if r == nil || err != nil {
		return nil, err
	}
	var spans []EventSpan
	err = store.ScanPrefix(ks.db, eventsPrefix(id), func(k, v []byte) error {
		sp, err := decodeEventSpan(k, v)
		spans = append(spans, sp)
		return err
	})
	if err != nil {
		return nil, err
	}
	ks.writeMu.Lock()
	defer ks.writeMu.Unlock()
	se, err := ks.streamEvents(r.Stream)
	if err != nil {
		return nil, err
	}
	if sp, ok := se.pending[id]; ok {
		spans = append(spans, sp)
		slices.SortFunc(spans, func(a, b EventSpan) int { return cmp.Compare(a.First, b.First) })
	}
	return spans, nil
}
