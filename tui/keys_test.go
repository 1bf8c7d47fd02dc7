package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// clicked is a sandbox with one source stream, clicks, and the events of
// two sessions over two key periods: alice (session sa1) and bob (sb1)
// click at 12:00, 12:01, 12:02 and 12:03 on the first day, and at 13:04
// and 13:05 on the next, after rotation; the clock stops at 13:06. Their key links, oldest first,
// are links: alice's and bob's of the first day, then of the second.
type clicked struct {
	sb    *strmtest.Sandbox
	creds map[string]*v1.Credentials
	links []string
}

const clickRef = "streammachine/clickstream/1.0.0"

func newClicked(t *testing.T) *clicked {
	t.Helper()
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	st := sb.CreateStream("clicks")
	send := func(session, customer string) {
		ev := fmt.Sprintf(`{"strmMeta": {"eventContractRef": %q, "consentLevels": [0, 1]}, "producerSessionId": %q, "url": "https://shop.example/p", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": [], "customer": {"id": %q}}`,
			clickRef, session, customer)
		if res := st.Send(clickRef, ev); !res[0].Accepted {
			t.Fatalf("event rejected: %v", res[0].Rejection)
		}
		sb.Advance(time.Minute)
	}
	send("sa1", "alice")
	send("sb1", "bob")
	send("sa1", "alice")
	send("sb1", "bob")
	sb.Advance(25 * time.Hour)
	send("sa1", "alice")
	send("sb1", "bob")
	res, err := sb.Keys.ListKeyLinks(context.Background(), connect.NewRequest(&v1.ListKeyLinksRequest{Stream: "clicks"}))
	if err != nil {
		t.Fatal(err)
	}
	c := &clicked{sb: sb, creds: map[string]*v1.Credentials{"clicks": st.Credentials}}
	for _, k := range res.Msg.KeyLinks {
		c.links = append(c.links, k.KeyLink)
	}
	if len(c.links) != 4 {
		t.Fatalf("%d key links, want 4", len(c.links))
	}
	return c
}

// tailClicks opens the tail of clicks and runs it until its 6 events are
// rows.
func tailClicks(t *testing.T, h *harness) {
	t.Helper()
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded })
	cmd := h.key("enter")
	h.run(cmd, func() bool { return h.m.tail.ring.n == 6 && h.m.c.contracts[clickRef] != nil })
}

// openKeys presses K and runs until the key links read at open are in.
func openKeys(t *testing.T, h *harness) {
	t.Helper()
	cmd := h.key("K")
	if h.m.screen != screenKeys {
		t.Fatalf("K: screen %d, want the key links", h.m.screen)
	}
	h.run(cmd, func() bool { return !h.m.c.keyLinks["clicks"].loading && h.m.keys.want == nil })
}

// tableRows are the lines of a frame between the column titles of the key
// links and the line after the last row.
func tableRows(frame string) []string {
	lines := strings.Split(frame, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  KEY LINK") {
			var rows []string
			for _, r := range lines[i+1:] {
				if !strings.HasPrefix(r, "  ") && !strings.HasPrefix(r, "▸ ") {
					break
				}
				rows = append(rows, r)
			}
			return rows
		}
	}
	return nil
}

func TestKeyLinksOfAnEvent(t *testing.T) {
	c := newClicked(t)
	h := sandboxHarness(t, c.sb, c.creds)
	tailClicks(t, h)
	// Up pauses on offset 4; three more reach offset 1, bob's first event.
	for range 4 {
		h.key("up")
	}
	h.key("enter")
	if h.m.screen != screenDetail || h.m.detail.rec.Offset != 1 {
		t.Fatalf("screen %d: want the detail of offset 1", h.m.screen)
	}
	a1, b1, a2, b2 := shortKey(c.links[0]), shortKey(c.links[1]), shortKey(c.links[2]), shortKey(c.links[3])
	if h.m.detail.rec.KeyLink != c.links[1] {
		t.Fatalf("offset 1 has key link %s, want bob's first, %s", h.m.detail.rec.KeyLink, c.links[1])
	}
	openKeys(t, h)
	if h.m.keys.sel != c.links[1] {
		t.Fatalf("selected %s, want %s", h.m.keys.sel, c.links[1])
	}
	want := []string{
		"  " + a1 + "   2026-11-22 12:00   2026-11-23 12:00   2026-11-30 12:00   no",
		"▸ " + b1 + "   2026-11-22 12:01   2026-11-23 12:01   2026-11-30 12:01   no       ",
		"  " + a2 + "   2026-11-23 13:04   2026-11-24 13:04   2026-12-01 13:04   no",
		"  " + b2 + "   2026-11-23 13:05   2026-11-24 13:05   2026-12-01 13:05   no",
	}
	frame := h.frame()
	if got := tableRows(frame); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s\nframe:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), frame)
	}
	if !strings.Contains(frame, "\n4 key links · 4 live · 0 shredded\n") {
		t.Fatalf("totals:\n%s", frame)
	}

	// Forget alice: her two key links are shredded, and the three events
	// they encrypted with them.
	res, err := c.sb.Client.Keys.ForgetDataSubject(context.Background(), connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.KeyLinks != 2 || res.Msg.Events != 3 {
		t.Fatalf("forget alice: %d key links, %d events; want 2, 3", res.Msg.KeyLinks, res.Msg.Events)
	}
	h.run(h.key("r"), func() bool { return !h.m.c.keyLinks["clicks"].loading })
	// Shredded only: bob's link is not shown, so the selection moves to
	// the next row shown after it, alice's second.
	h.key("x")
	want = []string{
		"  " + a1 + "   2026-11-22 12:00   2026-11-23 12:00   2026-11-30 12:00   forgotten",
		"▸ " + a2 + "   2026-11-23 13:04   2026-11-24 13:04   2026-12-01 13:04   forgotten",
	}
	frame = h.frame()
	if got := tableRows(frame); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s\nframe:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), frame)
	}
	for _, line := range []string{"\nkey links of clicks · shredded only\n", "\n2 of 4 shown · shredded only\n"} {
		if !strings.Contains(frame, line) {
			t.Errorf("want %q in\n%s", line, frame)
		}
	}

	// The selection moves with the keys and the mouse, over the rows shown.
	for _, step := range []struct {
		key  string
		want string
	}{
		{"k", c.links[0]},
		{"up", c.links[0]},
		{"j", c.links[2]},
		{"g", c.links[0]},
		{"G", c.links[2]},
		{"x", c.links[2]}, // all links again: the selection stays
		{"k", c.links[1]},
		{"down", c.links[2]},
		{"end", c.links[3]},
		{"home", c.links[0]},
		{"click 2", c.links[2]}, // the third row
	} {
		if n, ok := strings.CutPrefix(step.key, "click "); ok {
			row := int(n[0] - '0')
			h.m.update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: keysTableTop + row})
		} else {
			h.key(step.key)
		}
		if h.m.keys.sel != step.want {
			t.Fatalf("after %s: selected %s, want %s", step.key, h.m.keys.sel, step.want)
		}
	}
	if h.m.keys.shreddedOnly {
		t.Fatal("x did not turn shredded only off")
	}
	// Enter shows the selected link's details under the table.
	h.key("enter")
	frame = h.frame()
	for _, line := range []string{
		"\nkey link  " + c.links[2] + "\n",
		"\nperiod    2026-11-23 13:04 → 2026-11-24 13:04, key expires 2026-12-01 13:04\n",
		"\nshredded  yes, 2026-11-23 13:06 (data subject forgotten)\n",
	} {
		if !strings.Contains(frame, line) {
			t.Errorf("want %q in\n%s", line, frame)
		}
	}
}

