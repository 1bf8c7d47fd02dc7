package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/sim"
)

func TestHistogram(t *testing.T) {
	for _, tc := range []struct {
		name     string
		samples  []time.Duration
		p50, p99 time.Duration
	}{
		{"empty", nil, 0, 0},
		{"exact below 64µs", []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 63 * time.Microsecond}, 20 * time.Microsecond, 63 * time.Microsecond},
		{"powers of two are bucket bounds", []time.Duration{2048 * time.Microsecond, 4096 * time.Microsecond}, 2048 * time.Microsecond, 4096 * time.Microsecond},
		// 3ms = 3000µs lies in [2944, 3008): rounded down by less than 1/32.
		{"rounded down", []time.Duration{3 * time.Millisecond}, 2944 * time.Microsecond, 2944 * time.Microsecond},
		{"an hour", []time.Duration{time.Hour}, 3556769792 * time.Microsecond, 3556769792 * time.Microsecond},
		{"negative is 0", []time.Duration{-time.Second}, 0, 0},
		{"p99 of 100", func() []time.Duration {
			var s []time.Duration
			for i := 1; i <= 100; i++ {
				s = append(s, time.Duration(i)*time.Microsecond)
			}
			return s
		}(), 50 * time.Microsecond, 98 * time.Microsecond}, // 99µs is in [98, 100)
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b sim.Histogram
			for i, s := range tc.samples {
				// Split over two, to cover Merge.
				if i%2 == 0 {
					a.Record(s)
				} else {
					b.Record(s)
				}
			}
			a.Merge(&b)
			if a.Count() != uint64(len(tc.samples)) || a.Quantile(0.5) != tc.p50 || a.Quantile(0.99) != tc.p99 {
				t.Errorf("count %d, p50 %v, p99 %v; want %d, %v, %v", a.Count(), a.Quantile(0.5), a.Quantile(0.99), len(tc.samples), tc.p50, tc.p99)
			}
		})
	}
}

func TestSummaryWrite(t *testing.T) {
	s := &sim.Summary{
		Elapsed: 1520 * time.Millisecond, Accepted: 9512, Rejected: 488, Invalid: 488,
		Rejections: map[sim.Verdict]int64{
			{Rule: "regex", Field: "url"}:                  300,
			{Rule: "keyField", Field: "producerSessionId"}: 100,
			{Rule: "decode"}:                               88,
		},
		Forgotten: 3, ForgottenKeyLinks: 4, ForgottenEvents: 28,
	}
	for range 39 {
		s.Latency.Record(12 * time.Millisecond)
	}
	s.Latency.Record(time.Second)
	var b strings.Builder
	s.Write(&b)
	want := `sent 10000 events in 1.52s: 6579 events/s
accepted: 9512
rejected: 488, all as expected (488 invalid on purpose)
  decode: 88
  keyField producerSessionId: 100
  regex url: 300
forgotten: 3 data subjects (4 key links, 28 events)
latency per request: p50 11.8ms, p99 999.4ms (40 requests)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if s.Failures() != 0 {
		t.Errorf("failures %d", s.Failures())
	}
}
