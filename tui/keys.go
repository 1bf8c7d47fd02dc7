package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// keysModel is the key links screen of one source stream, with the
// server's clock (rotation and shredding go by it).
type keysModel struct {
	c      *common
	stream string   // a source stream
	asked  string   // the stream the user picked (a derived one shows its source's keys)
	scroll scroller // a pager over the key links
}

// open shows the key links of st's source and reads them and the clock
// again.
func (s *keysModel) open(st *v1.Stream) tea.Cmd {
	s.stream, s.asked = sourceOf(st), st.GetName()
	s.scroll = scroller{pager: true}
	s.resize()
	return s.read()
}

func (s *keysModel) read() tea.Cmd {
	return tea.Batch(s.c.askKeyLinks(s.stream), s.c.client.clockCmd(s.c.ctx))
}

// resize: the table has the body less a title, the clock, the column
// titles and the totals.
func (s *keysModel) resize() { s.scroll.height = s.c.bodyHeight() - 4 }

func (s *keysModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		s.scroll.move(wheelDelta(msg))
	case tea.KeyPressMsg:
		if s.scroll.update(msg, s.c.keys) {
			return nil, nil
		}
		if key.Matches(msg, s.c.keys.retry) {
			return s.read(), nil
		}
	}
	return nil, nil
}

func (s *keysModel) title() string { return "key links " + s.stream }

func (s *keysModel) status() string { return "" }

func (s *keysModel) bindings() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down, k.retry}
}

func (s *keysModel) shortHelp() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down}
}

func (s *keysModel) keysSource() string { return s.stream }

func (s *keysModel) view(w, h int) []string {
	c, st := s.c, s.c.styles
	var lines []string
	title := "key links of " + s.stream
	if s.asked != s.stream {
		title += fmt.Sprintf(" (the source of %s)", s.asked)
	}
	lines = append(lines, st.title.Render(title))
	clock := "clock: real"
	if c.clock != nil && c.clock.Now != nil {
		clock = "clock " + c.fmtTime(c.clock.Now.AsTime(), "2006-01-02 15:04:05 MST")
		if c.clock.Virtual {
			clock += ", virtual: `strmlocal clock advance 25h` moves it"
		} else {
			clock += ", real"
		}
	}
	lines = append(lines, st.dim.Render(clock))
	ks := c.keyLinks[s.stream]
	switch {
	case ks == nil || (ks.loading && ks.links == nil && ks.err == ""):
		return append(lines, "", "  reading key links…")
	case ks.err != "":
		return append(lines, "", "  "+st.warn.Render(ks.err))
	case len(ks.links) == 0:
		return append(lines, "", "  no key links yet: the first event of each session creates one")
	}
	// Full key links when they fit, else their first 8 characters.
	keyW := 37
	if w < 2+keyW+4*17 {
		keyW = 10
	}
	const layout = "2006-01-02 15:04"
	head := pad("KEY LINK", keyW) + pad("CREATED", 18) + pad("ROTATES AT", 18) + pad("EXPIRES", 18) + "SHREDDED"
	lines = append(lines, st.colHead.Render(pad(head, w)))
	shredded := 0
	for _, k := range ks.links {
		if k.Shredded {
			shredded++
		}
	}
	rows := h - len(lines) - 1
	s.scroll.fit(len(ks.links), rows)
	for i := s.scroll.offset; i < len(ks.links) && i < s.scroll.offset+rows; i++ {
		k := ks.links[i]
		link := k.KeyLink
		if keyW < 37 {
			link = shortKey(link)
		}
		shred := "no"
		switch {
		case k.Forgotten:
			shred = "forgotten"
		case k.Shredded && k.ShredTime != nil:
			shred = "yes " + c.fmtTime(k.ShredTime.AsTime(), "01-02 15:04")
		case k.Shredded:
			shred = "yes"
		}
		line := pad(link, keyW) + pad(c.fmtTime(k.CreateTime.AsTime(), layout), 18) +
			pad(c.fmtTime(k.RotateTime.AsTime(), layout), 18) + pad(c.fmtTime(k.ExpireTime.AsTime(), layout), 18)
		if k.Shredded {
			line += st.errorText.Render(shred)
		} else {
			line += shred
		}
		lines = append(lines, line)
	}
	lines = append(lines, st.dim.Render(fmt.Sprintf("%d key links · %d live · %d shredded", len(ks.links), len(ks.links)-shredded, shredded)))
	return lines
}
