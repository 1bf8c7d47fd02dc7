package keys

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// In the scale-out mode (Options.Shared) several gateways create links in
// one state. Two of them may see a new session in the same instant; the
// state decides: a new link is written with the expectation that the
// current-link entry of (stream, value digest) still holds what the
// gateway read (store.Batch.Expect), so exactly one write succeeds and the
// other gateway reads and uses the winner's link. New links and subjects
// are written at once, synced, before any event uses them: no Pending
// carries them (see docs/scale-out.md).

// maxLinkRaces bounds the rounds of sharedLink: each lost round means
// another gateway created or rotated the link meanwhile.
const maxLinkRaces = 8

// sharedLink returns the link of ck current at now, from the state, or a
// new one it stored, with the subject sh recorded against it in the same
// transaction when hasSubject. REQUIRES: opMu held shared and ck's stripe
// locked.
func (ks *Keys) sharedLink(ck cacheKey, hasSubject bool, sh digest, now time.Time) (*Key, error) {
	ks.mu.RLock()
	k := ks.current[ck]
	ks.mu.RUnlock()
	if k != nil && now.Before(k.RotatesAt) {
		return k, nil
	}
	ckey := currentKey(ck.stream, ck.vh)
	for range maxLinkRaces {
		old, err := ks.get(ckey)
		if err != nil {
			return nil, err
		}
		if old != nil {
			if len(old) != 16 {
				return nil, fmt.Errorf("%w: current key link entry", errCorrupt)
			}
			k, err := ks.load(uuid.UUID(old))
			if err != nil {
				return nil, err
			}
			if k != nil && !k.Shredded && k.Stream == ck.stream && now.Before(k.RotatesAt) {
				return k, nil
			}
		}
		k, err := ks.newLink(ck, now)
		if err != nil {
			return nil, err
		}
		b := ks.db.NewBatch()
		b.Expect(ckey, old)
		k.pend.add(b)
		if hasSubject {
			(&entry{k: k, sh: sh}).add(b)
			k.subjects[sh] = nil // written; k is not cached yet
		}
		err = b.Commit(true)
		b.Close()
		if errors.Is(err, store.ErrConflict) {
			continue // another gateway wrote first: read its link
		}
		if err != nil {
			return nil, fmt.Errorf("keys: store key link %s: %w", k.ID, err)
		}
		k.pend = nil
		ks.counts.live.Add(1)
		ks.opts.Logger.Debug("key link created", "link", k.ID, "stream", uint64(k.Stream))
		return k, nil
	}
	return nil, fmt.Errorf("keys: key link of stream %d: %d gateways' creations in a row won over this one; try again", ck.stream, maxLinkRaces)
}

// writeShared stores a subject entry at once (Options.Shared).
func (ks *Keys) writeShared(e *entry) error {
	b := ks.db.NewBatch()
	defer b.Close()
	e.add(b)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("keys: store the subject of key link %s: %w", e.k.ID, err)
	}
	return nil
}

// A link shredded by one gateway may still be cached by the others. The
// shredding gateway records the link's ID in the shreds log, by wall time,
// in the batch of the shredding; the others read the log's new entries
// (SeeShreds) when the state tells them it changed and every
// ShredsPoll, and drop those links from their caches. Until then — the
// time a notification takes, at most ShredsPoll — another gateway may
// still use the key (docs/scale-out.md).
const (
	// ShredsPoll is how often the app calls SeeShreds without a
	// notification.
	ShredsPoll = time.Second
	// shredsSkew is how far back SeeShreds reads before the newest entry it
	// saw: entries of gateways whose clocks lag this one's.
	shredsSkew = time.Minute
	// shredsKept is how long the shreds log keeps an entry (Sweep trims).
	shredsKept = time.Hour
)

func shredsKey(at time.Time, id uuid.UUID) []byte {
	return append(appendTime(prefix(kindShreds, 24), at), id[:]...)
}

