package keys

import (
	"encoding/binary"
	"time"
)

// DefaultCacheBytes bounds the memory of the cached keys (Options.CacheBytes):
// about 13,000 keys, far more than the sessions a laptop sends at once.
const DefaultCacheBytes = 32 << 20

// keyBytes is what one cached Key holds in memory: its AES-SIV (two AES
// ciphers, 1.1 KB), its serialized keyset, the map entries that lead to it
// and its memory of recent encryptions: with one subject and three
// encryptions each, about 2.5 KB of live heap per key
// (TestCachedBytesMatchHeap). Each subject recorded against it adds
// subjectBytes.
const (
	keyBytes     = 2432
	subjectBytes = 96
)

// keyCache orders the cached keys by the time they were cached, so that the
// oldest can be evicted when the cache holds more than Options.CacheBytes.
// A clickstream's sessions are short: the oldest cached key is nearly
// always one whose session ended. An evicted key is read from storage again
// when its value comes back. REQUIRES: Keys.mu held, for every field and
// method.
type keyCache struct {
	order []*Key // oldest first, from head on
	head  int
	bytes int64 // the estimated memory of the keys in Keys.live
}

func sizeOf(k *Key) int64 { return keyBytes + int64(len(k.subjects))*subjectBytes }

// cacheLocked puts k into the live keys, unless a key of its link is there
// already, and returns the one cached. REQUIRES: mu held exclusively.
func (ks *Keys) cacheLocked(k *Key) *Key {
	if c := ks.live[k.id]; c != nil {
		return c
	}
	ks.live[k.id] = k
	ks.cache.bytes += sizeOf(k)
	ks.cache.order = append(ks.cache.order, k)
	return k
}

// evictLocked drops the oldest keys until the cache holds at most 7/8 of
// Options.CacheBytes. A key with writes still pending (pending.go) stays:
// it is the only record of its link until its append commits. An evicted
// key's value is remembered in evicted, so that For looks in storage for
// its current link when the value comes back, as it does for links stored
// before Open (liveBefore), and for no other value.
// REQUIRES: mu held exclusively.
func (ks *Keys) evictLocked() {
	c := &ks.cache
	if c.bytes <= ks.opts.CacheBytes {
		return
	}
	low := ks.opts.CacheBytes / 8 * 7
	for kept := 0; c.bytes > low && c.head < len(c.order)-kept; {
		k := c.order[c.head]
		c.order[c.head] = nil
		c.head++
		if ks.live[k.id] != k {
			continue // shredded or dropped since: uncache accounted for it
		}
		if k.pend != nil || unwrittenSubject(k) {
			c.order = append(c.order, k)
			kept++
			continue
		}
		ks.uncache(k.id)
		ks.evicted.add(cacheKey{k.Stream, k.vh}, ks.opts.Now(), ks.opts.Rotation)
	}
	if c.head > len(c.order)/2 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// unwrittenSubject says a subject recorded against k is not written yet.
func unwrittenSubject(k *Key) bool {
	for _, e := range k.subjects {
		if e != nil {
			return true
		}
	}
	return false
}

// resetLocked empties the cache. REQUIRES: mu held exclusively.
func (c *keyCache) resetLocked() {
	clear(c.order)
	*c = keyCache{}
}

// CachedBytes is the estimated memory of the keys held in memory, at most
// about Options.CacheBytes.
func (ks *Keys) CachedBytes() int64 {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.cache.bytes
}

// evictions remembers the values whose key was evicted, in Bloom filters
// of filterBits bits, one per rotation period: a value it does not hold has
// no link in storage that can still be current, so For need not look. A
// false positive costs one storage read, never a second link. A key
// evicted at e has RotatesAt at most e + Rotation, so the filter of the
// period before the current one is the oldest that can matter.
// REQUIRES: Keys.mu held (exclusively to add).
type evictions struct {
	cur, prev bloom
}

type bloom struct {
	start time.Time // the first add
	bits  []uint64  // nil until then
}

const (
	filterBits   = 1 << 23 // 1 MiB: about 2 % false positives at a million values
	filterHashes = 4
)

func (f *evictions) add(ck cacheKey, now time.Time, rotation time.Duration) {
	if f.cur.bits != nil && !now.Before(f.cur.start.Add(rotation)) {
		f.prev = bloom{}
		if now.Before(f.cur.start.Add(2 * rotation)) {
			f.prev = f.cur
		}
		f.cur = bloom{}
	}
	if f.cur.bits == nil {
		f.cur = bloom{start: now, bits: make([]uint64, filterBits/64)}
	}
	h1, h2 := bloomHashes(ck)
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) % filterBits
		f.cur.bits[b/64] |= 1 << (b % 64)
	}
}

// mayHold says ck's key may have been evicted while still current.
func (f *evictions) mayHold(ck cacheKey) bool {
	h1, h2 := bloomHashes(ck)
	return f.cur.has(h1, h2) || f.prev.has(h1, h2)
}

func (b *bloom) has(h1, h2 uint64) bool {
	if b.bits == nil {
		return false
	}
	for i := range uint64(filterHashes) {
		bit := (h1 + i*h2) % filterBits
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// bloomHashes takes a filter's two hashes from the value digest, an HMAC
// and so uniform already, and the stream.
func bloomHashes(ck cacheKey) (uint64, uint64) {
	h1 := binary.LittleEndian.Uint64(ck.vh[0:8]) ^ uint64(ck.stream)*0x9e3779b97f4a7c15
	h2 := binary.LittleEndian.Uint64(ck.vh[8:16]) | 1
	return h1, h2
}
