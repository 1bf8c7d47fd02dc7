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

// streamsModel is the first screen: the stream tree, with each stream's
// jobs under it, and what the refreshes learnt about them. It refreshes itself on a timer for as long as
// the UI runs, whichever screen is open, since the other screens read its
// streams (the side by side finds a source's derived streams here).
type streamsModel struct {
	c *common

	loaded      bool
	refreshing  bool
	refreshSeq  int // refreshes started
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

	jobs    map[string]*v1.Job // by name, as the last refresh (or a pin) says
	jobsErr string             // the last refresh could not read the jobs
	// pins are jobs as a pause or resume left them, which refreshes that
	// were under way before the answer (refreshSeq ≤ seq) may not know yet.
	pins map[string]jobPin

	scroll scroller // a list over rows
}

type jobPin struct {
	job *v1.Job
	seq int
}

// treeRow is one line of the tree: a source stream, a derived stream under
// its source, or a job under its stream. The derived streams of a source
// come first, then its jobs; a derived stream's jobs are under it.
type treeRow struct {
	stream *v1.Stream // the stream, or the job's stream
	job    *v1.Job    // a job row
	branch string     // the tree lines before the name: "├─ ", "│  └─ "
}

// key names the row across refreshes.
func (r treeRow) key() string {
	if r.job != nil {
		return "job\x00" + r.job.Name
	}
	return r.stream.GetName()
}

type refreshTickMsg struct{ gen int }

