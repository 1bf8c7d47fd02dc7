package rpc

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// tailCloseGrace is how long a Connect tail has, once it ends (the server
// stops, the client goes away), to write what it was writing and the end
// of the stream. A client that reads takes milliseconds; one that stopped
// reading is cut off then, not after the write timeout.
const tailCloseGrace = 200 * time.Millisecond

// responseKey carries a request's http.ResponseController to the Tail
// handler, which connect gives no access to the ResponseWriter.
type responseKey struct{}

func withResponseController(r *http.Request, w http.ResponseWriter) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), responseKey{}, http.NewResponseController(w)))
}

// writeGuard puts a write deadline on each message of a server stream, as
// /ws has on each frame: a client that stops reading is dropped after the
// write timeout instead of holding its handler (and Server.Close) forever.
// Between messages there is no deadline: a tail waits for events as long
// as it takes.
type writeGuard struct {
	rc      *http.ResponseController // nil: no deadlines (not served over net/http)
	timeout time.Duration
	stopAt  func() bool // stops the AfterFunc of newWriteGuard

	mu      sync.Mutex
	stopped bool // the stream's context ended; REQUIRES: mu held
	// released: the handler has returned, and the ResponseWriter may be
	// gone by now (SetWriteDeadline on a finished HTTP/2 stream panics).
	// REQUIRES: mu held
	released bool
}

// newWriteGuard guards the writes of the stream whose context is ctx; when
// ctx ends, writes get tailCloseGrace.
func newWriteGuard(ctx context.Context, timeout time.Duration) *writeGuard {
	rc, _ := ctx.Value(responseKey{}).(*http.ResponseController)
	g := &writeGuard{rc: rc, timeout: timeout}
	if rc != nil {
		g.stopAt = context.AfterFunc(ctx, g.stop)
	}
	return g
}

// send runs one write under the write timeout. It reports whether the
// write failed because the deadline passed.
func (g *writeGuard) send(write func() error) (slow bool, err error) {
	if g.rc == nil {
		return false, write()
	}
	start := time.Now()
	g.set(start.Add(g.timeout))
	err = write()
	g.set(time.Time{})
	return err != nil && time.Since(start) >= g.timeout, err
}

func (g *writeGuard) set(deadline time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped && !g.released {
		_ = g.rc.SetWriteDeadline(deadline)
	}
}

// stop gives the writes in flight and the end of the stream
// tailCloseGrace.
func (g *writeGuard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.released {
		return
	}
	g.stopped = true
	_ = g.rc.SetWriteDeadline(time.Now().Add(tailCloseGrace))
}

// release ends the guard when its handler returns: the end of the stream
// is written under the write timeout (under tailCloseGrace if the stream's
// context has ended).
//
// INVARIANT: after release the guard never touches the ResponseWriter.
func (g *writeGuard) release() {
	if g.rc == nil {
		return
	}
	g.stopAt()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		_ = g.rc.SetWriteDeadline(time.Now().Add(g.timeout))
	}
	g.released = true
}