// SeeShreds drops from the caches the links that other gateways shredded
// since the last call, and trims the shreds log of entries older than an
// hour. Without Options.Shared it does nothing.
func (ks *Keys) SeeShreds() error {
	if !ks.opts.Shared {
		return nil
	}
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return ErrClosed
	}
	ks.shredsMu.Lock()
	defer ks.shredsMu.Unlock()
	from := prefix(kindShreds, 0)
	if !ks.shredsSeen.IsZero() {
		from = shredsKey(ks.shredsSeen.Add(-shredsSkew), uuid.UUID{})
	}
	var ids []uuid.UUID
	newest := ks.shredsSeen
	err := ks.db.Scan(from, store.PrefixEnd(prefix(kindShreds, 0)), func(k, _ []byte) error {
		if len(k) != 2+8+16 {
			return fmt.Errorf("%w: shreds log entry", errCorrupt)
		}
		ids = append(ids, idSuffix(k))
		newest = later(newest, decodeTime(k[2:10]))
		return nil
	})
	if err != nil {
		return fmt.Errorf("keys: read the shreds log: %w", err)
	}
	ks.mu.Lock()
	for _, id := range ids {
		ks.uncache(id)
	}
	ks.mu.Unlock()
	ks.shredsSeen = newest
	if time.Since(ks.shredsTrimmed) > shredsKept/4 {
		b := ks.db.NewBatch()
		defer b.Close()
		b.DeleteRange(prefix(kindShreds, 0), shredsKey(time.Now().Add(-shredsKept), uuid.UUID{}))
		if err := b.Commit(true); err != nil {
			return fmt.Errorf("keys: trim the shreds log: %w", err)
		}
		ks.shredsTrimmed = time.Now()
	}
	return nil
}

// Prefetch creates, in one transaction, the links of the key values of an
// ingest batch (keyValues[i], with its subject subjects[i]) that this
// gateway has no current link for, expecting the state to have none
// either: for a batch of new sessions, one commit instead of one per
// session (docs/scale-out.md). When another gateway holds a link of one of
// them, nothing is written, and the ForAppend of each event finds or
// creates its link one by one, as without Prefetch. It does nothing
// without Options.Shared, where a new link costs no commit of its own.
func (ks *Keys) Prefetch(stream log.StreamID, keyValues, subjects []string) {
	if !ks.opts.Shared {
		return
	}
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return
	}
	now := ks.opts.Now()
	var fresh []*Key
	seen := make(map[digest]bool, len(keyValues))
	b := ks.db.NewBatch()
	defer b.Close()
	for i, value := range keyValues {
		ck := cacheKey{stream, ks.valueHash(stream, value)}
		if seen[ck.vh] {
			continue // one subject per value is recorded here; ForAppend adds others
		}
		seen[ck.vh] = true
		ks.mu.RLock()
		k := ks.current[ck]
		ks.mu.RUnlock()
		if k != nil && now.Before(k.RotatesAt) || ks.evicted.mayHold(ck) {
			continue // cached, or maybe stored: ForAppend's business
		}
		k, err := ks.newLink(ck, now)
		if err != nil {
			return
		}
		b.Expect(currentKey(stream, ck.vh), nil)
		k.pend.add(b)
		if subjects[i] != "" {
			sh := ks.subjectHash(subjects[i])
			(&entry{k: k, sh: sh}).add(b)
			k.subjects[sh] = nil
		}
		fresh = append(fresh, k)
	}
	if len(fresh) == 0 || b.Commit(true) != nil {
		return // a conflict, or the state away: one by one, with its errors
	}
	ks.mu.Lock()
	for _, k := range fresh {
		k.pend = nil
		k = ks.cacheLocked(k)
		ks.current[cacheKey{k.Stream, k.vh}] = k
	}
	ks.evictLocked()
	ks.mu.Unlock()
	ks.counts.live.Add(uint64(len(fresh)))
	ks.opts.Logger.Debug("key links created", "links", len(fresh), "stream", uint64(stream))
}
