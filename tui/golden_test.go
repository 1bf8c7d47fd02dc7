package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// loadStreams runs two refreshes 2s apart (on the UI's clock) with more
// events sent between them, so that rates are known.
func loadStreams(t *testing.T, s *seeded, h *harness) {
	t.Helper()
	s.send(t, 16)
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded && !h.m.streams.refreshing })
	s.send(t, 8)
	h.clock.now = h.clock.now.Add(2 * time.Second)
	h.run(h.m.streams.refresh(), func() bool { return !h.m.streams.refreshing })
}

func TestGoldenStreams(t *testing.T) {
	s := newSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	loadStreams(t, s, h)
	st := &h.m.streams
	if got := st.counts["demo"].end; got != 24 {
		t.Fatalf("demo count %d, want 24", got)
	}
	// 8 events in 2 seconds.
	if got := st.rates["demo"]; got != 4 {
		t.Fatalf("demo rate %v, want 4", got)
	}
	if !st.counts["orders"].noCreds {
		t.Fatalf("orders: want no credentials, got %+v", st.counts["orders"])
	}
	h.key("down")
	h.key("down")
	h.key("down")
	if r, _ := st.selected(); r.stream.Name != "orders" {
		t.Fatalf("selected %s, want orders", r.stream.Name)
	}
	golden(t, "streams", normalize(h.frame(), s.sb.URL))

	// Wide, the stream column is as wide as the names need and the spare
	// width is shared among the columns.
	h.m.update(tea.WindowSizeMsg{Width: 160, Height: 48})
	frame := normalize(h.frame(), s.sb.URL)
	golden(t, "streams-160x48", frame)
	if want := " STREAM                           CONSENT                                                      EVENTS                       RATE/s                     KEY LINKS"; !strings.Contains(frame, "\n"+want+"\n") {
		t.Fatalf("want header %q in\n%s", want, frame)
	}
}

// openTail opens the tail of the selected stream and runs it until every
// event sent is a row and the event contract is known.
func openTail(t *testing.T, s *seeded, h *harness, rows int) {
	t.Helper()
	cmd := h.key("enter")
	h.run(cmd, func() bool {
		return h.m.tail.ring.n == rows && h.m.c.contracts["streammachine/example/1.3.0"] != nil
	})
}

func TestGoldenTail(t *testing.T) {
	s := newSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	loadStreams(t, s, h)
	openTail(t, s, h, s.sent)
	if h.m.screen != screenTail || !h.m.tail.follow {
		t.Fatalf("screen %d follow %v", h.m.screen, h.m.tail.follow)
	}
	frame := normalize(h.frame(), s.sb.URL)
	golden(t, "tail", frame)
	// 80×24: field titles are never cut, and the help line fits.
	for _, want := range []string{
		"\n   OFFSET TIME         KEY LINK  CONSENT   uniqueIdentifier   consistentValue   \n",
		"\nf follow • : offset • / filter • enter detail • esc back • ? help • q quit",
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("80×24: want %q in\n%s", want, frame)
		}
	}
	// 160×48: every field gets a column and they share the spare width.
	h.m.update(tea.WindowSizeMsg{Width: 160, Height: 48})
	wide := normalize(h.frame(), s.sb.URL)
	golden(t, "tail-160x48", wide)
	if want := "\n   OFFSET TIME         KEY LINK  CONSENT   uniqueIdentifier             consistentValue             someSensitiveValue             notSensitiveValue            \n"; !strings.Contains(wide, want) {
		t.Errorf("160×48: want %q in\n%s", want, wide)
	}
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 24})

	// Up pauses on the row before the newest; the status says where.
	h.key("up")
	if h.m.tail.follow {
		t.Fatal("up did not pause")
	}
	if r := h.m.tail.selectedRecord(); r.Offset != 22 {
		t.Fatalf("selected offset %d, want 22", r.Offset)
	}
	if got := h.frame(); !strings.Contains(got, " PAUSED  · 24 rows (last 10,000) · at offset 22\n") {
		t.Fatalf("status:\n%s", got)
	}
}

