package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// keysModel is the key links screen of one source stream, with the
// server's clock (rotation and shredding go by it). It is a list: the
// selected key link is highlighted and, with enter, described below the
// table; x shows the shredded links only.
type keysModel struct {
	c      *common
	stream string // a source stream
	asked  string // the stream the user picked (a derived one shows its source's keys)
	// gen counts opens, so that the answer to an earlier open's read is
	// not taken for this one's.
	gen int
	// want is the event whose key link is to be selected once the key
	// links read at open are in; nil when there is none to look for.
	want *v1.Record
	// sel is the selected key link ("" the first row shown). It is an ID,
	// not a row, so that it stays put when a refresh adds links.
	sel          string
	shreddedOnly bool
	details      bool     // the selected link's details under the table
	scroll       scroller // a list over the links shown; its cursor is sel's row
	// filtered are the shredded links of filteredOf, the key links they
	// were taken from (see shown).
	filtered, filteredOf []*v1.KeyLink
}

// keysReadMsg is the answer to the read of a keysModel open (or r): the
// key links, which common learns, and the open they belong to.
type keysReadMsg struct {
	gen   int
	links keyLinksMsg
}

// open shows the key links of st's source and reads them and the clock
// again. With rec, rec's key link is selected: at once if the key links
// known hold it, and again by the read's answer; if that does not hold it,
// the status line says so.
func (s *keysModel) open(st *v1.Stream, rec *v1.Record) tea.Cmd {
	s.stream, s.asked = sourceOf(st), st.GetName()
	s.gen++
	s.want, s.sel, s.shreddedOnly, s.details = nil, "", false, false
	s.scroll, s.filtered, s.filteredOf = scroller{}, nil, nil
	if rec != nil && rec.KeyLink != "" {
		s.want = rec
		s.resolve(false)
	}
	s.resize()
	return s.read()
}

func (s *keysModel) read() tea.Cmd {
	gen, ask := s.gen, s.c.askKeyLinks(s.stream)
	read := func() tea.Msg {
		msg, _ := ask().(keyLinksMsg)
		return keysReadMsg{gen: gen, links: msg}
	}
	return tea.Batch(read, s.c.client.clockCmd(s.c.ctx))
}

// resolve selects the wanted event's key link if the known key links hold
// it. Final is the answer to this open's read: the wish ends there, and if
// that answer lacks the link (the key links known before may be older
// than the stream, which can have been dropped and created again since),
// it returns the status line that says so.
func (s *keysModel) resolve(final bool) tea.Msg {
	want := s.want
	if want == nil {
		return nil
	}
	if final {
		s.want = nil
	}
	if ks := s.c.keyLinks[s.stream]; ks != nil && ks.byID[want.KeyLink] != nil {
		s.sel = want.KeyLink
		s.sync()
		return nil
	}
	if !final {
		return nil
	}
	return statusMsg{s.c.styles.warn.Render(fmt.Sprintf("key link %s of offset %d not found among the key links of %s",
		shortKey(want.KeyLink), want.Offset, s.stream))}
}

// rows is how many table rows fit: the body less the title, the clock,
// the column titles and the totals, and the details when they are open.
func (s *keysModel) rows() int {
	n := s.c.bodyHeight() - 4
	if s.details {
		n -= keysDetailLines
	}
	return max(1, n)
}

// keysDetailLines is the height of the details: a blank line and the
// three of keyDetails (key link, period, shredded).
const keysDetailLines = 4

func (s *keysModel) resize() {
	s.scroll.height = s.rows()
	s.sync()
}

// shown returns the key links the table lists (all, or the shredded
// ones) and the row of the selection among them: sel's own, or when the
// filter hides sel the next row shown after it (the last if none is).
// Every key and frame asks, so the shredded ones are kept until the key
// links change, and the scroller's cursor is tried first: it is sel's row
// unless the links changed.
func (s *keysModel) shown() ([]*v1.KeyLink, int) {
	ks := s.c.keyLinks[s.stream]
	if ks == nil {
		return nil, 0
	}
	links := ks.links
	if s.shreddedOnly {
		if len(s.filteredOf) != len(ks.links) || len(ks.links) > 0 && &s.filteredOf[0] != &ks.links[0] {
			s.filteredOf, s.filtered = ks.links, nil
			for _, k := range ks.links {
				if k.Shredded {
					s.filtered = append(s.filtered, k)
				}
			}
		}
		links = s.filtered
	}
	if c := s.scroll.cursor; c < len(links) && links[c].KeyLink == s.sel {
		return links, c
	}
	cursor, n := 0, 0
	for _, k := range ks.links {
		if k.KeyLink == s.sel {
			cursor = n
			break
		}
		if !s.shreddedOnly || k.Shredded {
			n++
		}
	}
	return links, max(0, min(cursor, len(links)-1))
}

