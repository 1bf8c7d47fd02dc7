package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Check verifies the key space against its invariants and returns every
// violation found:
//
//   - the hash key opens under the master key;
//   - every record decodes; a live one has a keyset that opens, a
//     tombstone has neither keyset nor value hash;
//   - the stream index holds exactly one entry per record, with its stream
//     and creation time;
//   - the expiry index holds exactly the live records, at their ExpiresAt;
//   - every current-link entry names a live record of its stream and value
//     hash;
//   - subject entries and their reverse entries mirror each other and name
//     live records;
//   - every event span decodes, names a record and lies before its
//     stream's event index cursor, outside the cursor's gap, as does every
//     span of an append entry (after the gap); the cursors in memory are
//     those stored;
//   - no other kind of key exists in the space;
//   - every cached key is live in storage with the same metadata, and every
//     current-link cache entry is cached as live too (a link or subject
//     record that no append has written yet is skipped);
//   - the counts of links (Counts) are those stored.
//
// Check unwraps every live keyset: it is for tests and diagnostics.
func (ks *Keys) Check() error {
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	if ks.closed {
		return ErrClosed
	}
	snap := ks.db.NewSnapshot()
	defer snap.Close()

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	records := map[uuid.UUID]*record{}
	streamIdx := map[uuid.UUID]int{}
	expiryIdx := map[uuid.UUID]int{}
	subjects := map[[hashLen + 16]byte]bool{}
	reverse := map[[hashLen + 16]byte]bool{}
	var currents [][]byte
	type linkSpan struct {
		id uuid.UUID
		EventSpan
	}
	var spans []linkSpan
	indexed := map[log.StreamID]EventCursor{}
	type appendedSpan struct {
		stream log.StreamID
		id     uuid.UUID
		EventSpan
	}
	var appended []appendedSpan
	sawHashKey := false

	err := store.ScanPrefix(snap, []byte{store.SpaceKeys}, func(k, v []byte) error {
		if len(k) < 2 {
			bad("key %x: too short", k)
			return nil
		}
		switch k[1] {
		case kindHashKey:
			sawHashKey = len(k) == 2
			if !sawHashKey {
				bad("key %x: malformed hash key entry", k)
			} else if hk, err := ks.opts.Master.Decrypt(v, hashKeyAD); err != nil || len(hk) != hashKeyLen {
				bad("hash key does not open under the master key")
			}
		case kindLink:
			if len(k) != 2+16 {
				bad("key %x: malformed record key", k)
				return nil
			}
			r, err := decodeRecord(idSuffix(k), v)
			if err != nil {
				bad("%v", err)
				return nil
			}
			records[r.id] = r
		case kindStream:
			if len(k) != 2+8+8+16 || len(v) != 0 {
				bad("key %x: malformed stream index entry", k)
				return nil
			}
			streamIdx[idSuffix(k)]++
		case kindExpiry:
			if len(k) != 2+8+16 || len(v) != 0 {
				bad("key %x: malformed expiry entry", k)
				return nil
			}
			expiryIdx[idSuffix(k)]++
		case kindCurrent:
			if len(k) != 2+8+hashLen || len(v) != 16 {
				bad("key %x: malformed current-link entry", k)
				return nil
			}
			currents = append(currents, append(append([]byte(nil), k...), v...))
		case kindSubject, kindSubjects:
			if len(k) != 2+hashLen+16 || len(v) != 0 {
				bad("key %x: malformed subject entry", k)
				return nil
			}
			var e [hashLen + 16]byte
			if k[1] == kindSubject {
				copy(e[:], k[2:])
				subjects[e] = true
			} else {
				copy(e[:hashLen], k[2+16:])
				copy(e[hashLen:], k[2:2+16])
				reverse[e] = true
			}
		case kindEvents:
			if len(k) != 2+16+8 {
				bad("key %x: malformed event span", k)
				return nil
			}
			sp, err := decodeEventSpan(k, v)
			if err != nil {
				bad("%v", err)
				return nil
			}
			spans = append(spans, linkSpan{idSuffix(k[:2+16]), sp})
		case kindAppends:
			if len(k) != 2+8+8 {
				bad("key %x: malformed event index entry", k)
				return nil
			}
			stream, first := log.StreamID(binary.BigEndian.Uint64(k[2:])), binary.BigEndian.Uint64(k[10:])
			err := eachAppendSpan(stream, first, v, func(id uuid.UUID, sp EventSpan) {
				appended = append(appended, appendedSpan{stream, id, sp})
			})
			if err != nil {
				bad("%v", err)
			}
		case kindIndexed:
			if len(k) != 2+8 {
				bad("key %x: malformed event index cursor", k)
				return nil
			}
			c, ok := decodeEventCursor(v)
			if !ok {
				bad("key %x: malformed event index cursor", k)
				return nil
			}
			indexed[log.StreamID(binary.BigEndian.Uint64(k[2:]))] = c
		default:
			bad("key %x: unknown kind", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !sawHashKey {
		bad("no hash key")
	}

	for id, r := range records {
		if r.ID != id.String() {
			bad("key link %s: record ID %s", id, r.ID)
		}
		if !r.RotatesAt.After(r.Created) || r.ExpiresAt.Before(r.RotatesAt) {
			bad("key link %s: times out of order", id)
		}
		if n := streamIdx[id]; n != 1 {
			bad("key link %s: %d stream index entries, want 1", id, n)
		} else if ok, err := store.Contains(snap, streamKey(r.Stream, r.Created, id)); err != nil {
			return err
		} else if !ok {
			bad("key link %s: stream index entry does not match its record", id)
		}
		if r.Shredded {
			if expiryIdx[id] != 0 {
				bad("key link %s: shredded but in the expiry index", id)
			}
			if r.ShreddedAt.IsZero() {
				bad("key link %s: shredded without a time", id)
			}
			continue
		}
		if r.Forgotten || !r.ShreddedAt.IsZero() {
			bad("key link %s: live but marked forgotten or shredded at a time", id)
		}
		if n := expiryIdx[id]; n != 1 {
			bad("key link %s: %d expiry entries, want 1", id, n)
		} else if ok, err := store.Contains(snap, expiryKey(r.ExpiresAt, id)); err != nil {
			return err
		} else if !ok {
			bad("key link %s: expiry entry does not match its record", id)
		}
		if _, err := unwrap(r, ks.opts.Master); err != nil {
			bad("%v", err)
		}
	}
	var counted LinkCounts
	for _, r := range records {
		if r.Shredded {
			counted.Shredded++
		} else {
			counted.Live++
		}
	}
	if c := ks.Counts(); c != counted {
		bad("key link counts: %d live and %d shredded counted in memory, %d and %d stored", c.Live, c.Shredded, counted.Live, counted.Shredded)
	}
	for id := range streamIdx {
		if records[id] == nil {
			bad("stream index names key link %s, which has no record", id)
		}
	}
	for id := range expiryIdx {
		if records[id] == nil {
			bad("expiry index names key link %s, which has no record", id)
		}
	}
	for _, c := range currents {
		k, v := c[:2+8+hashLen], c[2+8+hashLen:]
		id := uuid.UUID(v)
		r := records[id]
		switch {
		case r == nil:
			bad("current-link entry names key link %s, which has no record", id)
		case r.Shredded:
			bad("current-link entry names the shredded key link %s", id)
		case !bytes.Equal(currentKey(r.Stream, r.vh), k):
			bad("current-link entry for key link %s does not match its record", id)
		}
	}
	for e := range subjects {
		id := uuid.UUID(e[hashLen:])
		if !reverse[e] {
			bad("subject entry of key link %s has no reverse entry", id)
		}
		if r := records[id]; r == nil || r.Shredded {
			bad("subject entry names key link %s, which is not live", id)
		}
	}
	for e := range reverse {
		if !subjects[e] {
			bad("reverse subject entry of key link %s has no subject entry", uuid.UUID(e[hashLen:]))
		}
	}

	for _, sp := range spans {
		switch r := records[sp.id]; {
		case r == nil:
			bad("event span names key link %s, which has no record", sp.id)
		case sp.Last >= indexed[r.Stream].Next:
			bad("event span %d-%d of key link %s is past its stream's event index cursor %d", sp.First, sp.Last, sp.id, indexed[r.Stream].Next)
		case indexed[r.Stream].gap() && sp.First < indexed[r.Stream].GapTo && sp.Last >= indexed[r.Stream].GapFrom:
			c := indexed[r.Stream]
			bad("event span %d-%d of key link %s reaches into its stream's event index gap [%d, %d)", sp.First, sp.Last, sp.id, c.GapFrom, c.GapTo)
		}
	}
	for _, sp := range appended {
		switch r, c := records[sp.id], indexed[sp.stream]; {
		case r == nil:
			bad("event index entry of stream %d names key link %s, which has no record", sp.stream, sp.id)
		case r.Stream != sp.stream:
			bad("event index entry of stream %d names key link %s of stream %d", sp.stream, sp.id, r.Stream)
		case sp.Last >= c.Next || (c.gap() && sp.First < c.GapTo):
			bad("event index entry of stream %d: span %d-%d of key link %s is not within its cursor %+v", sp.stream, sp.First, sp.Last, sp.id, c)
		}
	}
	ks.writeMu.Lock()
	for s, se := range ks.events.streams {
		if se.cur != indexed[s] {
			bad("event index cursor of stream %d is %+v in memory, %+v stored", s, se.cur, indexed[s])
		}
	}
	ks.writeMu.Unlock()

	ks.mu.RLock()
	for id, k := range ks.live {
		if k.pend != nil {
			continue // not written yet: no stored event names it (pending.go)
		}
		r := records[id]
		if r == nil || r.Shredded || r.Link != k.Link || r.vh != k.vh {
			bad("cached key link %s is not live in storage as cached", id)
		}
		for sh, e := range k.subjects {
			if e != nil {
				continue // not written yet
			}
			var e [hashLen + 16]byte
			copy(e[:hashLen], sh[:])
			copy(e[hashLen:], id[:])
			if !subjects[e] {
				bad("cached subject of key link %s is not in storage", id)
			}
		}
	}
	for ck, k := range ks.current {
		if ks.live[k.id] != k {
			bad("current-link cache entry names key link %s, which is not cached as live", k.id)
		}
		if ck.stream != k.Stream || ck.vh != k.vh {
			bad("current-link cache entry for key link %s is under another value", k.id)
		}
	}
	var size int64
	for _, k := range ks.live {
		size += sizeOf(k)
	}
	if size != ks.cache.bytes {
		bad("the key cache counts %d bytes, its keys hold %d", ks.cache.bytes, size)
	}
	ks.mu.RUnlock()
	return errors.Join(errs...)
}
