package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
)

// usageLines renders windows as "from-until count" lines.
func usageLines(u app.WindowedUsage) string {
	var b strings.Builder
	for _, w := range u.Windows {
		fmt.Fprintf(&b, "%s-%s %d\n", w.From.Format("15:04:05"), w.Until.Format("15:04:05"), w.Count)
	}
	return b.String()
}

func TestStreamUsage(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	vc := clock.NewVirtual(t0)
	a := open(t, app.Options{Clock: vc})
	src := create(t, a, catalog.NewStream{Name: "demo"})
	derived := create(t, a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{2}}})
	// 10:00: 3 events (2 with consent 2); 10:07: 1 (consent 0); 10:12: 2
	// (consent 2).
	ingest(t, a, src, demo("s1", 0, 2), demo("s2", 0, 0), demo("s3", 0, 2))
	vc.Advance(7 * time.Minute)
	ingest(t, a, src, demo("s1", 0, 0))
	vc.Advance(5 * time.Minute)
	ingest(t, a, src, demo("s1", 0, 2), demo("s2", 0, 2))
	vc.Advance(time.Minute) // now 10:13

	for _, tc := range []struct {
		name   string
		stream *catalog.Stream
		q      app.UsageQuery
		want   string
	}{
		{"defaults: the hour before now, 5m", src, app.UsageQuery{}, ""},
		{"aligned windows, partial ends", src, app.UsageQuery{From: t0.Add(-2 * time.Minute), Until: t0.Add(13 * time.Minute)},
			"09:58:00-10:00:00 0\n10:00:00-10:05:00 3\n10:05:00-10:10:00 1\n10:10:00-10:13:00 2\n"},
		{"one window", src, app.UsageQuery{From: t0, Until: t0.Add(time.Hour), By: time.Hour},
			"10:00:00-11:00:00 6\n"},
		{"from inside a window", src, app.UsageQuery{From: t0.Add(time.Minute), Until: t0.Add(10 * time.Minute)},
			"10:01:00-10:05:00 0\n10:05:00-10:10:00 1\n"},
		{"derived: what it shows", derived, app.UsageQuery{From: t0, Until: t0.Add(15 * time.Minute)},
			"10:00:00-10:05:00 2\n10:05:00-10:10:00 0\n10:10:00-10:15:00 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := a.StreamUsage(context.Background(), tc.stream, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if tc.q == (app.UsageQuery{}) {
				if !u.Until.Equal(t0.Add(13*time.Minute)) || !u.From.Equal(t0.Add(-47*time.Minute)) || u.By != 5*time.Minute || len(u.Windows) != 13 {
					t.Fatalf("defaults: from %s until %s by %s, %d windows", u.From, u.Until, u.By, len(u.Windows))
				}
				if last := u.Windows[12]; last.Count != 2 || !last.From.Equal(t0.Add(10*time.Minute)) || last.Rate() != 2.0/180 {
					t.Fatalf("last window %+v rate %v", last, last.Rate())
				}
				return
			}
			if got := usageLines(u); got != tc.want {
				t.Fatalf("windows:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name string
		q    app.UsageQuery
		want string
	}{
		{"by too short", app.UsageQuery{By: 500 * time.Millisecond}, "--by: must be at least 1s"},
		{"by negative", app.UsageQuery{By: -time.Minute}, "--by: must be at least 1s"},
		{"from after until", app.UsageQuery{From: t0.Add(time.Hour), Until: t0}, "--from: must be before --until (from 2026-05-04T11:00:00Z, until 2026-05-04T10:00:00Z)"},
		{"from at until", app.UsageQuery{From: t0, Until: t0}, "--from: must be before --until (from 2026-05-04T10:00:00Z, until 2026-05-04T10:00:00Z)"},
		{"too many windows", app.UsageQuery{From: t0.Add(-24 * time.Hour), Until: t0, By: time.Second},
			"--by: 1s from 2026-05-03T10:00:00Z until 2026-05-04T10:00:00Z makes 86400 windows, over the limit of 10000: use a larger --by or a shorter span"},
		{"a far span", app.UsageQuery{From: time.Unix(0, 0), Until: t0, By: time.Second},
			"--by: 1s from 1970-01-01T00:00:00Z until 2026-05-04T10:00:00Z makes 1777888800 windows, over the limit of 10000: use a larger --by or a shorter span"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.StreamUsage(context.Background(), src, tc.q)
			if !errors.Is(err, app.ErrInvalid) || err.Error() != tc.want {
				t.Fatalf("error %v, want ErrInvalid %q", err, tc.want)
			}
		})
	}
	// The limit is 10,000 windows exactly.
	if u, err := a.StreamUsage(context.Background(), src, app.UsageQuery{From: t0, Until: t0.Add(10000 * time.Second), By: time.Second}); err != nil || len(u.Windows) != 10000 {
		t.Fatalf("10,000 windows: %d, %v", len(u.Windows), err)
	}
}

func TestStreamSizeAndKeyLinkCounts(t *testing.T) {
	a := open(t, app.Options{})
	src := create(t, a, catalog.NewStream{Name: "demo"})
	derived := create(t, a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{2}}})
	ingest(t, a, src, demo("s1", 10, 2), demo("s2", 10, 2), demo("s1", 10, 2))
	size, ok, err := a.StreamSize(src)
	if err != nil || !ok || size.Events != 3 || size.Bytes == 0 {
		t.Fatalf("StreamSize(demo) = %+v, %v, %v", size, ok, err)
	}
	if size, ok, err := a.StreamSize(derived); ok || err != nil || size != (app.StreamSize{}) {
		t.Fatalf("StreamSize(demo-2) = %+v, %v, %v; want not ok", size, ok, err)
	}
	if got := a.KeyLinkCounts(); got.Live != 2 || got.Shredded != 0 {
		t.Fatalf("KeyLinkCounts = %+v, want 2 live", got)
	}
	if _, err := a.DeleteStream("demo", true); err != nil {
		t.Fatal(err)
	}
	if got := a.KeyLinkCounts(); got.Live != 0 || got.Shredded != 0 {
		t.Fatalf("KeyLinkCounts after deleting the stream = %+v, want none", got)
	}
}
