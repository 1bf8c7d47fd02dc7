package tui

import (
	"fmt"
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// sideModel is one offset of a source stream beside the same offset of one
// of its derived streams.
type sideModel struct {
	c        *common
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

// open shows offset of src beside the derived stream named pick (the
// first of derived when none is).
func (s *sideModel) open(src *v1.Stream, derived []*v1.Stream, pick string, offset uint64) tea.Cmd {
	di := slices.IndexFunc(derived, func(d *v1.Stream) bool { return d.Name == pick })
	// seq carries on: an answer to the previous side by side must not be
	// taken for this one's.
	*s = sideModel{
		c: s.c, source: src, derived: derived, di: max(di, 0), offset: offset, seq: s.seq,
		scroll: scroller{pager: true},
	}
	s.resize()
	return tea.Batch(s.fetch(), s.c.askKeyLinks(src.Name))
}

func (s *sideModel) resize() { s.scroll.height = s.c.bodyHeight() - 1 }

func (s *sideModel) fetch() tea.Cmd {
	s.seq++
	s.loading = true
	return s.c.client.sideCmd(s.c.ctx, s.seq, s.source.Name, s.derived[s.di].Name, s.offset)
}

func (s *sideModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	switch msg := msg.(type) {
	case sideMsg:
		return s.apply(msg), nil
	case tea.MouseWheelMsg:
		s.scroll.move(wheelDelta(msg))
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return nil, nil
}

func (s *sideModel) apply(msg sideMsg) tea.Cmd {
	if msg.seq != s.seq {
		return nil
	}
	s.loading = false
	s.left, s.right, s.leftErr, s.rightErr, s.end = msg.left, msg.right, msg.leftErr, msg.rightErr, msg.end
	var cmds []tea.Cmd
	for _, r := range []*v1.Record{msg.left, msg.right} {
		if r != nil {
			cmds = append(cmds, s.c.askContract(r.EventContractRef))
		}
	}
	return tea.Batch(cmds...)
}

func (s *sideModel) key(msg tea.KeyPressMsg) (tea.Cmd, tea.Msg) {
	k := s.c.keys
	if s.scroll.update(msg, k) {
		return nil, nil
	}
	switch {
	case key.Matches(msg, k.next):
		s.offset++
		s.scroll.offset = 0
		return s.fetch(), nil
	case key.Matches(msg, k.prev):
		if s.offset > 0 {
			s.offset--
			s.scroll.offset = 0
			return s.fetch(), nil
		}
	case key.Matches(msg, k.nextStream):
		s.di = (s.di + 1) % len(s.derived)
		return s.fetch(), nil
	case key.Matches(msg, k.prevStream):
		s.di = (s.di + len(s.derived) - 1) % len(s.derived)
		return s.fetch(), nil
	case key.Matches(msg, k.retry):
		return s.fetch(), nil
	case key.Matches(msg, k.keys):
		return nil, openKeysMsg{stream: s.source, rec: s.left}
	case key.Matches(msg, k.enter):
		if s.right != nil {
			return nil, openDetailMsg{stream: s.derived[s.di], rec: s.right}
		}
		if s.left != nil {
			return nil, openDetailMsg{stream: s.source, rec: s.left}
		}
	}
	return nil, nil
}

func (s *sideModel) title() string { return "side by side " + s.source.GetName() }

func (s *sideModel) status() string { return s.c.styles.dim.Render(legend) }

func (s *sideModel) bindings() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.next, k.prev, k.nextStream, k.prevStream, k.up, k.down, k.enter,
		brief(k.keys, "K", "key links, at this offset's")}
}

func (s *sideModel) shortHelp() []key.Binding {
	k := s.c.keys
	return []key.Binding{brief(k.next, "→/n", "next"), brief(k.prev, "←/p", "previous"), brief(k.nextStream, "tab", "next stream")}
}

func (s *sideModel) keysSource() string { return s.source.GetName() }

// droppedReason says why a derived stream does not show an event with
// these consent levels, by the consent rules in docs/tui.md (Side by
// side).
func droppedReason(d *v1.Stream, consent []int32) string {
	if d.EmitFilter != "" && consentKeeps(d, consent) {
		return "dropped: emit filter " + d.EmitFilter
	}
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

// consentKeeps reports whether d's consent rules keep an event with these
// levels (engine.View.Keeps, on the stream as the API shows it).
func consentKeeps(d *v1.Stream, consent []int32) bool {
	if len(consent) == 0 || len(d.Levels) == 0 {
		return false
	}
	if d.ConsentType == v1.ConsentType_CONSENT_TYPE_GRANULAR {
		for _, l := range d.Levels {
			if !slices.Contains(consent, l) {
				return false
			}
		}
		return true
	}
	return len(d.Levels) == 1 && slices.Max(consent) >= d.Levels[0]
}

func (s *sideModel) view(w, h int) []string {
	st := s.c.styles
	d := s.derived[s.di]
	paneW := (w - 3) / 2
	head := st.title.Render(fmt.Sprintf("offset %d", s.offset)) + st.dim.Render(fmt.Sprintf(" · %s (encrypted) beside %s (%s)", s.source.Name, d.Name, consentText(d)))
	if len(s.derived) > 1 {
		head += st.dim.Render(fmt.Sprintf(" · %d/%d tab", s.di+1, len(s.derived)))
	}
	left := s.pane(s.source, s.left, s.leftErr, paneW, "")
	reason := ""
	if s.right == nil && s.rightErr == "" && s.left != nil {
		reason = droppedReason(d, s.left.ConsentLevels)
	}
	right := s.pane(d, s.right, s.rightErr, paneW, reason)
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
func (s *sideModel) pane(st *v1.Stream, rec *v1.Record, errText string, w int, dropped string) []string {
	sty := s.c.styles
	lines := []string{sty.title.Render(ansi.Truncate(st.Name, w, "…"))}
	switch {
	case s.loading && rec == nil && errText == "":
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
		if s.offset >= s.end {
			return append(lines, sty.dim.Render(fmt.Sprintf("no event at offset %d yet (the stream ends at %d)", s.offset, s.end)))
		}
		return append(lines, sty.dim.Render(fmt.Sprintf("no event at offset %d", s.offset)))
	}
	derived := st.DerivedFrom != ""
	meta := "consent " + consentList(rec.ConsentLevels) + " · key " + shortKey(rec.KeyLink)
	lines = append(lines, sty.dim.Render(meta))
	if k := s.c.keyLinks[s.source.Name]; k != nil && k.byID[rec.KeyLink].GetShredded() || rec.Shredded {
		lines = append(lines, sty.errorText.Render("key shredded: stays encrypted"))
	} else if derived {
		lines = append(lines, sty.dim.Render(fmt.Sprintf("%d decrypted · %d masked · %d encrypted", len(rec.Decrypted), len(rec.Masked), len(rec.Encrypted))))
	} else {
		lines = append(lines, sty.dim.Render("as stored: every PII value encrypted"))
	}
	return append(lines, s.c.jsonLines(rec, map[string]bool{"strmMeta": true}, w)...)
}
