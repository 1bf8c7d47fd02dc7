package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// tailModel is the live table of one stream's events. Its reader (a
// tailer) runs from start until stop; every message of a tail carries the
// generation it was started with, so that what a stopped tail still
// delivers is ignored.
type tailModel struct {
	c       *common
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
	scroll   scroller // a list over the visible rows; its cursor is sel's index
	finished bool
	err      string
	from     string // where this tail started, for the status line
	// refs are the event contracts of the records this tail received,
	// which say what a filter's field is (encryptedFilter).
	refs map[string]bool
}

func newTail(c *common) tailModel { return tailModel{c: c, ring: newRing(c.opts.History)} }

// start (re)starts reading st from start into an empty table.
func (t *tailModel) start(st *v1.Stream, start tailStart) tea.Cmd {
	t.stop()
	t.stream = st
	t.gen++
	t.ring.clear()
	t.ring.base = t.ring.end() + 1 // seqs of the old tail never match
	t.held, t.finished, t.err, t.scroll.offset = nil, false, "", 0
	t.refs = nil
	t.opening, t.waiting = true, false
	t.sel = t.ring.base
	switch {
	case start.offset != nil:
		t.follow, t.from = false, "from offset "+strconv.FormatUint(*start.offset, 10)
	case start.time != nil:
		t.follow, t.from = false, "from "+t.c.fmtTime(*start.time, "2006-01-02 15:04:05")
	default:
		t.follow, t.from = true, fmt.Sprintf("last %s", thousands(uint64(start.history)))
	}
	return t.c.client.openTailCmd(t.c.ctx, t.c.tails, t.gen, st.Name, start, t.c.opts.History)
}

// stop cancels the running tail, if any, without waiting for its reader
// (Close joins it), and voids every message of it still on the way.
func (t *tailModel) stop() {
	if t.t != nil {
		t.t.stop()
		t.t = nil
	}
	t.gen++
	t.waiting, t.opening = false, false
}

func (t *tailModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	switch msg := msg.(type) {
	case tailOpenedMsg:
		return t.applyOpened(msg), nil
	case tailBatchMsg:
		return t.applyBatch(msg), nil
	case tea.KeyPressMsg:
		return t.key(msg)
	case promptDoneMsg:
		return t.applyPrompt(msg.kind, msg.value)
	case tea.MouseWheelMsg:
		t.move(wheelDelta(msg))
	case tea.MouseClickMsg:
		t.scrollBy(func(s *scroller) bool { return s.click(tableRow(msg)) })
	}
	return nil, nil
}

func (t *tailModel) applyOpened(msg tailOpenedMsg) tea.Cmd {
	if msg.gen != t.gen {
		if msg.t != nil {
			msg.t.stop()
		}
		return nil
	}
	t.opening = false
	if msg.err != "" {
		t.err, t.finished = msg.err, true
		return nil
	}
	t.t = msg.t
	t.waiting = true
	return msg.t.waitCmd(t.gen, t.c.frame)
}

func (t *tailModel) applyBatch(msg tailBatchMsg) tea.Cmd {
	if msg.gen != t.gen {
		return nil
	}
	t.waiting = false
	cmds := t.contractsOf(msg.recs)
	t.append(msg.recs)
	if msg.finished {
		t.finished, t.err = true, msg.err
		return tea.Batch(cmds...)
	}
	cmds = append(cmds, t.wait())
	return tea.Batch(cmds...)
}

