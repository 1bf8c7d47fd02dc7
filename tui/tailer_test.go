package tui

import (
	"errors"
	"testing"
	"testing/synctest"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// TestStopTailDoesNotWait stops a tail whose reader is slow to end: Update
// returns at once, and Close waits for the reader.
func TestStopTailDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := New(Options{
			Server:      "http://127.0.0.1:1",
			Credentials: func(string) (*v1.Credentials, error) { return nil, errors.New("none") },
		})
		if err != nil {
			t.Fatal(err)
		}
		// A reader that ignores its cancel until released, as one blocked
		// in a slow network call would.
		release := make(chan struct{})
		ended := false
		tl := newTailer(m.c.ctx, 1)
		if !m.c.tails.goFunc(func() { <-release; ended = true }) {
			t.Fatal("group refused a goroutine before Close")
		}
		m.open(screenTail)
		m.tail.t = tl
		m.update(keyMsg("esc")) // blocks forever (synctest: deadlock) if Update waits
		if m.screen != screenStreams || m.tail.t != nil || tl.ctx.Err() == nil {
			t.Fatalf("screen %d tailer %v canceled %v", m.screen, m.tail.t, tl.ctx.Err())
		}
		closed := make(chan struct{})
		go func() {
			m.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned before the tail reader ended")
		default:
		}
		close(release)
		<-closed
		if !ended {
			t.Fatal("Close returned before the reader ended")
		}
		// A tail opened by a command still running when Close ran is
		// refused, not leaked.
		if m.c.tails.goFunc(func() {}) {
			t.Fatal("group took a goroutine after Close")
		}
	})
}
