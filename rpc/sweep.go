package rpc

import (
	"time"
)

// sweepInterval is how often a real clock checks for keys past retention.
// Retention is measured in days, so a minute late is no harm.
const sweepInterval = time.Minute

// sweepLoop shreds keys whose retention ended, until the server closes. A
// virtual clock is swept when it is advanced (see clockService) as well.
func (s *Server) sweepLoop() {
	defer close(s.sweepDone)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		if _, err := s.sweep(); err != nil {
			s.opts.Logger.Error("key sweep failed", "error", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep shreds the keys due by the server clock and returns how many.
func (s *Server) sweep() (int, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	now := s.opts.Clock.Now()
	if next, ok := s.keys.NextExpiry(); !ok || now.Before(next) {
		return 0, nil
	}
	n, err := s.keys.Sweep(now)
	if n > 0 {
		s.opts.Logger.Info("shredded keys past retention", "count", n)
	}
	return n, err
}
