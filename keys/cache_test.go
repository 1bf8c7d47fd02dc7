package keys_test

import (
	"strconv"
	"testing"
	"time"
)

// TestCacheBoundedByBytes: with a cache far smaller than the links made,
// the cache stays within its bytes, and an evicted link is what its value
// gets again (one link per value per period), decrypts what it encrypted,
// rotates and is forgotten as a cached one is. Check (at close) verifies
// the cache's accounting against its keys.
func TestCacheBoundedByBytes(t *testing.T) {
	eachLocation(t, func(t *testing.T, loc location) {
		e := &env{t: t, loc: loc, clock: newClock(), master: newMaster(t), cacheBytes: 32 << 10}
		e.open()
		t.Cleanup(e.close)

		const n = 200
		ids := make([]string, n)
		cts := make([]string, n)
		for i := range n {
			k := e.mustFor(1, "session-"+strconv.Itoa(i), "subject-"+strconv.Itoa(i))
			ids[i] = k.ID
			cts[i] = k.Encrypt("customer/email", "someone"+strconv.Itoa(i)+"@example.com")
			if got := e.ks.CachedBytes(); got > 32<<10 {
				t.Fatalf("after %d links the cache holds %d bytes, more than its 32768", i+1, got)
			}
		}
		if got := e.ks.CachedBytes(); got < 16<<10 {
			t.Errorf("the cache holds %d bytes: it evicted far more than it had to", got)
		}

		for i := range n {
			if k := e.mustFor(1, "session-"+strconv.Itoa(i), "subject-"+strconv.Itoa(i)); k.ID != ids[i] {
				t.Fatalf("session-%d: link %s after eviction, want its link %s", i, k.ID, ids[i])
			}
			k, err := e.ks.Get(ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := k.Decrypt("customer/email", cts[i]); err != nil || pt != "someone"+strconv.Itoa(i)+"@example.com" {
				t.Fatalf("session-%d: decrypt after eviction = %q, %v", i, pt, err)
			}
		}

		links, err := e.ks.Forget("subject-7")
		if err != nil || len(links) != 1 || links[0].ID != ids[7] {
			t.Fatalf("Forget(subject-7) = %v, %v; want its link %s", links, err, ids[7])
		}
		if k := e.mustFor(1, "session-7", ""); k.ID == ids[7] {
			t.Errorf("session-7 got its forgotten link back")
		}

		e.clock.Advance(25 * time.Hour)
		if k := e.mustFor(1, "session-0", ""); k.ID == ids[0] {
			t.Errorf("session-0 kept its link past its rotation")
		}
	})
}
