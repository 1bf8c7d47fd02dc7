package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// Run shows the UI until the user quits or ctx is canceled, and restores
// the terminal either way.
func Run(ctx context.Context, o Options) error {
	m, err := New(o)
	if err != nil {
		return err
	}
	defer m.Close()
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if m.c.opts.Input != nil {
		opts = append(opts, tea.WithInput(m.c.opts.Input))
	}
	if m.c.opts.Output != nil {
		opts = append(opts, tea.WithOutput(m.c.opts.Output))
	}
	_, err = tea.NewProgram(m, opts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted: a normal way to leave
	}
	return err
}

// screen names what the body of the frame shows.
type screen int

const (
	screenStreams screen = iota
	screenTail
	screenDetail
	screenSide
	screenKeys
	screenJob
)

// screenModel is one screen: streamsModel, tailModel, detailModel,
// sideModel, keysModel, jobModel, one file each. Model hands the open
// screen the keys it does not take itself and each screen the messages
// addressed to it. A screen's update returns a command, and a message for Model to
// handle at once, before the frame is drawn: a navigation message
// (openTailMsg, backMsg, …) or a statusMsg. Screens never change one
// another; they ask Model to, by these messages.
type screenModel interface {
	update(msg tea.Msg) (tea.Cmd, tea.Msg)
	// view renders the body, w×h; it may fit the screen's scroller to it.
	view(w, h int) []string
	title() string
	status() string
	// resize follows a change of the terminal's size (in common).
	resize()
	// bindings are the screen's keys for the help overlay, shortHelp its
	// main ones for the bottom line.
	bindings() []key.Binding
	shortHelp() []key.Binding
	// keysSource is the source stream whose key links the screen shows,
	// kept current by each refresh; "" for none.
	keysSource() string
}

// Navigation and the other messages screens send to Model.
type (
	openTailMsg   struct{ stream *v1.Stream }
	openDetailMsg struct {
		stream *v1.Stream
		rec    *v1.Record
	}
	// openSideMsg shows offset of stream's source beside stream (a
	// derived one), or beside the source's first derived stream.
	openSideMsg struct {
		stream *v1.Stream
		offset uint64
	}
	// openKeysMsg shows the key links of stream's source, with rec's key
	// link selected when rec (an event of stream) is not nil.
	openKeysMsg struct {
		stream *v1.Stream
		rec    *v1.Record
	}
	// backMsg returns to the screen the open one was opened from.
	backMsg struct{}
	// statusMsg shows text in the status line until the next key.
	statusMsg     struct{ text string }
	openPromptMsg struct {
		kind         promptKind
		label, value string
	}
	// promptDoneMsg is the prompt's value, for the screen that opened it.
	promptDoneMsg struct {
		kind  promptKind
		value string
	}
	promptClosedMsg struct{}
)

// Model is the top of the UI: the frame (header, status and help lines),
// the screens and the way between them, the help overlay and the prompt.
// It is a tea.Model; its methods run on the program's goroutine only.
type Model struct {
	c      *common
	cancel context.CancelFunc

	screen screen
	back   []screen // where esc returns to
	mouse  bool
	status string  // a one-line message until the next key
	prompt *prompt // open: takes every key
	help   helpModel

	streams streamsModel
	tail    tailModel
	detail  detailModel
	side    sideModel
	keys    keysModel
	job     jobModel
}

// New returns the UI's model; Run runs it. Close releases what it holds
// (the tail reader) when it is not run by Run.
func New(o Options) (*Model, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &common{
		opts: o, client: newClient(o), ctx: ctx, styles: defaultStyles(), keys: defaultKeyMap(),
		after: tick, frame: o.Frame, tails: &group{},
		contracts: map[string]*v1.EventContract{},
		asked:     map[string]bool{},
		keyLinks:  map[string]*keyLinksState{},
	}
	return &Model{
		c: c, cancel: cancel,
		mouse:   true,
		help:    helpModel{c: c},
		streams: newStreams(c),
		tail:    newTail(c),
		detail:  detailModel{c: c},
		side:    sideModel{c: c},
		keys:    keysModel{c: c},
		job:     jobModel{c: c},
	}, nil
}

// Close stops the tail and every call in flight, waits for every tail
// reader the UI started (the current one and any still ending after a
// cancel), and then closes idle connections: a call canceled while dialing
// leaves its connection to the pool when the dial completes, and a server
// waits for such an unused connection before it shuts down.
func (m *Model) Close() {
	m.tail.stop()
	m.cancel()
	m.c.tails.wait()
	m.c.opts.HTTPClient.CloseIdleConnections()
}

