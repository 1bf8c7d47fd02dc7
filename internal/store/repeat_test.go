package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestBackgroundErrorsRateLimited: on a full disk Pebble retried a failed
// flush without pause and logged each failure (81,615 lines in 10 minutes,
// each with a new file number). The same error is logged once a minute,
// with the count of the ones not logged.
func TestBackgroundErrorsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := newRepeatLimiter(logger)
	r.now = func() time.Time { return now }
	for i := range 1000 {
		r.backgroundError(fmt.Errorf("write d/%06d.sst: %w", i+8, errors.New("no space left on device")))
		now = now.Add(10 * time.Millisecond) // 10 s in all
	}
	r.backgroundError(errors.New("another error"))
	now = now.Add(time.Minute)
	r.backgroundError(errors.New("write d/009999.sst: no space left on device"))
	want := `level=ERROR msg="background error: write d/000008.sst: no space left on device" component=pebble
level=ERROR msg="background error: another error" component=pebble
level=ERROR msg="background error: write d/009999.sst: no space left on device" component=pebble repeats_not_logged=999
`
	if got := buf.String(); got != want {
		t.Fatalf("logged:\n%s\nwant:\n%s", got, want)
	}
	if got := strings.Count(buf.String(), "\n"); got != 3 {
		t.Fatalf("%d lines", got)
	}
}