// contractsOf asks for the contracts of records not known yet.
func (t *tailModel) contractsOf(recs []*v1.Record) []tea.Cmd {
	var cmds []tea.Cmd
	last := ""
	for _, r := range recs {
		if r.EventContractRef == last {
			continue
		}
		last = r.EventContractRef
		if !t.refs[last] {
			if t.refs == nil {
				t.refs = map[string]bool{}
			}
			t.refs[last] = true
		}
		if c := t.c.askContract(last); c != nil {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// wait asks for the next batch unless one is awaited or the UI cannot take
// more (paused with a full table).
func (t *tailModel) wait() tea.Cmd {
	if t.t == nil || t.waiting || t.finished || len(t.held) > 0 {
		return nil
	}
	if !t.follow && t.ring.full() {
		return nil
	}
	t.waiting = true
	return t.t.waitCmd(t.gen, t.c.frame)
}

// append adds records to the table. Following, the oldest rows make room;
// paused, rows beyond the table's room are held back so that the rows
// being looked at stay.
func (t *tailModel) append(recs []*v1.Record) {
	if !t.follow {
		n := min(len(recs), t.ring.room())
		for _, r := range recs[:n] {
			t.ring.push(r)
		}
		t.held = append(t.held, recs[n:]...)
		t.keepVisible()
		return
	}
	// Only the newest rows the table holds matter.
	if extra := len(recs) - len(t.ring.buf); extra > 0 {
		recs = recs[extra:]
	}
	for _, r := range recs {
		t.ring.push(r)
	}
	t.keepVisible()
}

// rows is how many table rows fit: the body less the column titles.
func (t *tailModel) rows() int { return max(1, t.c.bodyHeight()-1) }

func (t *tailModel) resize() { t.keepVisible() }

// keepVisible makes the selection valid and visible.
func (t *tailModel) keepVisible() {
	s := &t.scroll
	n := t.ring.visibleLen()
	h := t.rows()
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

// scrollBy lets f move the selection (a key, the wheel, a click) and
// reports whether f took the input. Following, the selection starts on
// the newest row; moving it pauses. With no rows there is nothing to move.
func (t *tailModel) scrollBy(f func(*scroller) bool) bool {
	n := t.ring.visibleLen()
	s := t.scroll
	s.len, s.height, s.cursor = n, t.rows(), n-1
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
	t.keepVisible()
	return true
}

// move moves the selection by delta rows; moving pauses following.
func (t *tailModel) move(delta int) {
	t.scrollBy(func(s *scroller) bool { s.move(delta); return true })
}

// setFollow resumes (or pauses) following the newest events.
func (t *tailModel) setFollow(on bool) tea.Cmd {
	if !on {
		if t.follow {
			t.follow = false
			t.keepVisible()
		}
		return nil
	}
	t.follow = true
	held := t.held
	t.held = nil
	t.append(held)
	t.keepVisible()
	return t.wait()
}

// selectedRecord is the record under the selection, if any.
func (t *tailModel) selectedRecord() *v1.Record {
	if t.ring.visibleLen() == 0 || !t.ring.held(t.sel) {
		return nil
	}
	return t.ring.at(t.sel).rec
}

func (t *tailModel) key(msg tea.KeyPressMsg) (tea.Cmd, tea.Msg) {
	k := t.c.keys
	// The newest row is following, not a place the selection moves to.
	if key.Matches(msg, k.bottom) {
		return t.setFollow(true), nil
	}
	if t.scrollBy(func(s *scroller) bool { return s.update(msg, k) }) {
		if key.Matches(msg, k.top) && t.ring.visibleLen() > 0 && t.ring.base > 0 {
			return nil, statusMsg{"oldest row in memory; : jumps to an earlier offset"}
		}
		return nil, nil
	}
	switch {
	case key.Matches(msg, k.follow):
		return t.setFollow(!t.follow), nil
	case key.Matches(msg, k.jumpOffset):
		return nil, openPromptMsg{kind: promptOffset, label: "jump to offset"}
	case key.Matches(msg, k.jumpTime):
		return nil, openPromptMsg{kind: promptTime, label: "jump to time (RFC 3339, or 15:04:05 today)"}
	case key.Matches(msg, k.filter):
		p := openPromptMsg{kind: promptFilter, label: "filter field=value (empty clears)"}
		if t.ring.filter != nil {
			p.value = t.ring.filter.text
		}
		return nil, p
	case key.Matches(msg, k.retry):
		if t.finished {
			return t.start(t.stream, tailStart{history: t.c.opts.History}), nil
		}
	case key.Matches(msg, k.enter):
		if r := t.selectedRecord(); r != nil {
			return nil, openDetailMsg{stream: t.stream, rec: r}
		}
	case key.Matches(msg, k.side):
		if r := t.selectedRecord(); r != nil {
			return nil, openSideMsg{stream: t.stream, offset: r.Offset}
		}
	case key.Matches(msg, k.keys):
		// Paused, a row is selected: its key link is selected there.
		var rec *v1.Record
		if !t.follow {
			rec = t.selectedRecord()
		}
		return nil, openKeysMsg{stream: t.stream, rec: rec}
	}
	return nil, nil
}

// applyPrompt acts on what the prompt opened by key returned.
func (t *tailModel) applyPrompt(kind promptKind, v string) (tea.Cmd, tea.Msg) {
	errText := func(s string) tea.Msg { return statusMsg{t.c.styles.errorText.Render(s)} }
	switch kind {
	case promptOffset:
		if v == "" {
			return nil, nil
		}
		off, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, errText("an offset is a whole number ≥ 0, e.g. 1200")
		}
		return t.jumpOffset(off)
	case promptTime:
		if v == "" {
			return nil, nil
		}
		at, err := parseJumpTime(v, t.jumpRef(), t.c.opts.Location)
		if err != nil {
			return nil, errText(err.Error())
		}
		return t.jumpTime(at), nil
	case promptFilter:
		if v == "" {
			t.ring.setFilter(nil)
			t.keepVisible()
			return nil, nil
		}
		f, err := parseFilter(v)
		if err != nil {
			return nil, errText(err.Error())
		}
		t.ring.setFilter(f)
		t.keepVisible()
	}
	return nil, nil
}

// jumpOffset selects the row at offset if it is held, and otherwise
// starts the tail there.
func (t *tailModel) jumpOffset(off uint64) (tea.Cmd, tea.Msg) {
	if seq, ok := t.ring.findOffset(off); ok {
		t.follow, t.sel = false, seq
		t.keepVisible()
		if t.ring.filter != nil {
			return nil, statusMsg{"filter on: the nearest matching row is selected"}
		}
		return nil, nil
	}
	return t.start(t.stream, tailStart{offset: &off}), nil
}

func (t *tailModel) jumpTime(at time.Time) tea.Cmd {
	if seq, ok := t.ring.findTime(at); ok {
		t.follow, t.sel = false, seq
		t.keepVisible()
		return nil
	}
	return t.start(t.stream, tailStart{time: &at})
}

// jumpRef is the day a bare time of day refers to: the server clock's.
func (t *tailModel) jumpRef() time.Time {
	if t.c.clock != nil && t.c.clock.Now != nil {
		return t.c.clock.Now.AsTime()
	}
	return t.c.opts.Now()
}

func (t *tailModel) title() string { return "tail " + t.stream.GetName() }

func (t *tailModel) bindings() []key.Binding {
	k := t.c.keys
	return []key.Binding{k.up, k.down, k.follow, k.bottom, k.top, k.jumpOffset, k.jumpTime, k.filter, k.enter, k.side,
		brief(k.keys, "K", "key links, at this row's"), k.retry}
}

// shortHelp names the main keys briefly, so that they and back, help and
// quit fit 80 columns; the help overlay has the long names, and s (side by
// side), which the detail's help line shows too.
func (t *tailModel) shortHelp() []key.Binding {
	k := t.c.keys
	return []key.Binding{
		brief(k.follow, "f", "follow"), brief(k.jumpOffset, ":", "offset"), brief(k.filter, "/", "filter"),
		brief(k.enter, "enter", "detail"),
	}
}

// brief is b with a shorter help text, for a help line.
func brief(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}

func (t *tailModel) keysSource() string { return "" }

// Columns of the tail table; CONSENT is as wide as the widest shown (at
// least its title), and the fields take the rest.
const (
	tcolOffset  = 9
	tcolTime    = 13
	tcolKeyLink = 10
)

func (t *tailModel) view(w, h int) []string {
	st := t.c.styles
	n := t.ring.visibleLen()
	var shown []*row
	top := t.scroll.offset
	for i := top; i < n && i < top+h-1; i++ {
		shown = append(shown, t.ring.at(t.ring.visibleAt(i)))
	}
	tcolConsent := len("CONSENT") + 1
	for _, r := range shown {
		tcolConsent = max(tcolConsent, len(consentList(r.rec.ConsentLevels))+1)
	}
	head := lpad("OFFSET", tcolOffset) + " " + pad("TIME", tcolTime) + pad("KEY LINK", tcolKeyLink) + pad("CONSENT", tcolConsent)
	fieldsW := w - tcolOffset - 1 - tcolTime - tcolKeyLink - tcolConsent
	cols := t.fieldColumns(shown, fieldsW)
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
	case n == 0 && t.ring.filter != nil && t.encryptedFilter():
		for _, l := range wrap("no rows match "+t.ring.filter.text+": "+encryptedFilterText(t.ring.filter), w-4) {
			lines = append(lines, "  "+st.warn.Render(l))
		}
		return lines
	case n == 0 && t.ring.filter != nil:
		return append(lines, "  no rows match "+t.ring.filter.text+" (yet)")
	case n == 0:
		return append(lines, "  no events yet: waiting for new ones")
	}
	for i, r := range shown {
		seq := t.ring.visibleAt(top + i)
		line := lpad(strconv.FormatUint(r.rec.Offset, 10), tcolOffset) + " " +
			pad(t.c.fmtTime(r.rec.Time.AsTime(), "15:04:05.000"), tcolTime) +
			pad(shortKey(r.rec.KeyLink), tcolKeyLink) +
			pad(consentList(r.rec.ConsentLevels), tcolConsent)
		selected := !t.follow && seq == t.sel
		line += t.rowFields(r, cols, fieldsW, !selected)
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
// the same schema, or nil (then each row shows name=value pairs). Each
// column is as wide as its title and the values on screen need (with a
// space); the first fields that fit in w so get a column, and what is
// left of w is shared among them. Only when not even the first fits is
// its title cut.
func (t *tailModel) fieldColumns(rows []*row, w int) []fieldColumn {
	if len(rows) == 0 || w <= 0 {
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
	if len(fields) == 0 {
		return nil
	}
	var cols []fieldColumn
	used := 0
	for i, f := range fields {
		name := f.path
		if j := strings.LastIndexByte(name, '/'); j >= 0 && len(name)-j > 4 {
			name = name[j+1:]
		}
		need := ansi.StringWidth(name)
		for _, r := range rows {
			if i < len(r.fields) {
				need = max(need, t.cellWidth(r, r.fields[i]))
			}
		}
		need++
		if used+need > w {
			break
		}
		cols = append(cols, fieldColumn{name: name, path: f.path, width: need})
		used += need
	}
	if len(cols) == 0 {
		return []fieldColumn{{name: fields[0].path, path: fields[0].path, width: w}}
	}
	spare := w - used
	for i := range cols {
		cols[i].width += spare / len(cols)
		if i < spare%len(cols) {
			cols[i].width++
		}
	}
	return cols
}

// cellWidth is how wide the value of field c of r shows in a column:
// ciphertexts cut short, other values up to colValueMax.
func (t *tailModel) cellWidth(r *row, c cell) int {
	a := newAnnotator(r.rec, t.c.contracts[r.rec.EventContractRef])
	if a.of(c.path, c.str).kind == cipherField {
		return ansi.StringWidth(cutCipher(c.value))
	}
	return min(colValueMax, ansi.StringWidth(c.value))
}

// colValueMax is the widest a value makes its column.
const colValueMax = 24

func (r *row) parse() {
	if !r.parsed {
		r.fields, r.parsed = eventFields(r.rec.Json), true
	}
}

// rowFields renders the fields of a row in its columns, or as name=value
// pairs in width w. Ciphertexts are cut short: their start identifies them
// well enough.
func (t *tailModel) rowFields(r *row, cols []fieldColumn, w int, styled bool) string {
	r.parse()
	a := newAnnotator(r.rec, t.c.contracts[r.rec.EventContractRef])
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
				text = styleValue(t.c.styles, an.kind, val) + strings.Repeat(" ", c.width-ansi.StringWidth(val))
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
			text = styleValue(t.c.styles, an.kind, text)
		}
		b.WriteString(text)
	}
	return ansi.Truncate(b.String(), w, "…")
}

func (t *tailModel) status() string {
	st := t.c.styles
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
			// Said first: it is why nothing matches, and a narrow
			// status line cuts what follows.
			if t.encryptedFilter() {
				parts = append(parts, st.warn.Render(encryptedFilterText(f)))
			}
			parts = append(parts, fmt.Sprintf("%s/%s rows match %s", thousands(uint64(t.ring.visibleLen())), thousands(uint64(t.ring.n)), f.text))
		} else {
			parts = append(parts, fmt.Sprintf("%s rows (%s)", thousands(uint64(t.ring.n)), t.from))
		}
		if r := t.selectedRecord(); r != nil && !t.follow {
			parts = append(parts, fmt.Sprintf("at offset %d", r.Offset))
		}
		if len(t.held) > 0 || (!t.follow && t.ring.full()) {
			parts = append(parts, "newer waiting (f)")
		}
	}
	return strings.Join(parts, " · ")
}

// encryptedFilter reports whether the filter's field is a PII field this
// stream leaves encrypted, by the contracts of its records: every PII
// field of a source stream; in a derived stream, those its consent rules do
// not decrypt (docs/pipeline.md): above its level (CUMULATIVE), not among
// its levels (GRANULAR). A value typed in plaintext never matches those.
func (t *tailModel) encryptedFilter() bool {
	f := t.ring.filter
	if f == nil || t.stream == nil {
		return false
	}
	for ref := range t.refs {
		c := t.c.contracts[ref]
		if c == nil {
			continue
		}
		level, pii := c.PiiFields[f.path]
		if pii && !decrypts(t.stream, level) {
			return true
		}
	}
	return false
}

func encryptedFilterText(f *fieldFilter) string {
	return "field " + f.path + " is encrypted in this view: it matches ciphertext only"
}

// decrypts reports whether stream st shows PII fields of level in
// plaintext.
func decrypts(st *v1.Stream, level int32) bool {
	if st.DerivedFrom == "" || len(st.Levels) == 0 {
		return false
	}
	if st.ConsentType == v1.ConsentType_CONSENT_TYPE_GRANULAR {
		return slices.Contains(st.Levels, level)
	}
	return level <= slices.Max(st.Levels)
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
