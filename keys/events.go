package keys

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
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
// spans instead of the stream. It is derived from the log: the caller reads
// the records from EventsIndexed on and hands their spans to IndexEvents,
// which records them and moves the stream's cursor in one batch, so the
// index never holds a record twice or skips one. Written without a sync: a
// crash loses at most a suffix, which the next catch-up reads again.

func eventsPrefix(id uuid.UUID) []byte { return append(prefix(kindEvents, 16+8), id[:]...) }

func eventsKey(id uuid.UUID, first uint64) []byte {
	return binary.BigEndian.AppendUint64(eventsPrefix(id), first)
}

func indexedKey(s log.StreamID) []byte { return appendStream(prefix(kindIndexed, 8), s) }

func (sp EventSpan) encode() []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2*binary.MaxVarintLen64), sp.Count)
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

// EventsIndexed returns the offset of stream's log up to which IndexEvents
// has recorded its events: 0 before the first call.
func (ks *Keys) EventsIndexed(stream log.StreamID) (uint64, error) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return 0, ErrClosed
	}
	return ks.eventsIndexed(stream)
}

// eventsIndexed is EventsIndexed. REQUIRES: opMu held.
func (ks *Keys) eventsIndexed(stream log.StreamID) (uint64, error) {
	v, err := ks.get(indexedKey(stream))
	if v == nil || err != nil {
		return 0, err
	}
	next, n := binary.Uvarint(v)
	if n <= 0 || n != len(v) {
		return 0, fmt.Errorf("%w: event index cursor of stream %d", errCorrupt, stream)
	}
	return next, nil
}

// IndexEvents records the events of stream's log in offsets [from, to):
// spans maps the ID of each key link that encrypted some of them to its
// span among them. from must be EventsIndexed(stream); the cursor moves to
// to. The caller serialises IndexEvents per stream, and against dropping
// the stream (DropStream deletes the index).
func (ks *Keys) IndexEvents(stream log.StreamID, from, to uint64, spans map[string]EventSpan) error {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return ErrClosed
	}
	at, err := ks.eventsIndexed(stream)
	if err != nil {
		return err
	}
	if at != from || to < from {
		return fmt.Errorf("keys: event index of stream %d: from is %d and to %d, the cursor is at %d", stream, from, to, at)
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
		_ = b.Set(eventsKey(id, sp.First), sp.encode(), nil)
	}
	_ = b.Set(indexedKey(stream), binary.AppendUvarint(nil, to), nil)
	// No sync: the index is derived from the log (see above).
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("keys: store event index of stream %d: %w", stream, err)
	}
	return nil
}

// EventSpans returns the spans of a key link's events that IndexEvents
// recorded, by First.
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
	var spans []EventSpan
	err = store.Scan(ks.db, eventsPrefix(id), func(k, v []byte) error {
		sp, err := decodeEventSpan(k, v)
		spans = append(spans, sp)
		return err
	})
	if err != nil {
		return nil, err
	}
	return spans, nil
}
