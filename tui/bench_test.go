package tui

import (
	"fmt"
	"testing"
)

// BenchmarkTailFrame measures one frame of the tail screen at 80×24: the
// Update that takes a frame's batch of events and the View that renders
// it. ns/op is the time per frame; at 60 frames a second a frame has
// 16.7ms. 167 events is a frame of a 10k events/s stream; 10000 is a whole
// second's worth arriving in one frame (a UI catching up).
func BenchmarkTailFrame(b *testing.B) {
	for _, n := range []int{167, 10000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			h := offlineHarness(b, 10000)
			tailOn(h)
			// A full table first, as after a while of following.
			batch(h, records(0, 10000))
			recs := records(10000, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				batch(h, recs)
				if v := h.m.View(); len(v.Content) == 0 {
					b.Fatal("empty view")
				}
			}
			b.ReportMetric(float64(n)*1e9/float64(b.Elapsed().Nanoseconds()/int64(b.N)), "events/s")
		})
	}
}