// sync moves the selection onto a row shown and the window to it.
func (s *keysModel) sync() {
	links, cur := s.shown()
	if len(links) > 0 {
		s.sel = links[cur].KeyLink
	}
	s.scroll.cursor = cur
	s.scroll.fit(len(links), s.rows())
}

// moveBy lets f move the selection (a key, the wheel, a click) and reports
// whether f took the input.
func (s *keysModel) moveBy(f func(*scroller) bool) bool {
	links, cur := s.shown()
	sc := s.scroll
	sc.len, sc.height, sc.cursor = len(links), s.rows(), cur
	if !f(&sc) {
		return false
	}
	s.scroll = sc
	if len(links) > 0 {
		s.sel = links[sc.cursor].KeyLink
	}
	s.sync()
	return true
}

// keysTableTop is the first terminal row of the table: below the header
// line, the title, the clock and the column titles.
const keysTableTop = 4

func (s *keysModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	k := s.c.keys
	switch msg := msg.(type) {
	case keysReadMsg:
		// An error keeps the wish: the view shows the error, and r reads
		// again.
		if msg.gen != s.gen || msg.links.err != "" {
			return nil, nil
		}
		out := s.resolve(true)
		s.sync()
		return nil, out
	case tea.MouseWheelMsg:
		s.moveBy(func(sc *scroller) bool { sc.move(wheelDelta(msg)); return true })
	case tea.MouseClickMsg:
		s.moveBy(func(sc *scroller) bool { return sc.click(msg.Y - keysTableTop) })
	case tea.KeyPressMsg:
		if s.moveBy(func(sc *scroller) bool { return sc.update(msg, k) }) {
			return nil, nil
		}
		switch {
		case key.Matches(msg, k.shredded):
			s.shreddedOnly = !s.shreddedOnly
			s.sync()
		case key.Matches(msg, k.enter):
			s.details = !s.details
			s.resize()
		case key.Matches(msg, k.retry):
			return s.read(), nil
		}
	}
	return nil, nil
}

func (s *keysModel) title() string { return "key links " + s.stream }

func (s *keysModel) status() string { return "" }

func (s *keysModel) bindings() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down, brief(k.top, "g", "oldest"), brief(k.bottom, "G", "newest"),
		k.shredded, brief(k.enter, "enter", "details on/off"), k.retry}
}

func (s *keysModel) shortHelp() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down, brief(k.shredded, "x", "shredded"), brief(k.enter, "enter", "details")}
}

func (s *keysModel) keysSource() string { return s.stream }

// Columns of the key links table. A row is a gutter (the selection's
// marker), the key link (in full when the wide form of the table fits,
// else its first 8 characters), three times and the shredded state; the
// width left is shared evenly among the columns before the last, as in the
// tail.
const (
	kcolGutter   = 2  // "▸ "
	kcolFullLink = 37 // a UUID and a space
	kcolLink     = 10 // 8 characters, an ellipsis and a space
	kcolTime     = 17 // "2006-01-02 15:04" and a space
)