// Init starts the first refresh.
func (m *Model) Init() tea.Cmd { return m.streams.init() }

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	return m, m.update(msg)
}

// current is the open screen.
func (m *Model) current() screenModel {
	switch m.screen {
	case screenTail:
		return &m.tail
	case screenDetail:
		return &m.detail
	case screenSide:
		return &m.side
	case screenKeys:
		return &m.keys
	case screenJob:
		return &m.job
	}
	return &m.streams
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
		for _, s := range []screenModel{&m.streams, &m.tail, &m.detail, &m.side, &m.keys, &m.job} {
			s.resize()
		}
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		if !m.mouseFree() || msg.Button != tea.MouseWheelUp && msg.Button != tea.MouseWheelDown {
			return nil
		}
		return m.route(m.current(), msg)
	case tea.MouseClickMsg:
		if !m.mouseFree() || msg.Button != tea.MouseLeft {
			return nil
		}
		return m.route(m.current(), msg)

	// Answers, each to the screen that asked.
	case refreshTickMsg:
		return m.route(&m.streams, msg)
	case streamsMsg:
		cmd := m.route(&m.streams, msg)
		if msg.err == nil {
			m.job.sync(m.streams.job(m.job.name))
		}
		// Keep what the open screen shows about keys current.
		if src := m.current().keysSource(); msg.err == nil && src != "" {
			cmd = tea.Batch(cmd, m.c.client.keyLinksCmd(m.c.ctx, src))
		}
		return cmd
	case tailOpenedMsg, tailBatchMsg:
		return m.route(&m.tail, msg)
	case sideMsg:
		return m.route(&m.side, msg)
	case jobActionMsg:
		// The tree shows what the server did at once, whoever asked.
		if msg.job != nil {
			m.streams.pin(msg.job)
		}
		return m.route(&m.job, msg)
	case contractMsg, keyLinksMsg, clockMsg:
		m.c.learn(msg)
		return nil
	case keysReadMsg:
		m.c.learn(msg.links)
		// Left before the answer: no status line about it elsewhere.
		if m.screen != screenKeys {
			return nil
		}
		return m.route(&m.keys, msg)

	// From the screens.
	case openTailMsg:
		m.open(screenTail)
		return m.tail.start(msg.stream, tailStart{history: m.c.opts.History})
	case openDetailMsg:
		cmd := m.detail.open(msg.stream, msg.rec)
		m.open(screenDetail)
		return cmd
	case openSideMsg:
		src, derived := m.streams.sideOf(msg.stream)
		if len(derived) == 0 {
			m.status = m.c.styles.warn.Render(fmt.Sprintf("%s has no derived streams: create one with `strmlocal create stream --derived-from %s --levels 2`", src.Name, src.Name))
			return nil
		}
		cmd := m.side.open(src, derived, msg.stream.GetName(), msg.offset)
		m.open(screenSide)
		return cmd
	case openKeysMsg:
		cmd := m.keys.open(msg.stream, msg.rec)
		m.open(screenKeys)
		return cmd
	case openJobMsg:
		cmd := m.job.open(msg.job)
		m.open(screenJob)
		return cmd
	case backMsg:
		m.goBack()
		return nil
	case statusMsg:
		m.status = msg.text
		return nil
	case openPromptMsg:
		m.prompt = newPrompt(m.c, msg)
		return nil
	case promptClosedMsg:
		m.prompt = nil
		return nil
	case promptDoneMsg:
		m.prompt = nil
		return m.route(m.current(), msg)
	}
	return nil
}

// route gives msg to s and handles at once what s sends back, so that a
// key which opens a screen has opened it when Update returns.
func (m *Model) route(s screenModel, msg tea.Msg) tea.Cmd {
	cmd, out := s.update(msg)
	if out == nil {
		return cmd
	}
	return tea.Batch(cmd, m.update(out))
}

