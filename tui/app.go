package tui

import (
	"context"
	"errors"
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

// screen is what the body of the frame shows.
type screen int

const (
	screenStreams screen = iota
	screenTail
	screenDetail
	screenSide
	screenKeys
)

// Model is the whole UI state. It is a tea.Model; its methods run on the
// program's goroutine only.
type Model struct {
	c      *common
	ctx    context.Context
	cancel context.CancelFunc

	screen screen
	back   []screen // where esc returns to
	help   bool
	mouse  bool
	prompt *prompt
	status string // a one-line message until the next key

	clock     *v1.GetClockResponse
	contracts map[string]*v1.EventContract
	asked     map[string]bool // contracts requested
	keyLinks  map[string]*keyLinksState

	streams streamsState
	tail    tailState
	detail  detailState
	side    sideState
	keys    keysState
}

// New returns the UI's model; Run runs it. Close releases what it holds
// (the tail reader) when it is not run by Run.
func New(o Options) (*Model, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		c: &common{
			opts: o, client: newClient(o), styles: defaultStyles(), keys: defaultKeyMap(),
			after: tick, frame: o.Frame, tails: &group{},
		},
		ctx: ctx, cancel: cancel,
		mouse:     true,
		contracts: map[string]*v1.EventContract{},
		asked:     map[string]bool{},
		keyLinks:  map[string]*keyLinksState{},
	}
	m.streams.init()
	m.tail.ring = newRing(o.History)
	return m, nil
}

// Close stops the tail and every call in flight, waits for every tail
// reader the UI started (the current one and any still ending after a
// cancel), and then closes idle connections: a call canceled while dialing
// leaves its connection to the pool when the dial completes, and a server
// waits for such an unused connection before it shuts down.
func (m *Model) Close() {
	m.stopTail()
	m.cancel()
	m.c.tails.wait()
	m.c.opts.HTTPClient.CloseIdleConnections()
}

// Init starts the first refresh.
func (m *Model) Init() tea.Cmd { return m.refresh() }

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	return m, m.update(msg)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
		// Heights as the bodies will have them, so that paging before the
		// next frame moves by a page of the new size.
		m.streams.scroll.height = m.streamsRows()
		m.detail.scroll.height = m.c.height - 3
		m.side.scroll.height = m.c.height - 4
		m.keys.scroll.height = m.c.height - 7
		m.tailKeepVisible()
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		return m.wheel(msg)
	case tea.MouseClickMsg:
		return m.click(msg)
	case refreshTickMsg:
		if msg.gen != m.streams.tickGen || m.streams.refreshing {
			return nil
		}
		return m.refresh()
	case streamsMsg:
		return m.applyStreams(msg)
	case tailOpenedMsg:
		return m.applyTailOpened(msg)
	case tailBatchMsg:
		return m.applyTailBatch(msg)
	case contractMsg:
		if msg.contract != nil {
			m.contracts[msg.ref] = msg.contract
		}
		return nil
	case keyLinksMsg:
		m.applyKeyLinks(msg)
		return nil
	case clockMsg:
		m.clock = msg.clock
		return nil
	case sideMsg:
		return m.applySide(msg)
	}
	return nil
}

// key handles a key press: the prompt and the help overlay first, then
// keys every screen shares, then the screen's own.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.keys
	if m.prompt != nil {
		return m.promptKey(msg)
	}
	m.status = ""
	if m.help {
		if key.Matches(msg, k.quit) && msg.String() == "ctrl+c" {
			return tea.Quit
		}
		m.help = false // any key closes the overlay
		return nil
	}
	switch {
	case key.Matches(msg, k.quit):
		return tea.Quit
	case key.Matches(msg, k.help):
		m.help = true
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
		return m.goBack()
	}
	switch m.screen {
	case screenStreams:
		return m.streamsKey(msg)
	case screenTail:
		return m.tailKey(msg)
	case screenDetail:
		return m.detailKey(msg)
	case screenSide:
		return m.sideKey(msg)
	case screenKeys:
		return m.keysKey(msg)
	}
	return nil
}

