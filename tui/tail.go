package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// tailState is the live table of one stream's events.
type tailState struct {
	stream  *v1.Stream
	gen     int
	t       *tailer
	ring    *ring
	opening bool
	waiting bool // a waitCmd of this tail is outstanding
	// held are records that arrived while paused with a full ring: they
	// enter it when following resumes.
	held     []*v1.Record
	follow   bool
	sel      uint64   // seq of the selected row when not following
	scroll   scroller // over the visible list; its cursor is sel's index
	finished bool
	err      string
	from     string // where this tail started, for the status line
}

// startTail opens the tail screen on a stream and starts reading.
func (m *Model) startTail(st *v1.Stream, start tailStart) tea.Cmd {
	m.open(screenTail)
	return m.restartTail(st, start)
}

// restartTail (re)starts reading st from start into an empty table.
func (m *Model) restartTail(st *v1.Stream, start tailStart) tea.Cmd {
	m.stopTail()
	t := &m.tail
	t.stream = st
	t.gen++
	t.ring.clear()
	t.ring.base = t.ring.end() + 1 // seqs of the old tail never match
	t.held, t.finished, t.err, t.scroll.offset = nil, false, "", 0
	t.opening, t.waiting = true, false
	t.sel = t.ring.base
	switch {
	case start.offset != nil:
		t.follow, t.from = false, "from offset "+strconv.FormatUint(*start.offset, 10)
	case start.time != nil:
		t.follow, t.from = false, "from "+m.fmtTime(*start.time, "2006-01-02 15:04:05")
	default:
		t.follow, t.from = true, fmt.Sprintf("last %s", thousands(uint64(start.history)))
	}
	return m.c.client.openTailCmd(m.ctx, m.c.tails, t.gen, st.Name, start, m.c.opts.History)
}

// stopTail cancels the running tail, if any, without waiting for its
// reader (Close joins it), and voids every message of it still on the way.
func (m *Model) stopTail() {
	if m.tail.t != nil {
		m.tail.t.stop()
		m.tail.t = nil
	}
	m.tail.gen++ // messages of the stopped tail are ignored
	m.tail.waiting, m.tail.opening = false, false
}

func (m *Model) applyTailOpened(msg tailOpenedMsg) tea.Cmd {
	if msg.gen != m.tail.gen {
		if msg.t != nil {
			msg.t.stop()
		}
		return nil
	}
	m.tail.opening = false
	if msg.err != "" {
		m.tail.err, m.tail.finished = msg.err, true
		return nil
	}
	m.tail.t = msg.t
	m.tail.waiting = true
	return msg.t.waitCmd(m.tail.gen, m.c.frame)
}

func (m *Model) applyTailBatch(msg tailBatchMsg) tea.Cmd {
	t := &m.tail
	if msg.gen != t.gen {
		return nil
	}
	t.waiting = false
	cmds := m.contractsOf(msg.recs)
	m.tailAppend(msg.recs)
	if msg.finished {
		t.finished, t.err = true, msg.err
		return tea.Batch(cmds...)
	}
	cmds = append(cmds, m.tailWait())
	return tea.Batch(cmds...)
}

