package kafkalog

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/strmlocal/strmlocal/log"
)

// appendJob is one AppendAlso going through the two combiners: the
// State's (its Also writes), then its stream's (its records).
type appendJob struct {
	recs []log.Record
	also log.Also
	size int // encoded size of recs, once stamped

	first uint64
	err   error

	// Set under the combiner's mu.
	wake    chan struct{} // one signal: settled, or lead
	lead    bool
	settled bool
}

// combiner runs jobs in groups, leader style, without a goroutine of its
// own: a job submitted while none runs leads; jobs submitted meanwhile
// queue, and when the leader's group is done the first of them leads the
// next group, of every job queued then (as take allows). A leader runs one
// group only, so no caller waits for more than the group before its own.
type combiner struct {
	mu    sync.Mutex
	queue []*appendJob
	busy  bool
}

// run submits j and returns once a group carried it (j.err and j.first are
// its outcome), or with ctx's error if ctx ended before a group took it.
// take returns how many jobs of the queue (at least 1) the next group
// takes; do runs a group and sets the outcome of each of its jobs.
func (c *combiner) run(ctx context.Context, j *appendJob, take func([]*appendJob) int, do func([]*appendJob)) error {
	if j.wake == nil {
		j.wake = make(chan struct{}, 1)
	}
	c.mu.Lock()
	j.lead, j.settled = false, false
	c.queue = append(c.queue, j)
	if !c.busy {
		c.busy = true
		c.mu.Unlock()
		c.leadGroup(j, take, do)
		return nil
	}
	c.mu.Unlock()
	done := ctx.Done()
	for {
		select {
		case <-j.wake:
		case <-done:
			c.mu.Lock()
			if i := slices.Index(c.queue, j); i >= 0 && !j.lead {
				c.queue = slices.Delete(c.queue, i, i+1)
				c.mu.Unlock()
				return ctx.Err()
			}
			c.mu.Unlock()
			done = nil // taken, or to lead: wait for it
			continue
		}
		c.mu.Lock()
		lead, settled := j.lead, j.settled
		c.mu.Unlock()
		if settled {
			return nil
		}
		if lead {
			c.leadGroup(j, take, do)
			return nil
		}
	}
}

// leadGroup runs one group starting with self (the head of the queue),
// then hands the lead to the next job queued, if any.
func (c *combiner) leadGroup(self *appendJob, take func([]*appendJob) int, do func([]*appendJob)) {
	c.mu.Lock()
	n := max(1, min(take(c.queue), len(c.queue)))
	group := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	c.mu.Unlock()

	do(group)

	c.mu.Lock()
	var wake []*appendJob
	for _, g := range group {
		g.settled = true
		if g != self {
			wake = append(wake, g)
		}
	}
	var next *appendJob
	if len(c.queue) == 0 {
		c.busy = false
	} else {
		next = c.queue[0]
		next.lead = true
	}
	c.mu.Unlock()
	for _, g := range wake {
		g.wake <- struct{}{}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// sleep waits d or until ctx ends; it says whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
