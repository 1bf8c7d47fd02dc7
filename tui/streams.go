package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// streamsModel is the first screen: the stream tree and what the
// refreshes learnt about it. It refreshes itself on a timer for as long as
// the UI runs, whichever screen is open, since the other screens read its
// streams (the side by side finds a source's derived streams here).
type streamsModel struct {
	c *common

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

	scroll scroller // a list over rows
}

// treeRow is one line of the tree: a source stream, or a derived stream
// under its source.
type treeRow struct {
	stream *v1.Stream
	child  bool
	last   bool // the last derived stream of its source
}

type refreshTickMsg struct{ gen int }

func newStreams(c *common) streamsModel {
	return streamsModel{
		c:      c,
		byName: map[string]*v1.Stream{}, counts: map[string]countState{},
		rates: map[string]float64{}, prevCount: map[string]uint64{},
	}
}

// init starts the first refresh.
func (s *streamsModel) init() tea.Cmd { return s.refresh() }

// refresh starts a refresh unless one is running.
func (s *streamsModel) refresh() tea.Cmd {
	if s.refreshing {
		return nil
	}
	s.refreshing = true
	prev := make(map[string]countState, len(s.counts))
	for k, v := range s.counts {
		prev[k] = v
	}
	return s.c.client.refreshCmd(s.c.ctx, s.c.opts.Now, prev)
}

// schedule arranges the next refresh after d; an earlier schedule is void.
func (s *streamsModel) schedule(d time.Duration) tea.Cmd {
	s.tickGen++
	return s.c.after(d, refreshTickMsg{gen: s.tickGen})
}

func (s *streamsModel) resize() { s.scroll.height = s.rowsHeight() }

// rowsHeight is how many rows of the tree fit: the body less the column
// titles.
func (s *streamsModel) rowsHeight() int { return max(1, s.c.bodyHeight()-1) }

func (s *streamsModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	switch msg := msg.(type) {
	case refreshTickMsg:
		if msg.gen != s.tickGen || s.refreshing {
			return nil, nil
		}
		return s.refresh(), nil
	case streamsMsg:
		return s.apply(msg), nil
	case tea.KeyPressMsg:
		return s.key(msg)
	case tea.MouseWheelMsg:
		s.scroll.move(wheelDelta(msg))
	case tea.MouseClickMsg:
		s.scroll.click(tableRow(msg))
	}
	return nil, nil
}

func (s *streamsModel) apply(msg streamsMsg) tea.Cmd {
	s.refreshing = false
	if msg.err != nil {
		s.err = s.c.client.describe("", msg.err)
		s.unreachable = unreachable(msg.err)
		return s.schedule(s.c.opts.Retry)
	}
	s.err, s.unreachable, s.loaded = "", false, true
	if msg.clock != nil {
		s.c.clock = msg.clock
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
	return s.schedule(s.c.opts.Refresh)
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

func (s *streamsModel) selected() (treeRow, bool) {
	if i := s.scroll.cursor; i >= 0 && i < len(s.rows) {
		return s.rows[i], true
	}
	return treeRow{}, false
}

// sideOf returns the streams a side by side of st shows: st's source, and
// the source's derived streams by name (st alone when the tree does not
// know its source's).
func (s *streamsModel) sideOf(st *v1.Stream) (*v1.Stream, []*v1.Stream) {
	src := st
	if st.GetDerivedFrom() != "" {
		src = s.byName[st.DerivedFrom]
		if src == nil {
			src = &v1.Stream{Name: st.DerivedFrom}
		}
	}
	var derived []*v1.Stream
	for _, r := range s.rows {
		if r.stream.DerivedFrom == src.Name {
			derived = append(derived, r.stream)
		}
	}
	if len(derived) == 0 && st.GetDerivedFrom() != "" {
		derived = []*v1.Stream{st}
	}
	return src, derived
}

func (s *streamsModel) key(msg tea.KeyPressMsg) (tea.Cmd, tea.Msg) {
	k := s.c.keys
	if s.scroll.update(msg, k) {
		return nil, nil
	}
	r, ok := s.selected()
	switch {
	case key.Matches(msg, k.retry):
		return s.refresh(), nil
	case key.Matches(msg, k.enter) && ok:
		return nil, openTailMsg{stream: r.stream}
	case key.Matches(msg, k.keys) && ok:
		return nil, openKeysMsg{stream: r.stream}
	case key.Matches(msg, k.side) && ok:
		// The newest event of the source, if it has any.
		src := r.stream
		if src.DerivedFrom != "" {
			src = s.byName[src.DerivedFrom]
		}
		off := uint64(0)
		if c := s.counts[src.GetName()]; c.end > 0 {
			off = c.end - 1
		}
		return nil, openSideMsg{stream: r.stream, offset: off}
	}
	return nil, nil
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

func (s *streamsModel) title() string { return "streams" }

func (s *streamsModel) view(w, h int) []string {
	st := s.c.styles
	if !s.loaded {
		if s.err != "" {
			return s.unreachableBody(w)
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
func (s *streamsModel) unreachableBody(w int) []string {
	st := s.c.styles
	lines := []string{""}
	for _, l := range wrap(s.err, w-4) {
		lines = append(lines, "  "+st.errorText.Render(l))
	}
	lines = append(lines, "",
		fmt.Sprintf("  retrying every %s · r retries now · q quits", s.c.opts.Retry),
		"  start a server with `strmlocal serve`, or pass --server URL")
	return lines
}

func (s *streamsModel) status() string {
	st := s.c.styles
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

func (s *streamsModel) bindings() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down, k.enter, k.side, k.keys, k.retry}
}

func (s *streamsModel) shortHelp() []key.Binding {
	k := s.c.keys
	enter := k.enter
	enter.SetHelp("enter", "tail")
	return []key.Binding{enter, k.side, k.keys}
}

func (s *streamsModel) keysSource() string { return "" }
