package app

import (
	"context"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/keys"
)

// StreamSize is what a source stream's log holds: retained events and
// their stored size in bytes.
type StreamSize struct {
	Events, Bytes uint64
}

// StreamSize returns what a source stream holds, from the log's state
// (no records are read). ok is false for a derived stream: what it shows
// can only be counted by reading its source (StreamUsage does, bounded).
func (a *App) StreamSize(st *catalog.Stream) (size StreamSize, ok bool, err error) {
	if st.IsDerived() {
		return StreamSize{}, false, nil
	}
	first, next, err := a.log.Bounds(st.ID)
	if err != nil {
		return StreamSize{}, false, err
	}
	bytes, err := a.log.Size(st.ID)
	if err != nil {
		return StreamSize{}, false, err
	}
	return StreamSize{Events: next - first, Bytes: bytes}, true, nil
}

// KeyLinkCounts returns how many key links exist, live and shredded, from
// counts kept in memory.
func (a *App) KeyLinkCounts() keys.LinkCounts { return a.keys.Counts() }

// Bounds and defaults of StreamUsage (docs/metrics.md).
const (
	// DefaultUsageSpan is how far before Until the windows start by default.
	DefaultUsageSpan = time.Hour
	// DefaultUsageBy is the default window length.
	DefaultUsageBy = 5 * time.Minute
	// MinUsageBy is the shortest window.
	MinUsageBy = time.Second
	// MaxUsageWindows bounds the windows of one StreamUsage.
	MaxUsageWindows = 10_000
	// MaxUsageDerivedEvents bounds the source events a derived stream's
	// usage reads: it counts what the stream shows, which takes reading
	// them through its view.
	MaxUsageDerivedEvents = 1_000_000
)

// UsageQuery asks for windowed event counts. Zero fields take their
// defaults: Until the server clock's now, From DefaultUsageSpan before
// Until, By DefaultUsageBy (a By below zero is refused as too short).
type UsageQuery struct {
	From, Until time.Time
	By          time.Duration
}

// UsageWindow is the count of events accepted in [From, Until).
type UsageWindow struct {
	From, Until time.Time
	Count       uint64
}

// Rate is the window's events per second.
func (w UsageWindow) Rate() float64 {
	d := w.Until.Sub(w.From).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(w.Count) / d
}

// WindowedUsage is the answer of StreamUsage: the query with its defaults
// filled in, and the windows.
type WindowedUsage struct {
	UsageQuery
	Windows []UsageWindow
}

// StreamUsage counts the events of a stream in windows of q.By aligned to
// multiples of q.By since the Unix epoch: the first window starts at
// q.From, the last ends at q.Until, the ones between are whole. With
// q.Until zero (now), the last window also holds the events accepted at
// now itself. A source
// stream's counts come from the log's time index (two seeks per window, no
// records read), so they cover the events retained; a derived stream's
// count what it shows, read through its Reader, at most
// MaxUsageDerivedEvents source events.
func (a *App) StreamUsage(ctx context.Context, st *catalog.Stream, q UsageQuery) (WindowedUsage, error) {
	toNow := q.Until.IsZero()
	if toNow {
		q.Until = a.opts.Clock.Now()
	}
	if q.By == 0 {
		q.By = DefaultUsageBy
	}
	if q.From.IsZero() {
		q.From = q.Until.Add(-DefaultUsageSpan)
	}
	q.From, q.Until = q.From.UTC(), q.Until.UTC()
	if q.By < MinUsageBy {
		return WindowedUsage{}, invalidf("--by: must be at least %s", MinUsageBy)
	}
	if !q.From.Before(q.Until) {
		return WindowedUsage{}, invalidf("--from: must be before --until (from %s, until %s)", q.From.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	bounds, n := usageBounds(q)
	if n > MaxUsageWindows {
		return WindowedUsage{}, invalidf("--by: %s from %s until %s makes %d windows, over the limit of %d: use a larger --by or a shorter span", q.By, q.From.Format(time.RFC3339), q.Until.Format(time.RFC3339), n, MaxUsageWindows)
	}
	rd, err := a.Reader(st)
	if err != nil {
		return WindowedUsage{}, err
	}
	offs := make([]uint64, len(bounds))
	for i, t := range bounds {
		if offs[i], err = rd.Seek(FromTime(t)); err != nil {
			return WindowedUsage{}, err
		}
	}
	if toNow {
		// Until is now: the events accepted at this very instant count
		// too (a virtual clock stamps many), so the last window runs to
		// the end of the log.
		if offs[len(offs)-1], err = rd.Seek(FromEnd()); err != nil {
			return WindowedUsage{}, err
		}
	}
	out := WindowedUsage{UsageQuery: q, Windows: make([]UsageWindow, len(bounds)-1)}
	for i := range out.Windows {
		out.Windows[i] = UsageWindow{From: bounds[i], Until: bounds[i+1]}
		if !st.IsDerived() {
			out.Windows[i].Count = offs[i+1] - offs[i]
		}
	}
	if st.IsDerived() {
		err = countShown(ctx, rd, out.Windows, offs[0], offs[len(offs)-1])
	}
	return out, err
}

// usageBounds returns the number of windows of q and, when it is at most
// MaxUsageWindows, their boundaries: From, the multiples of By after it
// and before Until, and Until.
func usageBounds(q UsageQuery) ([]time.Time, int) {
	by := q.By.Nanoseconds()
	from, until := q.From.UnixNano(), q.Until.UnixNano()
	// The first multiple of by after from (floor division for times
	// before the epoch).
	next := from - from%by
	if from%by < 0 {
		next -= by
	}
	next += by
	n := 1 // the window from From
	if next < until {
		n += int((until - next + by - 1) / by)
	}
	if n > MaxUsageWindows {
		return nil, n
	}
	out := make([]time.Time, 0, n+1)
	out = append(out, q.From)
	for ; next < until; next += by {
		out = append(out, time.Unix(0, next).UTC())
	}
	return append(out, q.Until), n
}

// countShown counts the records a derived stream's reader shows between
// source offsets from and to into windows, by acceptance time.
func countShown(ctx context.Context, rd *Reader, windows []UsageWindow, from, to uint64) error {
	if to-from > MaxUsageDerivedEvents {
		return invalidf("--from: stream %q is derived, and counting what it shows reads the %d events of its source in the span, over the limit of %d: give a shorter span", rd.Stream().Name, to-from, MaxUsageDerivedEvents)
	}
	w := 0
	for off := from; off < to; {
		page, err := rd.ReadUntil(ctx, off, to, MaxPageRecords)
		if err != nil {
			return err
		}
		for _, rec := range page.Records {
			for w < len(windows)-1 && !rec.Time.Before(windows[w].Until) {
				w++
			}
			windows[w].Count++
		}
		if page.Next <= off {
			break
		}
		off = page.Next
	}
	return nil
}
