package keys

import (
	"sync/atomic"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
)

// LinkCounts are how many key links exist: live ones (with a key) and
// shredded ones (a tombstone is all that is left).
type LinkCounts struct {
	Live, Shredded uint64
}

// linkCounter holds the counts in memory, so that reading them (a metrics
// scrape, docs/metrics.md) reads no storage. For, Sweep and Forget keep it
// up to date; Open and Recount count the index entries.
type linkCounter struct {
	live, shredded atomic.Uint64
}

// Counts returns how many key links exist, live and shredded.
func (ks *Keys) Counts() LinkCounts {
	return LinkCounts{Live: ks.counts.live.Load(), Shredded: ks.counts.shredded.Load()}
}

// Recount counts the key links in storage again. DropStream leaves the
// counts as they were, because only its caller knows whether its batch was
// committed: the caller recounts afterwards.
func (ks *Keys) Recount() error {
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	if ks.closed {
		return ErrClosed
	}
	return ks.recount(ks.db)
}

// recount reads the counts from the keys of the expiry index (one per live
// link) and the link records (one per link, live or tombstone): no value is
// decoded; and it moves liveBefore past the last live link's expiry.
// REQUIRES: opMu held exclusively, or no other use of ks yet.
func (ks *Keys) recount(r store.Reader) error {
	var live, all uint64
	var last time.Time // the latest ExpiresAt of a live link: the expiry index is in time order
	err := store.ScanPrefix(r, prefix(kindExpiry, 0), func(k, _ []byte) error {
		live++
		if len(k) >= 2+8 {
			last = decodeTime(k[2 : 2+8])
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := store.ScanPrefix(r, prefix(kindLink, 0), func(_, _ []byte) error { all++; return nil }); err != nil {
		return err
	}
	ks.liveBefore = later(ks.liveBefore, last)
	ks.counts.live.Store(live)
	ks.counts.shredded.Store(all - min(live, all))
	return nil
}
