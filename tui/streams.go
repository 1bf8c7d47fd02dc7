package tui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// streamsState is the stream tree and what the refreshes learnt about it.
type streamsState struct {
	loaded      bool
	refreshing  bool
	tickGen     int
	err         string // the last refresh failed
	unreachable bool

	rows   []treeRow
	byName map[string]*v1.Stream
	counts map[string]countState
	// Rates: events per second between the last two refreshes.
	rates     map[string]float64
	prevCount map[string]uint64
	prevAt    time.Time
	liveKeys  map[string]int
	totalKeys map[string]int

	scroll scroller // over rows
}

// treeRow is one line of the tree: a source stream, or a derived stream
// under its source.
type treeRow struct {
	stream *v1.Stream
	child  bool
	last   bool // the last derived stream of its source
}

type refreshTickMsg struct{ gen int }

func (s *streamsState) init() {
	s.byName = map[string]*v1.Stream{}
	s.counts = map[string]countState{}
	s.rates = map[string]float64{}
	s.prevCount = map[string]uint64{}
}

// refresh starts a refresh unless one is running.
func (m *Model) refresh() tea.Cmd {
	if m.streams.refreshing {
		return nil
	}
	m.streams.refreshing = true
	prev := make(map[string]countState, len(m.streams.counts))
	for k, v := range m.streams.counts {
		prev[k] = v
	}
	return m.c.client.refreshCmd(m.ctx, m.c.opts.Now, prev)
}

// schedule arranges the next refresh after d; an earlier schedule is void.
func (m *Model) schedule(d time.Duration) tea.Cmd {
	m.streams.tickGen++
	return m.c.after(d, refreshTickMsg{gen: m.streams.tickGen})
}

func (m *Model) applyStreams(msg streamsMsg) tea.Cmd {
	s := &m.streams
	s.refreshing = false
	if msg.err != nil {
		s.err = m.c.client.describe("", msg.err)
		s.unreachable = unreachable(msg.err)
		return m.schedule(m.c.opts.Retry)
	}
	s.err, s.unreachable, s.loaded = "", false, true
	if msg.clock != nil {
		m.clock = msg.clock
	}
	selName := ""
	if r, ok := s.selected(); ok {
		selName = r.stream.Name
	}
	s.byName = map[string]*v1.Stream{}
	for _, st := range msg.streams {
		s.byName[st.Name] = st
	}
	s.rows = buildTree(msg.streams)
	s.scroll.len, s.scroll.cursor = len(s.rows), 0
	for i, r := range s.rows {
		if r.stream.Name == selName {
			s.scroll.cursor = i
		}
	}
	// Rates from the counts of the previous refresh.
	dt := msg.at.Sub(s.prevAt).Seconds()
	rates := map[string]float64{}
	counts := map[string]uint64{}
	for name, c := range msg.counts {
		if c.err != "" {
			continue
		}
		n := c.count(s.byName[name].GetDerivedFrom() != "")
		counts[name] = n
		// A derived count still reading its backlog is no rate.
		behind := c.behind || s.counts[name].behind
		if p, ok := s.prevCount[name]; ok && dt > 0 && !s.prevAt.IsZero() && !behind {
			rates[name] = float64(n-min(n, p)) / dt
		}
	}
	s.counts, s.rates, s.prevCount, s.prevAt = msg.counts, rates, counts, msg.at
	s.liveKeys, s.totalKeys = msg.liveKeys, msg.totalKeys
	var cmds []tea.Cmd
	cmds = append(cmds, m.schedule(m.c.opts.Refresh))
	// Keep what the open screen shows about keys current.
	if src := m.keysSource(); src != "" {
		cmds = append(cmds, m.c.client.keyLinksCmd(m.ctx, src))
	}
	return tea.Batch(cmds...)
}

