package app

import (
	"fmt"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/internal/clock"
)

// sweepLoop shreds keys whose retention ended, until Close. A virtual clock
// is swept when it is advanced (Advance) as well.
func (a *App) sweepLoop() {
	t := time.NewTicker(a.opts.SweepInterval)
	defer t.Stop()
	for {
		if _, err := a.sweep(); err != nil {
			a.opts.Logger.Error("key sweep failed", "error", err)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep shreds the keys due by the server clock and returns how many.
func (a *App) sweep() (int, error) {
	a.sweepMu.Lock()
	defer a.sweepMu.Unlock()
	now := a.opts.Clock.Now()
	if next, ok := a.keys.NextExpiry(); !ok || now.Before(next) {
		return 0, nil
	}
	n, err := a.keys.Sweep(now)
	if n > 0 {
		a.opts.Logger.Info("shredded keys past retention", "count", n)
	}
	return n, err
}

// Advanced is what moving a virtual clock did.
type Advanced struct {
	Now          time.Time
	KeysShredded int
	// JobsRun is the number of job runs that became due and ran.
	JobsRun int
}

// Advance moves a virtual server clock forward by d and runs the work that
// became due (the key sweep, then every due job run) before it returns, so
// a test sees its effects.
func (a *App) Advance(d time.Duration) (Advanced, error) {
	v, ok := a.opts.Clock.(*clock.Virtual)
	if !ok {
		return Advanced{}, &kindError{ErrRealClock, "the server runs on the real clock; start it with --clock virtual to move time"}
	}
	if d <= 0 {
		return Advanced{}, &kindError{ErrInvalid, "by: give a positive duration, e.g. 25h"}
	}
	a.clockMu.Lock()
	defer a.clockMu.Unlock()
	now, err := v.Advance(d)
	if err != nil {
		return Advanced{}, &kindError{ErrInvalid, fmt.Sprintf("by: %v", err)}
	}
	if a.pg != nil {
		// The other gateways follow (scaleout.go); a later time one of
		// them stored meanwhile is this one's too.
		stored, err := catalog.AdvanceSharedClock(a.pg, now)
		if err != nil {
			return Advanced{}, err
		}
		if later := stored.Sub(now); later > 0 {
			if now, err = v.Advance(later); err != nil {
				return Advanced{}, err
			}
		}
	}
	n, err := a.sweep()
	return Advanced{Now: now, KeysShredded: n, JobsRun: a.runDueJobs()}, err
}

// Virtual reports whether the server clock is a virtual one.
func (a *App) Virtual() bool {
	_, ok := a.opts.Clock.(*clock.Virtual)
	return ok
}
