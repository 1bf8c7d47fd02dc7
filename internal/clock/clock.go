package clock

import (
	"errors"
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Func adapts a function to a Clock.
type Func func() time.Time

// Now calls f.
func (f Func) Now() time.Time { return f() }

// ErrBackwards is returned by Advance for a negative duration.
var ErrBackwards = errors.New("clock: a virtual clock only moves forward")

// Virtual is a clock that moves only when advanced. It is safe for
// concurrent use.
type Virtual struct {
	mu  sync.Mutex
	now time.Time // REQUIRES: mu held
}

// NewVirtual returns a virtual clock showing start, in UTC.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{now: start.UTC()}
}

// Now returns the clock's time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Advance moves the clock forward by d and returns the new time.
func (v *Virtual) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, ErrBackwards
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = v.now.Add(d)
	return v.now, nil
}
