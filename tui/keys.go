package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// keysState is the key links screen of one source stream.
type keysState struct {
	stream string   // a source stream
	asked  string   // the stream the user picked (a derived one shows its source's keys)
	scroll scroller // a pager over the key links
}

func (m *Model) openKeys(st *v1.Stream) tea.Cmd {
	m.keys = keysState{stream: m.sourceOf(st), asked: st.GetName(), scroll: scroller{pager: true, height: m.c.height - 7}}
	m.open(screenKeys)
	return tea.Batch(m.askKeyLinks(m.keys.stream), m.c.client.clockCmd(m.ctx))
}

func (m *Model) keysKey(msg tea.KeyPressMsg) tea.Cmd {
	k, s := m.c.keys, &m.keys
	if s.scroll.update(msg, k) {
		return nil
	}
	switch {
	case key.Matches(msg, k.retry):
		return tea.Batch(m.askKeyLinks(s.stream), m.c.client.clockCmd(m.ctx))
	}
	return nil
}

func (m *Model) keysBody(w, h int) []string {
	s, st := &m.keys, m.c.styles
	var lines []string
	title := "key links of " + s.stream
	if s.asked != s.stream {
		title += fmt.Sprintf(" (the source of %s)", s.asked)
	}
	lines = append(lines, st.title.Render(title))
	clock := "clock: real"
	if m.clock != nil && m.clock.Now != nil {
		clock = "clock " + m.fmtTime(m.clock.Now.AsTime(), "2006-01-02 15:04:05 MST")
		if m.clock.Virtual {
			clock += ", virtual: `strmlocal clock advance 25h` moves it"
		} else {
			clock += ", real"
		}
	}
	lines = append(lines, st.dim.Render(clock))
	ks := m.keyLinks[s.stream]
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
			shred = "yes " + m.fmtTime(k.ShredTime.AsTime(), "01-02 15:04")
		case k.Shredded:
			shred = "yes"
		}
		line := pad(link, keyW) + pad(m.fmtTime(k.CreateTime.AsTime(), layout), 18) +
			pad(m.fmtTime(k.RotateTime.AsTime(), layout), 18) + pad(m.fmtTime(k.ExpireTime.AsTime(), layout), 18)
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
