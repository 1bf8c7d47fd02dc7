package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// group runs the goroutines the UI starts itself (the tail readers) and
// lets Close join them. Cancelling a tail does not wait for its reader, so
// several readers may be ending at once; the group is what guarantees none
// outlives Close.
type group struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// goFunc runs f on a goroutine of the group, unless the group was closed
// (the UI is ending): then it reports false and f does not run.
func (g *group) goFunc(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	// INVARIANT: Add happens under mu before closed is set, so wait never
	// races an Add from a command still opening a tail.
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// wait refuses new goroutines and waits for those running. Their contexts
// must have been canceled first, or wait may block for as long as a tail
// lasts.
func (g *group) wait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// tailer drains one Tail stream into a bounded buffer. Update takes what
// has accumulated once per frame (wait). When the buffer is full the
// tailer stops reading, which holds the server back by flow control: a
// paused UI never loses records it has not shown.
type tailer struct {
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // cap 1: records or the end are waiting
	room   chan struct{} // cap 1: the buffer was drained
	limit  int

	mu       sync.Mutex
	pending  []*v1.Record
	finished bool
	err      string
}

func newTailer(parent context.Context, limit int) *tailer {
	ctx, cancel := context.WithCancel(parent)
	return &tailer{
		ctx: ctx, cancel: cancel, limit: max(limit, 1),
		ready: make(chan struct{}, 1), room: make(chan struct{}, 1),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (t *tailer) run(eg strmlocalv1connect.EgressServiceClient, req *v1.TailRequest, describe func(error) string) {
	var errText string
	defer func() {
		t.mu.Lock()
		t.finished, t.err = true, errText
		t.mu.Unlock()
		signal(t.ready)
	}()
	stream, err := eg.Tail(t.ctx, connect.NewRequest(req))
	if err != nil {
		if t.ctx.Err() == nil {
			errText = describe(err)
		}
		return
	}
	defer stream.Close()
	for stream.Receive() {
		recs := stream.Msg().Records
		for {
			t.mu.Lock()
			if len(t.pending) < t.limit {
				t.pending = append(t.pending, recs...)
				t.mu.Unlock()
				break
			}
			t.mu.Unlock()
			select {
			case <-t.room:
			case <-t.ctx.Done():
				return
			}
		}
		signal(t.ready)
	}
	if err := stream.Err(); err != nil && t.ctx.Err() == nil {
		errText = describe(err)
	}
}

// tailBatchMsg is what a tail delivered during one frame.
type tailBatchMsg struct {
	gen      int
	recs     []*v1.Record
	finished bool
	err      string
}

// waitCmd blocks until records (or the end) are waiting, lets a frame's
// worth accumulate, and returns them as one message.
func (t *tailer) waitCmd(gen int, frame time.Duration) tea.Cmd {
	return func() tea.Msg {
		for {
			select {
			case <-t.ready:
			case <-t.ctx.Done():
				return nil
			}
			if frame > 0 {
				timer := time.NewTimer(frame)
				select {
				case <-timer.C:
				case <-t.ctx.Done():
					timer.Stop()
					return nil
				}
			}
			t.mu.Lock()
			msg := tailBatchMsg{gen: gen, recs: t.pending, finished: t.finished, err: t.err}
			t.pending = nil
			t.mu.Unlock()
			signal(t.room)
			// A signal that arrived while the previous batch was taken
			// finds nothing: wait for the next one instead of sending an
			// empty message.
			if len(msg.recs) > 0 || msg.finished {
				return msg
			}
		}
	}
}

// stop cancels the tail and returns at once: Update must never wait. The
// goroutine ends soon after (Tail's Receive returns on cancel); Close joins
// it through the group it was started on, and whatever it still sends
// carries a stale generation and is ignored.
func (t *tailer) stop() { t.cancel() }