func (s *keysModel) view(w, h int) []string {
	c, st := s.c, s.c.styles
	var lines []string
	title := "key links of " + s.stream
	if s.asked != s.stream {
		title += fmt.Sprintf(" (the source of %s)", s.asked)
	}
	if s.shreddedOnly {
		title += " · shredded only"
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
	links, cur := s.shown()
	rows := max(1, h-len(lines)-2)
	if s.details && len(links) > 0 {
		rows = max(1, rows-keysDetailLines)
	}
	s.scroll.cursor = cur
	s.scroll.fit(len(links), rows)
	var onScreen []*v1.KeyLink
	if len(links) > 0 {
		onScreen = links[s.scroll.offset:min(len(links), s.scroll.offset+rows)]
	}

	// The wide form (full key links, shred times with their year) when it
	// fits the rows on screen, else the narrow one.
	wide := true
	shredW := 0
	for _, form := range []bool{true, false} {
		wide, shredW = form, len("SHREDDED")
		for _, k := range onScreen {
			shredW = max(shredW, ansi.StringWidth(c.keyShredText(k, wide)))
		}
		if !wide || kcolGutter+kcolFullLink+3*kcolTime+shredW <= w {
			break
		}
	}
	widths := []int{kcolLink, kcolTime, kcolTime, kcolTime}
	if wide {
		widths[0] = kcolFullLink
	}
	// The remainder stays at the end of the row, so that the gaps are even.
	if spare := w - kcolGutter - widths[0] - 3*kcolTime - shredW; spare > 0 {
		for i := range widths {
			widths[i] += spare / len(widths)
		}
	}
	head := "  " + pad("KEY LINK", widths[0]) + pad("CREATED", widths[1]) + pad("ROTATES AT", widths[2]) + pad("EXPIRES", widths[3]) + "SHREDDED"
	lines = append(lines, st.colHead.Render(pad(head, w)))

	const layout = "2006-01-02 15:04"
	for i, k := range onScreen {
		link := k.KeyLink
		if !wide {
			link = shortKey(link)
		}
		line := pad(link, widths[0]) + pad(c.fmtTime(k.CreateTime.AsTime(), layout), widths[1]) +
			pad(c.fmtTime(k.RotateTime.AsTime(), layout), widths[2]) + pad(c.fmtTime(k.ExpireTime.AsTime(), layout), widths[3])
		shred := c.keyShredText(k, wide)
		if s.scroll.offset+i == cur {
			lines = append(lines, st.selected.Render(pad("▸ "+line+shred, w)))
			continue
		}
		if k.Shredded {
			shred = st.errorText.Render(shred)
		}
		lines = append(lines, "  "+line+shred)
	}
	if len(links) == 0 {
		lines = append(lines, "  no shredded key links: retention and forgetting a data subject shred them")
	}
	shredded := 0
	for _, k := range ks.links {
		if k.Shredded {
			shredded++
		}
	}
	if s.details && len(links) > 0 {
		lines = append(lines, "")
		lines = append(lines, c.keyDetails(links[cur], w)...)
	}
	total := fmt.Sprintf("%d key links · %d live · %d shredded", len(ks.links), len(ks.links)-shredded, shredded)
	if s.shreddedOnly {
		total = fmt.Sprintf("%d of %d shown · shredded only", len(links), len(ks.links))
	}
	return append(lines, st.dim.Render(total))
}

// keyDetails are the keysDetailLines-1 lines that describe k in width w:
// the key link in full, its period and whether it is shredded, and when
// and why. The API does not say whose a key link is: it keeps data
// subjects only as keyed hashes.
func (c *common) keyDetails(k *v1.KeyLink, w int) []string {
	st := c.styles
	const layout = "2006-01-02 15:04"
	lines := []string{
		"key link  " + st.key.Render(k.KeyLink),
		fmt.Sprintf("period    %s → %s, key expires %s",
			c.fmtTime(k.CreateTime.AsTime(), layout), c.fmtTime(k.RotateTime.AsTime(), layout), c.fmtTime(k.ExpireTime.AsTime(), layout)),
	}
	if !k.Shredded {
		return append(lines, "shredded  no")
	}
	shred := "shredded  " + c.shredText(k)
	if long := shred + ": its events' PII can never be decrypted"; ansi.StringWidth(long) <= w {
		shred = long
	}
	return append(lines, st.errorText.Render(shred))
}

// keyShredText is a key link's SHREDDED cell: "no", "yes" and when, or
// "forgotten" (its data subject was) and, in the wide form, when.
func (c *common) keyShredText(k *v1.KeyLink, wide bool) string {
	layout := "01-02 15:04"
	if wide {
		layout = "2006-01-02 15:04"
	}
	switch {
	case !k.Shredded:
		return "no"
	case k.ShredTime == nil && k.Forgotten:
		return "forgotten"
	case k.ShredTime == nil:
		return "yes"
	case k.Forgotten && !wide:
		return "forgotten"
	case k.Forgotten:
		return "forgotten " + c.fmtTime(k.ShredTime.AsTime(), layout)
	}
	return "yes " + c.fmtTime(k.ShredTime.AsTime(), layout)
}
