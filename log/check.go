package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Check verifies the whole log against its invariants and returns every
// violation found: for each stream, records are exactly [first, next) with
// dense offsets, decode, have non-decreasing times, add up to the recorded
// size and end at the recorded last time; the time index holds exactly one
// entry per millisecond present, pointing at that millisecond's first
// record; no record or index entry exists without a stream state; and loaded
// in-memory states equal the persisted ones.
func (l *Log) Check() error {
	l.quiesce()
	defer l.commitMu.Unlock()
	snap := l.db.NewSnapshot()
	defer snap.Close()

	states := map[StreamID]state{}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	err := scan(snap, []byte{store.SpaceLog, kindState}, func(k, v []byte) {
		id := StreamID(decodeU64Suffix(k))
		st, err := decodeState(v)
		if err != nil {
			bad("stream %d: %v", id, err)
			return
		}
		if st.first > st.next {
			bad("stream %d: first %d > next %d", id, st.first, st.next)
		}
		states[id] = st
	})
	if err != nil {
		return err
	}

	// Walk the records, stream by stream (keys are ordered that way).
	wantIndex := map[StreamID][]uint64{} // per stream: [millis, offset] pairs flattened
	type walk struct {
		next, bytes uint64
		lastNanos   int64
		lastMs      int64
		seen        bool
	}
	walks := map[StreamID]*walk{}
	err = scan(snap, []byte{store.SpaceLog, kindRecord}, func(k, v []byte) {
		id, off := StreamID(binary.BigEndian.Uint64(k[2:10])), decodeU64Suffix(k)
		st, ok := states[id]
		if !ok {
			bad("stream %d: record %d without stream state", id, off)
			return
		}
		w := walks[id]
		if w == nil {
			w = &walk{next: st.first}
			walks[id] = w
		}
		if off != w.next {
			bad("stream %d: offset %d where %d was expected", id, off, w.next)
		}
		w.next = off + 1
		var r Record
		if err := decodeRecordValue(v, &r); err != nil {
			bad("stream %d offset %d: %v", id, off, err)
			return
		}
		n := r.Time.UnixNano()
		if w.seen && n < w.lastNanos {
			bad("stream %d offset %d: time goes backwards", id, off)
		}
		if ms := millisOf(n); !w.seen || ms != w.lastMs {
			wantIndex[id] = append(wantIndex[id], uint64(ms), off)
			w.lastMs = ms
		}
		w.seen, w.lastNanos = true, n
		w.bytes += uint64(len(v))
	})
	if err != nil {
		return err
	}
	for id, st := range states {
		w := walks[id]
		if w == nil {
			w = &walk{next: st.first}
		}
		if w.next != st.next {
			bad("stream %d: records end before %d, state says %d", id, w.next, st.next)
		}
		if w.bytes != st.bytes {
			bad("stream %d: records hold %d bytes, state says %d", id, w.bytes, st.bytes)
		}
		if w.seen && w.lastNanos != st.lastNanos {
			bad("stream %d: last record time %d, state says %d", id, w.lastNanos, st.lastNanos)
		}
	}

	gotIndex := map[StreamID][]uint64{}
	err = scan(snap, []byte{store.SpaceLog, kindTime}, func(k, v []byte) {
		id := StreamID(binary.BigEndian.Uint64(k[2:10]))
		off, n := binary.Uvarint(v)
		if n <= 0 {
			bad("stream %d: corrupt time index entry", id)
			return
		}
		gotIndex[id] = append(gotIndex[id], uint64(millisOfTimeKey(k)), off)
	})
	if err != nil {
		return err
	}
	for id := range states {
		if !slices.Equal(gotIndex[id], wantIndex[id]) {
			bad("stream %d: time index %v, records imply %v", id, gotIndex[id], wantIndex[id])
		}
	}
	for id := range gotIndex {
		if _, ok := states[id]; !ok {
			bad("stream %d: time index without stream state", id)
		}
	}

	l.mu.Lock()
	for id, s := range l.streams {
		if st, ok := states[id]; !s.dropped && ok && st != s.st {
			bad("stream %d: in-memory state %+v, persisted %+v", id, s.st, st)
		}
	}
	l.mu.Unlock()
	return errors.Join(errs...)
}

// scan is store.Scan for the checks above, which collect problems instead of
// stopping at the first.
func scan(r pebble.Reader, prefix []byte, fn func(k, v []byte)) error {
	return store.Scan(r, prefix, func(k, v []byte) error { fn(k, v); return nil })
}