// buildTree orders streams as source, its derived streams, next source.
// Streams come ordered by name; a derived stream whose source is missing
// is shown at the top level.
func buildTree(streams []*v1.Stream) []treeRow {
	children := map[string][]*v1.Stream{}
	names := map[string]bool{}
	for _, st := range streams {
		names[st.Name] = true
	}
	var roots []*v1.Stream
	for _, st := range streams {
		if st.DerivedFrom != "" && names[st.DerivedFrom] {
			children[st.DerivedFrom] = append(children[st.DerivedFrom], st)
		} else {
			roots = append(roots, st)
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].Name < roots[j].Name })
	var rows []treeRow
	for _, r := range roots {
		rows = append(rows, treeRow{stream: r})
		kids := children[r.Name]
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
		for i, k := range kids {
			rows = append(rows, treeRow{stream: k, child: true, last: i == len(kids)-1})
		}
	}
	return rows
}

func (s *streamsState) selected() (treeRow, bool) {
	if i := s.scroll.cursor; i >= 0 && i < len(s.rows) {
		return s.rows[i], true
	}
	return treeRow{}, false
}

// derivedOf returns the derived streams of a source, by name.
func (s *streamsState) derivedOf(source string) []*v1.Stream {
	var out []*v1.Stream
	for _, r := range s.rows {
		if r.stream.DerivedFrom == source {
			out = append(out, r.stream)
		}
	}
	return out
}

func (m *Model) streamsKey(msg tea.KeyPressMsg) tea.Cmd {
	k, s := m.c.keys, &m.streams
	if s.scroll.update(msg, k) {
		return nil
	}
	switch {
	case key.Matches(msg, k.retry):
		return m.refresh()
	case key.Matches(msg, k.enter):
		if r, ok := s.selected(); ok {
			return m.startTail(r.stream, tailStart{history: m.c.opts.History})
		}
	case key.Matches(msg, k.keys):
		if r, ok := s.selected(); ok {
			return m.openKeys(r.stream)
		}
	case key.Matches(msg, k.side):
		if r, ok := s.selected(); ok {
			// The newest event of the source, if it has any.
			src := r.stream
			if src.DerivedFrom != "" {
				src = s.byName[src.DerivedFrom]
			}
			off := uint64(0)
			if c := s.counts[src.GetName()]; c.end > 0 {
				off = c.end - 1
			}
			return m.openSide(r.stream, off)
		}
	}
	return nil
}

func (m *Model) streamsRows() int { return max(1, m.c.height-3-1) }

// consentText describes a stream's consent rules: "source",
// "cumulative ≥2", "granular 0,1".
func consentText(st *v1.Stream) string {
	if st.DerivedFrom == "" {
		return "source"
	}
	levels := levelsText(st.Levels, ",")
	if st.ConsentType == v1.ConsentType_CONSENT_TYPE_GRANULAR {
		return "granular " + levels
	}
	return "cumulative ≥" + levels
}

func levelsText(levels []int32, sep string) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = strconv.Itoa(int(l))
	}
	return strings.Join(parts, sep)
}

// consentList is a record's consent levels as "[0 1]".
func consentList(levels []int32) string { return "[" + levelsText(levels, " ") + "]" }