func TestGoldenSideBySide(t *testing.T) {
	s := newSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	loadStreams(t, s, h)
	openTail(t, s, h, s.sent)
	// The newest event the derived stream demo-2 keeps.
	off := -1
	for seq := h.m.tail.ring.base; seq < h.m.tail.ring.end(); seq++ {
		r := h.m.tail.ring.at(seq).rec
		if maxLevel(r.ConsentLevels...) >= 2 {
			off = int(r.Offset)
		}
	}
	h.m.tail.jumpOffset(uint64(off))
	cmd := h.key("s")
	h.run(cmd, func() bool {
		return !h.m.side.loading && h.m.c.keyLinks["demo"] != nil && !h.m.c.keyLinks["demo"].loading
	})
	// The first derived stream, by name, is demo-0-1; tab moves to demo-2.
	if d := h.m.side.derived[h.m.side.di].Name; d != "demo-0-1" {
		t.Fatalf("derived %s, want demo-0-1", d)
	}
	h.run(h.key("tab"), func() bool { return !h.m.side.loading })
	if h.m.side.right == nil {
		t.Fatalf("offset %d: no derived record", off)
	}
	got := h.frame()
	if !strings.Contains(got, `L1+   "uniqueIdentifier": "user-`) || !strings.Contains(got, `L1*   "uniqueIdentifier": "A`) {
		t.Fatalf("want ciphertext left and plaintext right:\n%s", got)
	}
	golden(t, "sidebyside", normalize(got, s.sb.URL))

	// The previous offset with consent below level 2 is dropped, and says
	// why.
	for {
		cmd = h.key("p")
		h.run(cmd, func() bool { return !h.m.side.loading })
		if h.m.side.right == nil {
			break
		}
	}
	c := h.m.side.left.ConsentLevels
	want := "dropped: consent " + consentList(c) + " does not cover level 2"
	if got := h.frame(); !strings.Contains(strings.ReplaceAll(got, "\n", " "), want[:30]) {
		t.Fatalf("want %q:\n%s", want, got)
	}
}

func maxLevel(s ...int32) int32 {
	m := int32(-1)
	for _, v := range s {
		if v > m {
			m = v
		}
	}
	return m
}

func TestKeysViewShowsRotationAndShredding(t *testing.T) {
	s := newSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	s.send(t, 4)
	s.sb.Advance(25 * time.Hour) // the next events of a session get new key links
	s.send(t, 4)
	s.sb.Advance(7 * 24 * time.Hour) // past the retention of the first period's keys only
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded })
	cmd := h.key("K") // demo is selected
	h.run(cmd, func() bool { return !h.m.c.keyLinks["demo"].loading })
	frame := normalize(h.frame(), s.sb.URL)
	for _, want := range []string{
		"key links of demo",
		"clock 2026-11-30 13:00:02 UTC, virtual: `strmlocal clock advance 25h` moves it",
		"\n  KEY LINK  CREATED          ROTATES AT       EXPIRES          SHREDDED         \n",
		"\n▸ kkkkkkkk… 2026-11-22 12:00 2026-11-23 12:00 2026-11-30 12:00 yes 11-30 13:00  \n",
		"\n  kkkkkkkk… 2026-11-22 12:00 2026-11-23 12:00 2026-11-30 12:00 yes 11-30 13:00\n",
		"\n  kkkkkkkk… 2026-11-23 13:00 2026-11-24 13:00 2026-12-01 13:00 no\n",
		"\n4 key links · 2 live · 2 shredded\n",
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("missing %q in\n%s", want, frame)
		}
	}
}

func TestStreamWithoutCredentials(t *testing.T) {
	s := newSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded })
	for range 3 {
		h.key("down") // orders
	}
	cmd := h.key("enter")
	h.run(cmd, func() bool { return h.m.tail.finished })
	frame := h.frame()
	if !strings.Contains(frame, "  no saved credentials for stream orders: create it with `strmlocal create\n  stream orders`") {
		t.Fatalf("frame:\n%s", frame)
	}
	// esc goes back to the tree, which still works.
	h.key("esc")
	if h.m.screen != screenStreams || h.m.tail.t != nil {
		t.Fatalf("screen %d", h.m.screen)
	}
}
