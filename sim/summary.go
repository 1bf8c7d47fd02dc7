package sim

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Summary is what a run did.
type Summary struct {
	Elapsed            time.Duration
	Accepted, Rejected int64
	// Invalid counts the events sent that were invalid on purpose.
	Invalid int64
	// Rejections counts rejections by the server's verdict.
	Rejections map[Verdict]int64
	// Unexpected counts rejections that were not expected: of a valid
	// event (Want zero), or for another reason than the one the event was
	// made to break.
	Unexpected map[Unexpected]int64
	// AcceptedInvalid counts invalid events the server accepted, by kind.
	AcceptedInvalid map[Kind]int64
	// Erasure requests run, and the key links and events they shredded.
	Forgotten, ForgottenKeyLinks, ForgottenEvents uint64
	// Latency of each request (a SendEvents call, or one POST /event).
	Latency Histogram
}

// Unexpected is a rejection that was not expected.
type Unexpected struct {
	Want, Got Verdict
}

func newSummary() *Summary {
	return &Summary{Rejections: map[Verdict]int64{}, Unexpected: map[Unexpected]int64{}, AcceptedInvalid: map[Kind]int64{}}
}

// Sent is every event the server answered.
func (s *Summary) Sent() int64 { return s.Accepted + s.Rejected }

// Rate is events answered per second.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent()) / s.Elapsed.Seconds()
}

// Failures counts unexpected results: rejections nobody asked for and
// invalid events that were accepted.
func (s *Summary) Failures() int64 {
	var n int64
	for _, c := range s.Unexpected {
		n += c
	}
	for _, c := range s.AcceptedInvalid {
		n += c
	}
	return n
}

// Write prints the summary, e.g.
//
//	sent 10000 events in 1.52s: 6579 events/s
//	accepted: 9512
//	rejected: 488, all as expected (488 invalid on purpose)
//	  regex url: 97
//	forgotten: 3 data subjects (3 key links, 28 events)
//	latency per request: p50 12.3ms, p99 45.1ms (40 requests)
//
// followed by the unexpected results, if any.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "sent %d events in %s: %.0f events/s\n", s.Sent(), formatDuration(s.Elapsed), s.Rate())
	fmt.Fprintf(w, "accepted: %d\n", s.Accepted)
	var unexpected int64
	for _, c := range s.Unexpected {
		unexpected += c
	}
	switch {
	case s.Rejected == 0:
		fmt.Fprintf(w, "rejected: 0")
	case unexpected == 0:
		fmt.Fprintf(w, "rejected: %d, all as expected", s.Rejected)
	default:
		fmt.Fprintf(w, "rejected: %d, %d unexpectedly", s.Rejected, unexpected)
	}
	if s.Invalid > 0 {
		fmt.Fprintf(w, " (%d invalid on purpose)", s.Invalid)
	}
	fmt.Fprintln(w)
	for _, v := range slices.SortedFunc(maps.Keys(s.Rejections), compareVerdicts) {
		fmt.Fprintf(w, "  %s: %d\n", v, s.Rejections[v])
	}
	if s.Forgotten > 0 {
		fmt.Fprintf(w, "forgotten: %s (%s, %s)\n", plural(s.Forgotten, "data subject"), plural(s.ForgottenKeyLinks, "key link"), plural(s.ForgottenEvents, "event"))
	}
	if n := s.Latency.Count(); n > 0 {
		fmt.Fprintf(w, "latency per request: p50 %s, p99 %s (%d requests)\n",
			formatDuration(s.Latency.Quantile(0.5)), formatDuration(s.Latency.Quantile(0.99)), n)
	}
	if unexpected > 0 {
		fmt.Fprintln(w, "UNEXPECTED rejections:")
		for _, u := range slices.SortedFunc(maps.Keys(s.Unexpected), func(a, b Unexpected) int {
			return cmp.Or(compareVerdicts(a.Want, b.Want), compareVerdicts(a.Got, b.Got))
		}) {
			want := "valid event"
			if u.Want != (Verdict{}) {
				want = "expected " + u.Want.String()
			}
			fmt.Fprintf(w, "  %s, got %s: %d\n", want, u.Got, s.Unexpected[u])
		}
	}
	if len(s.AcceptedInvalid) > 0 {
		fmt.Fprintln(w, "UNEXPECTED acceptances of invalid events:")
		for _, k := range slices.Sorted(maps.Keys(s.AcceptedInvalid)) {
			fmt.Fprintf(w, "  %s: %d\n", k, s.AcceptedInvalid[k])
		}
	}
}

func compareVerdicts(a, b Verdict) int {
	return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Field, b.Field))
}

// Line is a one-line progress report.
func (s Stats) Line() string {
	return fmt.Sprintf("sent %d events: %d accepted, %d rejected, %.0f events/s (%s)",
		s.Sent, s.Accepted, s.Rejected, s.Rate(), s.Elapsed.Truncate(time.Second))
}

// formatDuration is short and rounded for people: 850µs, 12.3ms, 1.52s.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// Histogram counts durations in log-linear buckets: exact below 64µs,
// then 32 buckets per power of two, so a quantile is off by at most 1/32
// (rounded down). It takes no allocation to record, which matters at
// a hundred thousand events per second; the zero value is empty.
type Histogram struct {
	counts [histSub*2 + 58*histSub]uint64
	n      uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
)

// Record counts one duration.
func (h *Histogram) Record(d time.Duration) {
	h.counts[histBucket(uint64(max(d.Microseconds(), 0)))]++
	h.n++
}

// Count is how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Quantile returns the q-quantile (0 < q <= 1), rounded down to its
// bucket's lower bound; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return time.Duration(histLower(i)) * time.Microsecond
		}
	}
	return 0
}

func histBucket(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	e := bits.Len64(us) - (histSubBits + 1) // >= 1
	m := us >> e                            // in [histSub, 2*histSub)
	return 2*histSub + (e-1)*histSub + int(m-histSub)
}

func histLower(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := (i-2*histSub)/histSub + 1
	m := uint64((i-2*histSub)%histSub + histSub)
	return m << e
}

// plural is "1 event", "2 events".
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
