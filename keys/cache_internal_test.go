package keys

import (
	"testing"
	"time"
)

// TestEvictionsForgetAfterTwoPeriods: an evicted value is held for the
// period it was evicted in and the next (its link may be current until
// then), and dropped after; other values are not held.
func TestEvictionsForgetAfterTwoPeriods(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const r = 24 * time.Hour
	ck := func(s string) cacheKey {
		var d digest
		copy(d[:], s+"................................")
		return cacheKey{stream: 1, vh: d}
	}
	var f evictions
	if f.mayHold(ck("a")) {
		t.Fatal("an empty filter holds a value")
	}
	f.add(ck("a"), t0, r)
	f.add(ck("b"), t0.Add(r-time.Second), r)
	for _, tc := range []struct {
		at   time.Duration
		add  string
		want map[string]bool
	}{
		{0, "", map[string]bool{"a": true, "b": true, "c": false}},
		{r, "c", map[string]bool{"a": true, "b": true, "c": true}}, // a new period: the last one's are kept
		{2*r + time.Second, "d", map[string]bool{"a": false, "b": false, "c": true, "d": true}},
		{5 * r, "e", map[string]bool{"c": false, "d": false, "e": true}}, // periods with no eviction: all dropped
	} {
		if tc.add != "" {
			f.add(ck(tc.add), t0.Add(tc.at), r)
		}
		for v, want := range tc.want {
			if got := f.mayHold(ck(v)); got != want {
				t.Errorf("at +%s: holds %s = %v, want %v", tc.at, v, got, want)
			}
		}
	}
}