// key handles a key press: the prompt and the help overlay first, then
// keys every screen shares, then the screen's own.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.keys
	if m.prompt != nil {
		cmd, out := m.prompt.update(msg)
		if out != nil {
			return tea.Batch(cmd, m.update(out))
		}
		return cmd
	}
	m.status = ""
	if m.help.open {
		return m.help.update(msg)
	}
	switch {
	case key.Matches(msg, k.quit):
		return tea.Quit
	case key.Matches(msg, k.help):
		m.help.open = true
		return nil
	case key.Matches(msg, k.mouse):
		m.mouse = !m.mouse
		if m.mouse {
			m.status = "mouse on: wheel scrolls, click selects (m turns it off to select text)"
		} else {
			m.status = "mouse off: the terminal selects text again"
		}
		return nil
	case key.Matches(msg, k.back) && m.screen != screenStreams:
		return m.update(backMsg{})
	}
	return m.route(m.current(), msg)
}

// open shows a screen, remembering the current one for esc.
func (m *Model) open(s screen) {
	if m.screen != s {
		m.back = append(m.back, m.screen)
	}
	m.screen = s
}

// goBack returns to the previous screen. Leaving the tail for the tree
// stops it; leaving it for an event or the side by side does not, so
// that esc comes back to a table that kept following.
func (m *Model) goBack() {
	prev := screenStreams
	if n := len(m.back); n > 0 {
		prev, m.back = m.back[n-1], m.back[:n-1]
	}
	if m.screen == screenTail && prev == screenStreams {
		m.tail.stop()
	}
	m.screen = prev
}

// mouseFree reports whether mouse input goes to the screen.
func (m *Model) mouseFree() bool { return m.mouse && !m.help.open && m.prompt == nil }

// wheelDelta is how many lines a wheel notch scrolls (Model passes on only
// wheel up and down).
func wheelDelta(msg tea.MouseWheelMsg) int {
	if msg.Button == tea.MouseWheelUp {
		return -3
	}
	return 3
}

// tableRow is the row of a table under a click: below the header line and
// the column titles.
func tableRow(msg tea.MouseClickMsg) int { return msg.Y - 2 }

// --- view ------------------------------------------------------------------------

// View renders the frame: a header line, the screen's body, a status line
// and a line of key help, exactly the terminal's size.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "strmlocal"
	if m.mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

const minWidth, minHeight = 40, 8

func (m *Model) render() string {
	w, h := m.c.width, m.c.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		return ansi.Truncate("terminal too small: strmlocal tui needs at least 40×8", w, "…")
	}
	bodyH := m.c.bodyHeight()
	s := m.current()
	var body []string
	if m.help.open {
		body = m.help.view(w, bodyH, s.title(), s.bindings())
	} else {
		body = s.view(w, bodyH)
	}
	lines := make([]string, 0, h)
	lines = append(lines, m.headerLine(w))
	for i := range bodyH {
		if i < len(body) {
			lines = append(lines, ansi.Truncate(body[i], w, "…"))
		} else {
			lines = append(lines, "")
		}
	}
	lines = append(lines, ansi.Truncate(m.statusLine(w), w, "…"), m.helpLine(w))
	return strings.Join(lines, "\n")
}

func (m *Model) title() string { return m.current().title() }

func (m *Model) headerLine(w int) string {
	left := " strmlocal › " + m.title()
	url := m.c.client.url + " "
	// The longest right side that fits: clock with its date, without it,
	// the URL alone.
	var rights []string
	switch {
	case m.streams.unreachable:
		rights = []string{"offline · " + url, "offline "}
	case m.c.clock.GetVirtual():
		now := m.c.clock.Now.AsTime()
		rights = []string{
			"virtual clock " + m.c.fmtTime(now, "2006-01-02 15:04:05") + " · " + url,
			"virtual " + m.c.fmtTime(now, "15:04:05") + " · " + url,
			url,
		}
	default:
		rights = []string{url}
	}
	line := left
	for _, right := range rights {
		if gap := w - lipgloss.Width(left) - lipgloss.Width(right); gap >= 1 {
			line = left + strings.Repeat(" ", gap) + right
			break
		}
	}
	return m.c.styles.header.Width(w).Render(ansi.Truncate(line, w, "…"))
}

func (m *Model) statusLine(w int) string {
	switch {
	case m.prompt != nil:
		return m.prompt.view()
	case m.status != "":
		return m.status
	case m.help.open:
		return m.help.status()
	}
	return m.current().status()
}

// helpLine is the bottom line: the screen's main keys, back, help and
// quit.
func (m *Model) helpLine(w int) string {
	k := m.c.keys
	b := m.current().shortHelp()
	if m.screen != screenStreams {
		b = append(b, k.back)
	}
	h := help.New()
	h.SetWidth(w)
	return h.ShortHelpView(append(b, k.help, k.quit))
}
