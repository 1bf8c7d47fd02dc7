package tui

import (
	"testing"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// TestNavigation walks tail → detail → side by side → key links and back:
// each key opens its screen within the Update that took it, and esc
// retraces the way.
func TestNavigation(t *testing.T) {
	h := offlineHarness(t, 10)
	tailOn(h)
	h.m.streams.rows = buildTree([]*v1.Stream{{Name: "demo"}, {Name: "demo-2", DerivedFrom: "demo"}}, nil)
	batch(h, records(0, 5))
	gen := h.m.tail.gen
	for _, step := range []struct {
		key  string
		want screen
	}{
		{"enter", screenDetail},
		{"s", screenSide},
		{"K", screenKeys},
		{"esc", screenSide},
		{"esc", screenDetail},
		{"esc", screenTail},
	} {
		h.key(step.key)
		if h.m.screen != step.want {
			t.Fatalf("after %s: screen %d, want %d", step.key, h.m.screen, step.want)
		}
	}
	// Screens opened from the tail leave it running.
	if h.m.tail.gen != gen {
		t.Fatal("the tail was stopped on the way")
	}
	h.key("esc")
	if h.m.screen != screenStreams || h.m.tail.gen == gen {
		t.Fatalf("screen %d: esc to the tree should stop the tail", h.m.screen)
	}
}