func newStreams(c *common) streamsModel {
	return streamsModel{
		c:      c,
		byName: map[string]*v1.Stream{}, counts: map[string]countState{},
		rates: map[string]float64{}, prevCount: map[string]uint64{},
		jobs: map[string]*v1.Job{}, pins: map[string]jobPin{},
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
	s.refreshSeq++
	prev := make(map[string]countState, len(s.counts))
	for k, v := range s.counts {
		prev[k] = v
	}
	return s.c.client.refreshCmd(s.c.ctx, s.refreshSeq, s.c.opts.Now, prev)
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
	selKey := ""
	if r, ok := s.selected(); ok {
		selKey = r.key()
	}
	s.byName = map[string]*v1.Stream{}
	for _, st := range msg.streams {
		s.byName[st.Name] = st
	}
	jobs := s.jobList(msg)
	s.rows = buildTree(msg.streams, jobs)
	s.scroll.len, s.scroll.cursor = len(s.rows), 0
	for i, r := range s.rows {
		if r.key() == selKey {
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

// jobList keeps the jobs of a refresh (or, when it could not read them,
// the ones known before) with the pins that are newer than it applied,
// and returns them by name.
func (s *streamsModel) jobList(msg streamsMsg) []*v1.Job {
	if msg.jobsErr != "" {
		s.jobsErr = msg.jobsErr
	} else {
		s.jobsErr = ""
		s.jobs = make(map[string]*v1.Job, len(msg.jobs))
		for _, j := range msg.jobs {
			s.jobs[j.Name] = j
		}
	}
	for name, p := range s.pins {
		if msg.seq > p.seq {
			delete(s.pins, name) // this refresh started after the answer
			continue
		}
		if _, ok := s.jobs[name]; ok {
			s.jobs[name] = p.job
		}
	}
	jobs := make([]*v1.Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	return jobs
}

// pin keeps job as a pause or resume left it, in the tree at once and
// over the refreshes that were under way before the answer came.
func (s *streamsModel) pin(job *v1.Job) {
	s.pins[job.Name] = jobPin{job: job, seq: s.refreshSeq}
	if _, ok := s.jobs[job.Name]; !ok {
		return
	}
	s.jobs[job.Name] = job
	for i, r := range s.rows {
		if r.job != nil && r.job.Name == job.Name {
			s.rows[i].job = job
		}
	}
}

// job returns the named job as the tree knows it, and whether the tree
// knows the jobs at all (false: not yet, or the last refresh failed to
// read them).
func (s *streamsModel) job(name string) (*v1.Job, bool) {
	return s.jobs[name], s.loaded && s.jobsErr == ""
}

// buildTree orders streams as source, its derived streams (each with its
// jobs), the source's jobs, next source. Streams and jobs come ordered by
// name; a derived stream whose source is missing is shown at the top
// level. A job of a stream not in the list (one created or deleted between
// the two calls of a refresh) waits for the next refresh.
func buildTree(streams []*v1.Stream, jobs []*v1.Job) []treeRow {
	children := map[string][]*v1.Stream{}
	jobsOf := map[string][]*v1.Job{}
	names := map[string]bool{}
	for _, st := range streams {
		names[st.Name] = true
	}
	for _, j := range jobs {
		jobsOf[j.Stream] = append(jobsOf[j.Stream], j)
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
	branch := func(last bool) string {
		if last {
			return "└─ "
		}
		return "├─ "
	}
	var rows []treeRow
	addJobs := func(st *v1.Stream, indent string) {
		js := jobsOf[st.Name]
		for i, j := range js {
			rows = append(rows, treeRow{stream: st, job: j, branch: indent + branch(i == len(js)-1)})
		}
	}
	for _, r := range roots {
		rows = append(rows, treeRow{stream: r})
		kids := children[r.Name]
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
		n := len(kids) + len(jobsOf[r.Name])
		for i, k := range kids {
			last := i == n-1
			rows = append(rows, treeRow{stream: k, branch: branch(last)})
			indent := "│  "
			if last {
				indent = "   "
			}
			addJobs(k, indent)
		}
		addJobs(r, "")
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
		if r.job == nil && r.stream.DerivedFrom == src.Name {
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
	case key.Matches(msg, k.enter) && ok && r.job != nil:
		return nil, openJobMsg{job: r.job}
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

// Narrowest column widths of the tree.
const (
	colName    = 12
	colConsent = 16
	colEvents  = 11
	colRate    = 9
	colKeys    = 11
)

// treeCols are the widths of the tree's columns in one frame.
type treeCols struct{ name, consent, events, rate, keys int }

// treeColumns sizes the tree's columns to w: the name column as wide as
// the longest name on it (with its branches), the others their narrowest,
// and what is left of w shared among all five.
func (s *streamsModel) treeColumns(w int) treeCols {
	need := len("STREAM")
	for _, r := range s.rows {
		name := r.branch + r.stream.GetName()
		if r.job != nil {
			name = r.branch + "job " + r.job.Name
		}
		need = max(need, ansi.StringWidth(name))
	}
	avail := w - 2 - colConsent - colEvents - colRate - colKeys
	c := treeCols{name: max(colName, min(avail, need)), consent: colConsent, events: colEvents, rate: colRate, keys: colKeys}
	if spare := avail - c.name; spare > 0 {
		ws := []*int{&c.name, &c.consent, &c.events, &c.rate, &c.keys}
		for i, p := range ws {
			*p += spare / len(ws)
			if i < spare%len(ws) {
				*p++
			}
		}
	}
	return c
}

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
	cw := s.treeColumns(w)
	nameW := cw.name
	head := " " + pad("STREAM", nameW+1) + pad("CONSENT", cw.consent) + lpad("EVENTS", cw.events) + lpad("RATE/s", cw.rate) + lpad("KEY LINKS", cw.keys)
	lines := []string{st.colHead.Render(ansi.Truncate(head, w, ""))}
	rowsH := h - 1
	s.scroll.fit(len(s.rows), rowsH)
	for i := s.scroll.offset; i < len(s.rows) && i < s.scroll.offset+rowsH; i++ {
		r := s.rows[i]
		if r.job != nil {
			lines = append(lines, s.jobLine(r, cw, i == s.scroll.cursor))
			continue
		}
		name := r.branch + r.stream.Name
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
		line := pad(ansi.Truncate(name, nameW, "…"), nameW+1) + pad(consentText(r.stream), cw.consent) +
			lpad(events, cw.events) + lpad(rateText(rate, ok && c.err == ""), cw.rate) + lpad(keys, cw.keys)
		if i == s.scroll.cursor {
			line = st.selected.Render(">" + line)
		} else {
			line = " " + line
		}
		lines = append(lines, line)
	}
	return lines
}

// jobLine is the tree's line of a job: its name in the stream column, its
// kind in the consent column, then its state and lag. A failed job's state
// is in the error style; a paused job's line is dimmed.
func (s *streamsModel) jobLine(r treeRow, cw treeCols, selected bool) string {
	st := s.c.styles
	js := r.job.GetStatus()
	state := jobStateText(js.GetState())
	head := pad(ansi.Truncate(r.branch+"job "+r.job.Name, cw.name, "…"), cw.name+1) + pad(r.job.Kind, cw.consent)
	tail := "lag " + thousands(js.GetLag())
	if js.GetRetries() > 0 && js.GetState() == v1.JobState_JOB_STATE_RUNNING {
		tail += fmt.Sprintf(" · retry %d", js.GetRetries())
	}
	if selected {
		return st.selected.Render(">" + head + pad(state, 9) + tail)
	}
	switch js.GetState() {
	case v1.JobState_JOB_STATE_PAUSED:
		return " " + st.dim.Render(head+pad(state, 9)+tail)
	case v1.JobState_JOB_STATE_FAILED:
		return " " + head + st.errorText.Render(state) + pad("", 9-len(state)) + tail
	}
	return " " + head + pad(state, 9) + tail
}

// jobStateText is a job state as the server names it: RUNNING, PAUSED,
// FAILED.
func jobStateText(s v1.JobState) string {
	if s == v1.JobState_JOB_STATE_UNSPECIFIED {
		return "UNKNOWN"
	}
	return strings.TrimPrefix(s.String(), "JOB_STATE_")
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
	if s.jobsErr != "" {
		return st.warn.Render("jobs: " + s.jobsErr)
	}
	r, ok := s.selected()
	if !ok {
		return ""
	}
	if r.job != nil {
		return s.jobStatus(r.job)
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

// jobStatus is the status line of a selected job: what it exports where,
// or why it fails.
func (s *streamsModel) jobStatus(j *v1.Job) string {
	st := s.c.styles
	js := j.GetStatus()
	switch {
	case js.GetState() == v1.JobState_JOB_STATE_FAILED:
		return st.errorText.Render(fmt.Sprintf("%s failed after %d retries: %s", j.Name, js.GetRetries(), js.GetLastError()))
	case js.GetRetries() > 0 && js.GetState() == v1.JobState_JOB_STATE_RUNNING:
		return st.warn.Render(fmt.Sprintf("%s retry %d: %s", j.Name, js.GetRetries(), js.GetLastError()))
	}
	return st.dim.Render(fmt.Sprintf("job %s · %s → %s · %s events exported · enter shows its status", j.Name, j.Stream, j.DataConnector, thousands(js.GetEventsExported())))
}

func (s *streamsModel) bindings() []key.Binding {
	k := s.c.keys
	return []key.Binding{k.up, k.down, k.enter, k.side, k.keys, k.retry}
}

func (s *streamsModel) shortHelp() []key.Binding {
	k := s.c.keys
	enter := k.enter
	enter.SetHelp("enter", "tail")
	if r, ok := s.selected(); ok && r.job != nil {
		enter.SetHelp("enter", "job status")
	}
	return []key.Binding{enter, k.side, k.keys}
}

func (s *streamsModel) keysSource() string { return "" }
