package keys

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Sweep shreds every key whose ExpiresAt is at or before now, in one synced
// batch, and returns how many it shredded.
func (ks *Keys) Sweep(now time.Time) (int, error) {
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	if ks.closed {
		return 0, ErrClosed
	}
	// Expiry keys sort by time, then ID: the ones due are a prefix.
	var ids []uuid.UUID
	upper := store.PrefixEnd(expiryKey(now, uuid.Max))
	err := ks.db.Scan(prefix(kindExpiry, 0), upper, func(k, _ []byte) error {
		ids = append(ids, idSuffix(k))
		return nil
	})
	if err != nil {
		return 0, err
	}
	shredded, err := ks.shred(ids, now, false)
	if err != nil {
		return 0, err
	}
	if len(shredded) > 0 {
		ks.opts.Logger.Info("keys shredded by retention", "count", len(shredded))
	}
	return len(shredded), nil
}

// Forget shreds every link recorded for subject, in one synced batch, and
// returns them (shredded, ordered by Created then ID); an empty slice when
// there are none. Links already shredded by retention are no longer
// recorded for anyone and are not returned.
func (ks *Keys) Forget(subject string) ([]Link, error) {
	if subject == "" {
		return []Link{}, nil
	}
	sh := ks.subjectHash(subject)
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	if ks.closed {
		return nil, ErrClosed
	}
	var ids []uuid.UUID
	err := store.ScanPrefix(ks.db, subjectPrefix(sh), func(k, _ []byte) error {
		ids = append(ids, idSuffix(k))
		return nil
	})
	if err != nil {
		return nil, err
	}
	links, err := ks.shred(ids, ks.opts.Now(), true)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(links, func(a, b Link) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	// The subject is not logged; only what happened to how many links.
	ks.opts.Logger.Info("data subject forgotten", "links", len(links))
	return links, nil
}

// shred replaces the records of ids by tombstones and deletes everything
// that leads to them, in one synced batch, then drops them from the caches.
// It skips ids already shredded. REQUIRES: opMu held exclusively.
func (ks *Keys) shred(ids []uuid.UUID, at time.Time, forgotten bool) ([]Link, error) {
	links := []Link{}
	if len(ids) == 0 {
		return links, nil
	}
	b := ks.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		r, err := ks.record(id)
		if err != nil {
			return nil, err
		}
		if r == nil || r.Shredded {
			continue
		}
		t := r.tombstone(at, forgotten)
		b.Set(linkKey(id), t.encode())
		if err := ks.unindex(b, r); err != nil {
			return nil, err
		}
		links = append(links, t.Link)
		if ks.opts.Shared {
			b.Set(shredsKey(time.Now(), id), nil)
		}
	}
	if err := b.Commit(true); err != nil {
		return nil, fmt.Errorf("keys: shred keys: %w", err)
	}
	n := uint64(len(links))
	ks.counts.live.Add(^(n - 1)) // minus n
	ks.counts.shredded.Add(n)
	ks.mu.Lock()
	for _, id := range ids {
		ks.uncache(id)
	}
	ks.mu.Unlock()
	return links, nil
}

// unindex adds to b the deletion of every entry that leads to the live
// record r, except its record and stream index entry: its expiry entry, its
// current-link entry (if it is still current) and its subject entries.
// REQUIRES: opMu held exclusively, so the database cannot change under it.
func (ks *Keys) unindex(b store.Batch, r *record) error {
	b.Delete(expiryKey(r.ExpiresAt, r.id))
	ck := currentKey(r.Stream, r.vh)
	v, err := ks.get(ck)
	if err != nil {
		return err
	}
	if bytes.Equal(v, r.id[:]) {
		b.Delete(ck)
	}
	// Point deletions, not a range: every iterator over a memtable
	// fragments all of its range deletions again when one is added, so a
	// range per shredded link made each later forget slower.
	return store.ScanPrefix(ks.db, subjectsPrefix(r.id), func(k, _ []byte) error {
		b.Delete(subjectKey(hashSuffix(k), r.id))
		b.Delete(k)
		return nil
	})
}

// uncache drops id from the caches. REQUIRES: mu held.
func (ks *Keys) uncache(id uuid.UUID) {
	k := ks.live[id]
	if k == nil {
		return
	}
	delete(ks.live, id)
	ks.cache.bytes -= sizeOf(k)
	ck := cacheKey{k.Stream, k.vh}
	if ks.current[ck] == k {
		delete(ks.current, ck)
	}
}

// DropStream returns a function that adds to a batch the deletion of
// everything stored for stream: its links, tombstones, current-link and
// subject entries and its event index. The caller commits the batch (with
// pebble.Sync), so that deleting a stream is one atomic write across
// packages.
//
// REQUIRES: no For for stream runs during or after the call (the caller
// has stopped accepting events for it). The function drops the stream from
// the caches; if the batch is then not committed, they refill from Pebble.
func (ks *Keys) DropStream(stream log.StreamID) func(store.Batch) error {
	return func(b store.Batch) error {
		ks.opMu.Lock()
		defer ks.opMu.Unlock()
		if ks.closed {
			return ErrClosed
		}
		err := ks.eachRecord(ks.db, stream, func(r *record) error {
			b.Delete(linkKey(r.id))
			// Point deletions: a link has few spans, and a range
			// deletion per link would cost every later read over them.
			err := store.ScanPrefix(ks.db, eventsPrefix(r.id), func(k, _ []byte) error {
				b.Delete(k)
				return nil
			})
			if err != nil {
				return err
			}
			if r.Shredded {
				return nil
			}
			return ks.unindex(b, r)
		})
		if err != nil {
			return err
		}
		sp := streamPrefix(stream)
		b.DeleteRange(sp, store.PrefixEnd(sp))
		cp := currentPrefix(stream)
		b.DeleteRange(cp, store.PrefixEnd(cp))
		b.Delete(indexedKey(stream))
		if err := ks.dropEvents(b, stream); err != nil {
			return err
		}
		ks.mu.Lock()
		for id, k := range ks.live {
			if k.Stream == stream {
				ks.uncache(id)
				// Should the batch not be committed, For finds it in
				// storage again (Keys.liveBefore).
				ks.liveBefore = later(ks.liveBefore, k.ExpiresAt)
			}
		}
		ks.mu.Unlock()
		return nil
	}
}

// NextExpiry returns the earliest ExpiresAt of a live key, so the server
// can schedule Sweep by its clock; false when there is no live key (or on a
// read error, which is logged: the next Sweep reports it).
func (ks *Keys) NextExpiry() (time.Time, bool) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return time.Time{}, false
	}
	p := prefix(kindExpiry, 0)
	k, _, found, err := store.First(ks.db, p, store.PrefixEnd(p))
	if err != nil {
		ks.opts.Logger.Error("keys: read next expiry", "err", err)
		return time.Time{}, false
	}
	var t time.Time
	if found {
		t = decodeTime(k[2:10])
	}
	return t, found
}