// From the tail, K selects the key link of the selected row; following,
// when no row is selected, it selects the first.
func TestKeyLinksFromTail(t *testing.T) {
	c := newClicked(t)
	h := sandboxHarness(t, c.sb, c.creds)
	tailClicks(t, h)
	openKeys(t, h)
	if h.m.keys.sel != c.links[0] {
		t.Fatalf("following: selected %s, want the first, %s", h.m.keys.sel, c.links[0])
	}
	h.key("esc")
	h.key("up") // offset 4: alice's second period
	openKeys(t, h)
	if h.m.keys.sel != c.links[2] {
		t.Fatalf("offset 4: selected %s, want %s", h.m.keys.sel, c.links[2])
	}
	// ? lists the keys of the screen, the bottom line the main ones.
	h.key("?")
	frame := h.frame()
	for _, want := range []string{"keys · key links clicks", "g     oldest", "G     newest", "x     shredded only on/off", "enter details on/off",
		"\n↑/k up • ↓/j down • x shredded • enter details • esc back • ? help • q quit"} {
		if !strings.Contains(frame, want) {
			t.Errorf("help lacks %q:\n%s", want, frame)
		}
	}
}

// A record whose key link the server no longer lists (its stream was
// dropped and created again since it was read) says so in the status line.
func TestKeyLinkNotFound(t *testing.T) {
	c := newClicked(t)
	h := sandboxHarness(t, c.sb, c.creds)
	tailClicks(t, h)
	h.key("up")
	cmd := h.key("enter")
	h.run(cmd, func() bool { return !h.m.c.keyLinks["clicks"].loading })
	ctx := context.Background()
	if _, err := c.sb.Streams.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "clicks"})); err != nil {
		t.Fatal(err)
	}
	c.sb.CreateStream("clicks")
	openKeys(t, h)
	lines := strings.Split(h.frame(), "\n")
	if got, want := lines[len(lines)-2], "key link "+shortKey(c.links[2])+" of offset 4 not found among the key links of clicks"; got != want {
		t.Fatalf("status line %q, want %q", got, want)
	}
	if got := lines[4]; got != "  no key links yet: the first event of each session creates one" {
		t.Fatalf("body %q", got)
	}
	// The next key clears it.
	h.key("j")
	if lines := strings.Split(h.frame(), "\n"); lines[len(lines)-2] != "" {
		t.Fatalf("status line %q after a key", lines[len(lines)-2])
	}
}

func TestGoldenKeys(t *testing.T) {
	c := newClicked(t)
	h := sandboxHarness(t, c.sb, c.creds)
	tailClicks(t, h)
	h.key("up")
	h.key("up") // offset 3: bob's first period
	h.key("enter")
	openKeys(t, h)
	if _, err := c.sb.Client.Keys.ForgetDataSubject(context.Background(), connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: "alice"})); err != nil {
		t.Fatal(err)
	}
	h.run(h.key("r"), func() bool { return !h.m.c.keyLinks["clicks"].loading })
	golden(t, "keys-selected", normalize(h.frame(), c.sb.URL))
	h.m.update(tea.WindowSizeMsg{Width: 160, Height: 48})
	golden(t, "keys-selected-160x48", normalize(h.frame(), c.sb.URL))
	h.key("x")
	golden(t, "keys-shredded-160x48", normalize(h.frame(), c.sb.URL))
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 24})
	golden(t, "keys-shredded", normalize(h.frame(), c.sb.URL))
}
