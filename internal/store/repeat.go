package store

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// repeatWindow is how long a repeated background error stays quiet.
const repeatWindow = time.Minute

// repeatLimiter logs Pebble's background errors without flooding the log:
// Pebble retries a failed flush at once and without end (on a full disk,
// hundreds of times a second), each with a new file number. An error is
// logged the first time; the same error again (digits aside) within
// repeatWindow is only counted, and the count is logged with the next one
// after the window.
type repeatLimiter struct {
	l   *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat // by message with digits blanked; REQUIRES: mu held
}

type repeat struct {
	logged time.Time // when it was last logged
	quiet  int       // times seen since then, not logged
}

func newRepeatLimiter(l *slog.Logger) *repeatLimiter {
	return &repeatLimiter{l: l, now: time.Now, seen: make(map[string]*repeat)}
}

func (r *repeatLimiter) backgroundError(err error) {
	msg := fmt.Sprintf("background error: %s", err)
	key := blankDigits(msg)
	now := r.now()
	r.mu.Lock()
	rep := r.seen[key]
	if rep != nil && now.Sub(rep.logged) < repeatWindow {
		rep.quiet++
		r.mu.Unlock()
		return
	}
	if rep == nil {
		if len(r.seen) >= 64 { // bounded: forget the old ones
			clear(r.seen)
		}
		rep = &repeat{}
		r.seen[key] = rep
	}
	quiet := rep.quiet
	rep.logged, rep.quiet = now, 0
	r.mu.Unlock()
	if quiet > 0 {
		r.l.Error(msg, "component", "pebble", "repeats_not_logged", quiet)
		return
	}
	r.l.Error(msg, "component", "pebble")
}

// blankDigits replaces every run of digits with '#', so that messages that
// differ only in file numbers or offsets compare equal.
func blankDigits(s string) string {
	var b strings.Builder
	digits := false
	for _, c := range s {
		if c >= '0' && c <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(c)
	}
	return b.String()
}