// thousands writes n with comma separators.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func rateText(r float64, ok bool) string {
	switch {
	case !ok:
		return "–"
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// Column widths of the tree (the name column takes what is left).
const (
	colConsent = 16
	colEvents  = 11
	colRate    = 9
	colKeys    = 11
)

func (m *Model) streamsBody(w, h int) []string {
	s, st := &m.streams, m.c.styles
	if !s.loaded {
		if s.err != "" {
			return m.unreachableBody(w)
		}
		return []string{"", "  loading streams…"}
	}
	if len(s.rows) == 0 {
		return []string{"", "  no streams yet: create one with `strmlocal create stream demo`"}
	}
	nameW := max(12, w-2-colConsent-colEvents-colRate-colKeys)
	head := " " + pad("STREAM", nameW+1) + pad("CONSENT", colConsent) + lpad("EVENTS", colEvents) + lpad("RATE/s", colRate) + lpad("KEY LINKS", colKeys)
	lines := []string{st.colHead.Render(ansi.Truncate(head, w, ""))}
	rowsH := h - 1
	s.scroll.fit(len(s.rows), rowsH)
	for i := s.scroll.offset; i < len(s.rows) && i < s.scroll.offset+rowsH; i++ {
		r := s.rows[i]
		name := r.stream.Name
		if r.child {
			branch := "├─ "
			if r.last {
				branch = "└─ "
			}
			name = branch + name
		}
		c := s.counts[r.stream.Name]
		derived := r.stream.DerivedFrom != ""
		events := thousands(c.count(derived))
		switch {
		case c.noCreds:
			events = "no creds"
		case c.err != "":
			events = "error"
		case derived && c.behind:
			events += "+"
		}
		rate, ok := s.rates[r.stream.Name]
		keys := ""
		if !derived {
			switch n := s.liveKeys[r.stream.Name]; {
			case n < 0:
				keys = "?"
			default:
				keys = fmt.Sprintf("%d live", n)
			}
		}
		line := pad(ansi.Truncate(name, nameW, "…"), nameW+1) + pad(consentText(r.stream), colConsent) +
			lpad(events, colEvents) + lpad(rateText(rate, ok && c.err == ""), colRate) + lpad(keys, colKeys)
		if i == s.scroll.cursor {
			line = st.selected.Render(">" + line)
		} else {
			line = " " + line
		}
		lines = append(lines, line)
	}
	return lines
}

// unreachableBody explains that the server cannot be reached and that the
// UI keeps trying.
func (m *Model) unreachableBody(w int) []string {
	st := m.c.styles
	lines := []string{""}
	for _, l := range wrap(m.streams.err, w-4) {
		lines = append(lines, "  "+st.errorText.Render(l))
	}
	lines = append(lines, "",
		fmt.Sprintf("  retrying every %s · r retries now · q quits", m.c.opts.Retry),
		"  start a server with `strmlocal serve`, or pass --server URL")
	return lines
}

func (m *Model) streamsStatus() string {
	s, st := &m.streams, m.c.styles
	if s.loaded && s.err != "" {
		return st.errorText.Render(s.err)
	}
	r, ok := s.selected()
	if !ok {
		return ""
	}
	if c := s.counts[r.stream.Name]; c.err != "" {
		return st.warn.Render(c.err)
	}
	parts := []string{r.stream.Name}
	if r.stream.DerivedFrom != "" {
		parts = append(parts, "derived from "+r.stream.DerivedFrom)
		for _, mf := range r.stream.MaskedFields {
			parts = append(parts, "masks "+mf.ContractRef+":"+strings.Join(mf.Fields, ","))
		}
		if c := s.counts[r.stream.Name]; c.behind {
			parts = append(parts, "still counting")
		}
	} else if t := s.totalKeys[r.stream.Name]; t > 0 {
		parts = append(parts, fmt.Sprintf("%d key links, %d shredded", t, t-s.liveKeys[r.stream.Name]))
	}
	if r.stream.Description != "" {
		parts = append(parts, r.stream.Description)
	}
	return st.dim.Render(strings.Join(parts, " · "))
}

// --- small layout helpers ------------------------------------------------------

// pad pads (or cuts) s to width w.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// lpad right-aligns s in width w, keeping one space before it.
func lpad(s string, w int) string {
	s = ansi.Truncate(s, w-1, "")
	return strings.Repeat(" ", w-ansi.StringWidth(s)) + s
}

// wrap breaks s into lines of at most w columns at spaces.
func wrap(s string, w int) []string {
	if w < 10 {
		w = 10
	}
	var lines []string
	var cur string
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= w:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
		for ansi.StringWidth(cur) > w {
			lines = append(lines, ansi.Truncate(cur, w, ""))
			cur = ansi.TruncateLeft(cur, w, "")
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func (m *Model) fmtTime(t time.Time, layout string) string {
	return t.In(m.c.opts.Location).Format(layout)
}
