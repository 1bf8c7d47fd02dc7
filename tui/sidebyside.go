package tui

import (
	"fmt"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// sideState is one offset of a source stream beside the same offset of one
// of its derived streams.
type sideState struct {
	source   *v1.Stream
	derived  []*v1.Stream
	di       int // the derived stream shown
	offset   uint64
	seq      int // the request whose answer is awaited
	loading  bool
	left     *v1.Record
	right    *v1.Record
	leftErr  string
	rightErr string
	end      uint64
	scroll   scroller // a pager over the panes' lines
}

// openSide shows offset of st's source beside st (a derived stream), or
// beside st's first derived stream when st is a source.
func (m *Model) openSide(st *v1.Stream, offset uint64) tea.Cmd {
	src := st
	if st.GetDerivedFrom() != "" {
		src = m.streams.byName[st.DerivedFrom]
		if src == nil {
			src = &v1.Stream{Name: st.DerivedFrom}
		}
	}
	derived := m.streams.derivedOf(src.Name)
	if len(derived) == 0 && st.GetDerivedFrom() != "" {
		derived = []*v1.Stream{st}
	}
	if len(derived) == 0 {
		m.status = m.c.styles.warn.Render(fmt.Sprintf("%s has no derived streams: create one with `strmlocal create stream --derived-from %s --levels 2`", src.Name, src.Name))
		return nil
	}
	di := slices.IndexFunc(derived, func(d *v1.Stream) bool { return d.Name == st.Name })
	m.side = sideState{
		source: src, derived: derived, di: max(di, 0), offset: offset, seq: m.side.seq,
		scroll: scroller{pager: true, height: m.c.height - 4},
	}
	m.open(screenSide)
	return tea.Batch(m.fetchSide(), m.askKeyLinks(src.Name))
}

func (m *Model) fetchSide() tea.Cmd {
	s := &m.side
	s.seq++
	s.loading = true
	return m.c.client.sideCmd(m.ctx, s.seq, s.source.Name, s.derived[s.di].Name, s.offset)
}

func (m *Model) applySide(msg sideMsg) tea.Cmd {
	s := &m.side
	if msg.seq != s.seq {
		return nil
	}
	s.loading = false
	s.left, s.right, s.leftErr, s.rightErr, s.end = msg.left, msg.right, msg.leftErr, msg.rightErr, msg.end
	var cmds []tea.Cmd
	for _, r := range []*v1.Record{msg.left, msg.right} {
		if r != nil {
			cmds = append(cmds, m.askContract(r.EventContractRef))
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) sideKey(msg tea.KeyPressMsg) tea.Cmd {
	k, s := m.c.keys, &m.side
	if s.scroll.update(msg, k) {
		return nil
	}
	switch {
	case key.Matches(msg, k.next):
		s.offset++
		s.scroll.offset = 0
		return m.fetchSide()
	case key.Matches(msg, k.prev):
		if s.offset > 0 {
			s.offset--
			s.scroll.offset = 0
			return m.fetchSide()
		}
	case key.Matches(msg, k.nextStream):
		s.di = (s.di + 1) % len(s.derived)
		return m.fetchSide()
	case key.Matches(msg, k.prevStream):
		s.di = (s.di + len(s.derived) - 1) % len(s.derived)
		return m.fetchSide()
	case key.Matches(msg, k.retry):
		return m.fetchSide()
	case key.Matches(msg, k.keys):
		return m.openKeys(s.source)
	case key.Matches(msg, k.enter):
		if s.right != nil {
			return m.openDetail(s.derived[s.di], s.right)
		}
		if s.left != nil {
			return m.openDetail(s.source, s.left)
		}
	}
	return nil
}

// droppedReason says why a derived stream does not show an event with
// these consent levels (SPEC §6).
func droppedReason(d *v1.Stream, consent []int32) string {
	c := consentList(consent)
	if d.ConsentType == v1.ConsentType_CONSENT_TYPE_GRANULAR {
		var missing []int32
		for _, l := range d.Levels {
			if !slices.Contains(consent, l) {
				missing = append(missing, l)
			}
		}
		switch {
		case len(consent) == 0 && len(missing) == 0:
			return "dropped: consent [] allows no PII to be decrypted"
		case len(missing) == 1:
			return fmt.Sprintf("dropped: consent %s does not cover level %d", c, missing[0])
		case len(missing) > 1:
			return fmt.Sprintf("dropped: consent %s does not cover levels %s", c, levelsText(missing, ", "))
		}
		return "dropped by the stream's consent rules"
	}
	if len(d.Levels) == 1 {
		return fmt.Sprintf("dropped: consent %s does not cover level %d", c, d.Levels[0])
	}
	return "dropped by the stream's consent rules"
}

func (m *Model) sideBody(w, h int) []string {
	s, st := &m.side, m.c.styles
	d := s.derived[s.di]
	paneW := (w - 3) / 2
	head := st.title.Render(fmt.Sprintf("offset %d", s.offset)) + st.dim.Render(fmt.Sprintf(" · %s (encrypted) beside %s (%s)", s.source.Name, d.Name, consentText(d)))
	if len(s.derived) > 1 {
		head += st.dim.Render(fmt.Sprintf(" · %d/%d tab", s.di+1, len(s.derived)))
	}
	left := m.pane(s.source, s.left, s.leftErr, paneW, "")
	reason := ""
	if s.right == nil && s.rightErr == "" && s.left != nil {
		reason = droppedReason(d, s.left.ConsentLevels)
	}
	right := m.pane(d, s.right, s.rightErr, paneW, reason)
	rows := max(len(left), len(right))
	s.scroll.fit(rows, h-1)
	lines := []string{head}
	sep := st.dim.Render(" │ ")
	for i := s.scroll.offset; i < rows && len(lines) < h; i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		lines = append(lines, pad(l, paneW)+sep+r)
	}
	return lines
}

// pane renders one side: a title, the key link, and the event as JSON with
// strmMeta collapsed (its consent and key are in the title).
func (m *Model) pane(st *v1.Stream, rec *v1.Record, errText string, w int, dropped string) []string {
	sty := m.c.styles
	lines := []string{sty.title.Render(ansi.Truncate(st.Name, w, "…"))}
	switch {
	case m.side.loading && rec == nil && errText == "":
		return append(lines, sty.dim.Render("reading…"))
	case errText != "":
		for _, l := range wrap(errText, w) {
			lines = append(lines, sty.warn.Render(l))
		}
		return lines
	case rec == nil && dropped != "":
		for _, l := range wrap(dropped, w) {
			lines = append(lines, sty.warn.Render(l))
		}
		return lines
	case rec == nil:
		if m.side.offset >= m.side.end {
			return append(lines, sty.dim.Render(fmt.Sprintf("no event at offset %d yet (the stream ends at %d)", m.side.offset, m.side.end)))
		}
		return append(lines, sty.dim.Render(fmt.Sprintf("no event at offset %d", m.side.offset)))
	}
	derived := st.DerivedFrom != ""
	meta := "consent " + consentList(rec.ConsentLevels) + " · key " + shortKey(rec.KeyLink)
	lines = append(lines, sty.dim.Render(meta))
	if k := m.keyLinks[m.side.source.Name]; k != nil && k.byID[rec.KeyLink].GetShredded() || rec.Shredded {
		lines = append(lines, sty.errorText.Render("key shredded: stays encrypted"))
	} else if derived {
		lines = append(lines, sty.dim.Render(fmt.Sprintf("%d decrypted · %d masked · %d encrypted", len(rec.Decrypted), len(rec.Masked), len(rec.Encrypted))))
	} else {
		lines = append(lines, sty.dim.Render("as stored: every PII value encrypted"))
	}
	return append(lines, m.jsonLines(rec, derived, map[string]bool{"strmMeta": true}, w)...)
}