// contractsOf asks for the contracts of records not known yet.
func (m *Model) contractsOf(recs []*v1.Record) []tea.Cmd {
	var cmds []tea.Cmd
	last := ""
	for _, r := range recs {
		if r.EventContractRef == last {
			continue
		}
		last = r.EventContractRef
		if c := m.askContract(last); c != nil {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// tailWait asks for the next batch unless one is awaited or the UI cannot
// take more (paused with a full table).
func (m *Model) tailWait() tea.Cmd {
	t := &m.tail
	if t.t == nil || t.waiting || t.finished || len(t.held) > 0 {
		return nil
	}
	if !t.follow && t.ring.full() {
		return nil
	}
	t.waiting = true
	return t.t.waitCmd(t.gen, m.c.frame)
}

// tailAppend adds records to the table. Following, the oldest rows make
// room; paused, rows beyond the table's room are held back so that the
// rows being looked at stay.
func (m *Model) tailAppend(recs []*v1.Record) {
	t := &m.tail
	if !t.follow {
		n := min(len(recs), t.ring.room())
		for _, r := range recs[:n] {
			t.ring.push(r)
		}
		t.held = append(t.held, recs[n:]...)
		m.tailKeepVisible()
		return
	}
	// Only the newest rows the table holds matter.
	if extra := len(recs) - len(t.ring.buf); extra > 0 {
		recs = recs[extra:]
	}
	for _, r := range recs {
		t.ring.push(r)
	}
	m.tailKeepVisible()
}

// tailRows is how many table rows fit: the body less the column titles.
func (m *Model) tailRows() int { return max(1, m.c.height-3-1) }

// tailKeepVisible makes the selection valid and visible.
func (m *Model) tailKeepVisible() {
	t, s := &m.tail, &m.tail.scroll
	n := t.ring.visibleLen()
	h := m.tailRows()
	if t.follow || n == 0 {
		if n > 0 {
			t.sel = t.ring.visibleAt(n - 1)
		}
		s.len, s.height, s.cursor, s.offset = n, h, max(0, n-1), max(0, n-h)
		return
	}
	s.cursor = t.ring.visibleIndex(t.sel)
	t.sel = t.ring.visibleAt(s.cursor)
	s.fit(n, h)
}

// tailScroll lets f move the selection (a key, the wheel, a click) and
// reports whether f took the input. Following, the selection starts on
// the newest row; moving it pauses. With no rows there is nothing to move.
func (m *Model) tailScroll(f func(*scroller) bool) bool {
	t := &m.tail
	n := t.ring.visibleLen()
	s := t.scroll
	s.len, s.height, s.cursor = n, m.tailRows(), n-1
	if !t.follow {
		s.cursor = t.ring.visibleIndex(t.sel)
	}
	if !f(&s) {
		return false
	}
	if n == 0 {
		return true
	}
	t.scroll, t.follow, t.sel = s, false, t.ring.visibleAt(s.cursor)
	m.tailKeepVisible()
	return true
}

// tailMove moves the selection by delta rows; moving pauses following.
func (m *Model) tailMove(delta int) {
	m.tailScroll(func(s *scroller) bool { s.move(delta); return true })
}

func (m *Model) tailClickRow(i int) {
	m.tailScroll(func(s *scroller) bool { return s.click(i) })
}

// setFollow resumes (or pauses) following the newest events.
func (m *Model) setFollow(on bool) tea.Cmd {
	t := &m.tail
	if !on {
		if t.follow {
			t.follow = false
			m.tailKeepVisible()
		}
		return nil
	}
	t.follow = true
	held := t.held
	t.held = nil
	m.tailAppend(held)
	m.tailKeepVisible()
	return m.tailWait()
}

// selectedRecord is the record under the selection, if any.
func (m *Model) selectedRecord() *v1.Record {
	t := &m.tail
	if t.ring.visibleLen() == 0 || !t.ring.held(t.sel) {
		return nil
	}
	return t.ring.at(t.sel).rec
}

func (m *Model) tailKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.c.keys, &m.tail
	// The newest row is following, not a place the selection moves to.
	if key.Matches(msg, k.bottom) {
		return m.setFollow(true)
	}
	if m.tailScroll(func(s *scroller) bool { return s.update(msg, k) }) {
		if key.Matches(msg, k.top) && t.ring.visibleLen() > 0 && t.ring.base > 0 {
			m.status = fmt.Sprintf("oldest row in memory; : jumps to an earlier offset")
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.follow):
		return m.setFollow(!t.follow)
	case key.Matches(msg, k.jumpOffset):
		m.prompt = newPrompt(promptOffset, "jump to offset")
	case key.Matches(msg, k.jumpTime):
		m.prompt = newPrompt(promptTime, "jump to time (RFC 3339, or 15:04:05 today)")
	case key.Matches(msg, k.filter):
		m.prompt = newPrompt(promptFilter, "filter field=value (empty clears)")
		if t.ring.filter != nil {
			m.prompt.value = []rune(t.ring.filter.text)
		}
	case key.Matches(msg, k.retry):
		if t.finished {
			return m.restartTail(t.stream, tailStart{history: m.c.opts.History})
		}
	case key.Matches(msg, k.enter):
		if r := m.selectedRecord(); r != nil {
			return m.openDetail(t.stream, r)
		}
	case key.Matches(msg, k.side):
		if r := m.selectedRecord(); r != nil {
			return m.openSide(t.stream, r.Offset)
		}
	case key.Matches(msg, k.keys):
		return m.openKeys(t.stream)
	}
	return nil
}

// jumpOffset selects the row at offset if it is held, and otherwise
// starts the tail there.
func (m *Model) jumpOffset(off uint64) tea.Cmd {
	t := &m.tail
	if seq, ok := t.ring.findOffset(off); ok {
		t.follow, t.sel = false, seq
		if t.ring.filter != nil {
			m.status = "filter on: the nearest matching row is selected"
		}
		m.tailKeepVisible()
		return nil
	}
	return m.restartTail(t.stream, tailStart{offset: &off})
}

func (m *Model) jumpTime(at time.Time) tea.Cmd {
	t := &m.tail
	if seq, ok := t.ring.findTime(at); ok {
		t.follow, t.sel = false, seq
		m.tailKeepVisible()
		return nil
	}
	return m.restartTail(t.stream, tailStart{time: &at})
}

// Columns of the tail table; FIELDS takes the rest.
const (
	tcolOffset  = 9
	tcolTime    = 13
	tcolKeyLink = 10
	tcolConsent = 10
)

func (m *Model) tailBody(w, h int) []string {
	t, st := &m.tail, m.c.styles
	head := lpad("OFFSET", tcolOffset) + " " + pad("TIME", tcolTime) + pad("KEY LINK", tcolKeyLink) + pad("CONSENT", tcolConsent)
	n := t.ring.visibleLen()
	fieldsW := w - tcolOffset - 1 - tcolTime - tcolKeyLink - tcolConsent
	var shown []*row
	top := t.scroll.offset
	for i := top; i < n && i < top+h-1; i++ {
		shown = append(shown, t.ring.at(t.ring.visibleAt(i)))
	}
	cols := m.fieldColumns(shown, fieldsW)
	if cols == nil {
		head += "FIELDS"
	}
	for _, c := range cols {
		head += pad(ansi.Truncate(c.name, c.width-1, "…"), c.width)
	}
	lines := []string{st.colHead.Render(pad(head, w))}
	switch {
	case t.err != "" && n == 0:
		for _, l := range wrap(t.err, w-4) {
			lines = append(lines, "  "+st.warn.Render(l))
		}
		return lines
	case n == 0 && t.opening:
		return append(lines, "  opening the tail…")
	case n == 0 && t.ring.filter != nil:
		return append(lines, "  no rows match "+t.ring.filter.text+" (yet)")
	case n == 0:
		return append(lines, "  no events yet: waiting for new ones")
	}
	for i, r := range shown {
		seq := t.ring.visibleAt(top + i)
		line := lpad(strconv.FormatUint(r.rec.Offset, 10), tcolOffset) + " " +
			pad(m.fmtTime(r.rec.Time.AsTime(), "15:04:05.000"), tcolTime) +
			pad(shortKey(r.rec.KeyLink), tcolKeyLink) +
			pad(consentList(r.rec.ConsentLevels), tcolConsent)
		selected := !t.follow && seq == t.sel
		line += m.rowFields(r, cols, fieldsW, !selected)
		if selected {
			line = st.selected.Render(pad(ansi.Strip(line), w))
		}
		lines = append(lines, line)
	}
	return lines
}

// fieldColumn is one field of the table when the rows on screen share a
// schema: the first fields of that schema get a column each.
type fieldColumn struct {
	name  string
	path  string
	width int
}

// fieldColumns returns columns for the fields of rows when they all have
// the same schema, or nil (then each row shows name=value pairs).
func (m *Model) fieldColumns(rows []*row, w int) []fieldColumn {
	if len(rows) == 0 {
		return nil
	}
	ref := rows[0].rec.SchemaRef
	for _, r := range rows {
		if r.rec.SchemaRef != ref {
			return nil
		}
		r.parse()
	}
	fields := rows[0].fields
	n := min(len(fields), max(1, w/colField))
	if n == 0 {
		return nil
	}
	cols := make([]fieldColumn, n)
	for i := range cols {
		name := fields[i].path
		if j := strings.LastIndexByte(name, '/'); j >= 0 && len(name)-j > 4 {
			name = name[j+1:]
		}
		cols[i] = fieldColumn{name: name, path: fields[i].path, width: w / n}
	}
	cols[n-1].width = w - (n-1)*(w/n)
	return cols
}

// colField is the narrowest field column: a cut ciphertext and a space.
const colField = 12

func (r *row) parse() {
	if !r.parsed {
		r.fields, r.parsed = eventFields(r.rec.Json), true
	}
}

// rowFields renders the fields of a row in its columns, or as name=value
// pairs in width w. Ciphertexts are cut short: their start identifies them
// well enough.
func (m *Model) rowFields(r *row, cols []fieldColumn, w int, styled bool) string {
	r.parse()
	a := newAnnotator(r.rec, m.contracts[r.rec.EventContractRef])
	var b strings.Builder
	if cols != nil {
		for i, c := range cols {
			if i >= len(r.fields) {
				break
			}
			f := r.fields[i]
			an := a.of(f.path, f.str)
			val := ansi.Truncate(f.value, c.width-1, "…")
			if an.kind == cipherField {
				val = ansi.Truncate(cutCipher(f.value), c.width-1, "…")
			}
			text := pad(val, c.width)
			if styled {
				text = styleValue(m.c.styles, an.kind, val) + strings.Repeat(" ", c.width-ansi.StringWidth(val))
			}
			b.WriteString(text)
		}
		return b.String()
	}
	used := 0
	for _, c := range r.fields {
		if used >= w {
			break
		}
		an := a.of(c.path, c.str)
		val := c.value
		if an.kind == cipherField {
			val = cutCipher(val)
		} else {
			val = ansi.Truncate(val, 16, "…")
		}
		text := c.path + "=" + val
		if used > 0 {
			text = " " + text
		}
		used += ansi.StringWidth(text)
		if styled {
			text = styleValue(m.c.styles, an.kind, text)
		}
		b.WriteString(text)
	}
	return ansi.Truncate(b.String(), w, "…")
}

// shortKey is the first 8 characters of a key link and an ellipsis.
func shortKey(k string) string {
	if len(k) <= 8 {
		return k
	}
	return k[:8] + "…"
}

// cutCipher shortens a ciphertext to its first 10 characters.
func cutCipher(s string) string {
	if len(s) <= 11 {
		return s
	}
	return s[:10] + "…"
}

func styleValue(st styles, k fieldKind, s string) string {
	switch k {
	case cipherField:
		return st.cipher.Render(s)
	case decryptedField:
		return st.decrypted.Render(s)
	case maskedField:
		return st.masked.Render(s)
	}
	return s
}

func (m *Model) tailStatus() string {
	t, st := &m.tail, m.c.styles
	var state string
	switch {
	case t.finished && t.err != "":
		state = st.errorText.Render(" STOPPED ") + " " + t.err + " · r restarts"
	case t.finished:
		state = st.paused.Render(" ENDED ")
	case t.follow:
		state = st.following.Render(" FOLLOWING ")
	default:
		state = st.paused.Render(" PAUSED ")
	}
	parts := []string{state}
	if t.err == "" {
		if f := t.ring.filter; f != nil {
			parts = append(parts, fmt.Sprintf("%s/%s rows match %s", thousands(uint64(t.ring.visibleLen())), thousands(uint64(t.ring.n)), f.text))
		} else {
			parts = append(parts, fmt.Sprintf("%s rows (%s)", thousands(uint64(t.ring.n)), t.from))
		}
		if r := m.selectedRecord(); r != nil && !t.follow {
			parts = append(parts, fmt.Sprintf("at offset %d", r.Offset))
		}
		if len(t.held) > 0 || (!t.follow && t.ring.full()) {
			parts = append(parts, "newer waiting (f)")
		}
	}
	return strings.Join(parts, " · ")
}

// parseJumpTime reads RFC 3339, "2006-01-02 15:04:05", or a time of day
// (15:04 or 15:04:05) on the date of ref, in loc.
func parseJumpTime(s string, ref time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			r := ref.In(loc)
			return time.Date(r.Year(), r.Month(), r.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time: use RFC 3339 (2026-11-22T12:00:00Z), 2026-11-22 12:00:00 or 12:00:00", s)
}

// jumpRef is the day a bare time of day refers to: the server clock's.
func (m *Model) jumpRef() time.Time {
	if m.clock != nil && m.clock.Now != nil {
		return m.clock.Now.AsTime()
	}
	return m.c.opts.Now()
}