// open shows a screen, remembering the current one for esc.
func (m *Model) open(s screen) {
	if m.screen != s {
		m.back = append(m.back, m.screen)
	}
	m.screen = s
}

func (m *Model) goBack() tea.Cmd {
	prev := screenStreams
	if n := len(m.back); n > 0 {
		prev, m.back = m.back[n-1], m.back[:n-1]
	}
	if m.screen == screenTail && prev == screenStreams {
		m.stopTail()
	}
	m.screen = prev
	return nil
}

// wheel scrolls what is under the mouse.
func (m *Model) wheel(msg tea.MouseWheelMsg) tea.Cmd {
	if !m.mouse || m.help || m.prompt != nil {
		return nil
	}
	delta := 0
	switch msg.Button {
	case tea.MouseWheelUp:
		delta = -3
	case tea.MouseWheelDown:
		delta = 3
	default:
		return nil
	}
	switch m.screen {
	case screenStreams:
		m.streams.scroll.move(delta)
	case screenTail:
		m.tailMove(delta)
	case screenDetail:
		m.detail.scroll.move(delta)
	case screenSide:
		m.side.scroll.move(delta)
	case screenKeys:
		m.keys.scroll.move(delta)
	}
	return nil
}

// click selects the row under the mouse in the streams and tail tables.
func (m *Model) click(msg tea.MouseClickMsg) tea.Cmd {
	if !m.mouse || m.help || m.prompt != nil || msg.Button != tea.MouseLeft {
		return nil
	}
	y := msg.Y - 1 // the header line
	switch m.screen {
	case screenStreams:
		m.streams.scroll.click(y - 1) // the column titles
	case screenTail:
		m.tailClickRow(y - 1)
	}
	return nil
}

// contractFor returns the contract of ref, asking the server once when it
// is not known.
func (m *Model) askContract(ref string) tea.Cmd {
	if ref == "" || m.asked[ref] {
		return nil
	}
	m.asked[ref] = true
	return m.c.client.contractCmd(m.ctx, ref)
}

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
	bodyH := h - 3
	var body []string
	if m.help {
		body = m.helpBody(w, bodyH)
	} else {
		switch m.screen {
		case screenStreams:
			body = m.streamsBody(w, bodyH)
		case screenTail:
			body = m.tailBody(w, bodyH)
		case screenDetail:
			body = m.detailBody(w, bodyH)
		case screenSide:
			body = m.sideBody(w, bodyH)
		case screenKeys:
			body = m.keysBody(w, bodyH)
		}
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

func (m *Model) title() string {
	switch m.screen {
	case screenTail:
		return "tail " + m.tail.stream.GetName()
	case screenDetail:
		return "event " + m.detail.stream.GetName()
	case screenSide:
		return "side by side " + m.side.source.GetName()
	case screenKeys:
		return "key links " + m.keys.stream
	}
	return "streams"
}

func (m *Model) headerLine(w int) string {
	left := " strmlocal › " + m.title()
	url := m.c.client.url + " "
	// The longest right side that fits: clock with its date, without it,
	// the URL alone.
	var rights []string
	switch {
	case m.streams.unreachable:
		rights = []string{"offline · " + url, "offline "}
	case m.clock.GetVirtual():
		now := m.clock.Now.AsTime()
		rights = []string{
			"virtual clock " + m.fmtTime(now, "2006-01-02 15:04:05") + " · " + url,
			"virtual " + m.fmtTime(now, "15:04:05") + " · " + url,
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
	if m.prompt != nil {
		return m.prompt.view(m.c.styles)
	}
	if m.status != "" {
		return m.status
	}
	if m.help {
		return m.c.styles.dim.Render("any key closes help")
	}
	switch m.screen {
	case screenStreams:
		return m.streamsStatus()
	case screenTail:
		return m.tailStatus()
	case screenDetail, screenSide:
		return m.c.styles.dim.Render(legend)
	}
	return ""
}

func (m *Model) helpLine(w int) string {
	h := help.New()
	h.SetWidth(w)
	return h.ShortHelpView(m.shortHelp())
}
