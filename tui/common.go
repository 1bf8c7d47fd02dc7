package tui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// Defaults of Options.
const (
	DefaultRefresh = time.Second
	DefaultRetry   = 2 * time.Second
	DefaultFrame   = time.Second / 60 // one tail message per frame at 60 Hz
	DefaultHistory = 10000
)

// Options configure the UI. The zero value of every field but Server and
// Credentials is a usable default.
type Options struct {
	// Server is the base URL of the strmlocal server, e.g.
	// "http://127.0.0.1:50051". Required.
	Server string
	// HTTPClient carries every call. Default: a client of its own (a clone
	// of http.DefaultTransport), so that Close can drop its connections.
	HTTPClient *http.Client
	// ClientOptions apply to the management services (streams, jobs, keys,
	// clock, event contracts), e.g. an interceptor that sends the admin token. They
	// are not used for egress, which authenticates as the stream.
	ClientOptions []connect.ClientOption
	// Credentials returns the credentials of a stream, which reading its
	// events needs. An error is shown, as one line, in the pane of that
	// stream. Required.
	Credentials func(stream string) (*v1.Credentials, error)
	// Now is the clock for rates ("events per second"). Default time.Now.
	Now func() time.Time
	// Location is the time zone times are shown in. Default time.Local.
	Location *time.Location
	// Refresh is how often the streams, jobs, counts, key links and clock
	// are read again. Default: DefaultRefresh.
	Refresh time.Duration
	// Retry is how often an unreachable server is tried again.
	// Default: DefaultRetry.
	Retry time.Duration
	// Frame is the longest a batch of tailed events waits before it is
	// handed to the UI: at most one tail message per frame.
	// Default: DefaultFrame.
	Frame time.Duration
	// History is how many rows the tail keeps in memory to scroll back
	// through (older ones are read again by jumping to them).
	// Default: DefaultHistory.
	History int
	// Input and Output are the terminal (Run only). Default stdin/stdout.
	Input  io.Reader
	Output io.Writer
}

// ErrNoServer is returned by New without Options.Server.
var ErrNoServer = errors.New("tui: no server URL")

// withDefaults returns a copy of o with defaults filled in, or an error
// naming what is missing.
func (o Options) withDefaults() (Options, error) {
	if o.Server == "" {
		return o, ErrNoServer
	}
	if o.Credentials == nil {
		return o, errors.New("tui: no Credentials func")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Frame <= 0 {
		o.Frame = DefaultFrame
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	return o, nil
}

// common is what every screen shares: the options, the terminal size, the
// styles and the key map, and what the server said about event contracts,
// key links and its clock, which several screens show. Screens hold a
// pointer to the one common; it changes only on the program's goroutine
// (in Update), never in a command.
type common struct {
	opts   Options
	client *client
	// ctx is the UI's: Close cancels it, which ends every call and tail.
	ctx    context.Context
	width  int
	height int
	styles styles
	keys   keyMap
	// after schedules msg after d; tests replace it so that nothing runs
	// on a timer.
	after func(d time.Duration, msg tea.Msg) tea.Cmd
	// frame is the tail's batching delay; tests set it to zero.
	frame time.Duration
	// tails runs the tail readers; Close joins it.
	tails *group

	clock     *v1.GetClockResponse
	contracts map[string]*v1.EventContract
	asked     map[string]bool // contracts requested
	keyLinks  map[string]*keyLinksState
}

// bodyHeight is the rows between the header line and the status and help
// lines.
func (c *common) bodyHeight() int { return c.height - 3 }

// askContract returns a command that reads the contract of ref, the first
// time ref is asked about only.
func (c *common) askContract(ref string) tea.Cmd {
	if ref == "" || c.asked[ref] {
		return nil
	}
	c.asked[ref] = true
	return c.client.contractCmd(c.ctx, ref)
}

// keyLinksState is what the UI knows of a source stream's key links.
type keyLinksState struct {
	links   []*v1.KeyLink
	byID    map[string]*v1.KeyLink
	err     string
	loading bool
}

// askKeyLinks reads the key links of a source stream again.
func (c *common) askKeyLinks(source string) tea.Cmd {
	ks := c.keyLinks[source]
	if ks == nil {
		ks = &keyLinksState{}
		c.keyLinks[source] = ks
	}
	ks.loading = true
	return c.client.keyLinksCmd(c.ctx, source)
}

// learn keeps what a message says about contracts, key links or the clock,
// and reports whether msg was such a message.
func (c *common) learn(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case contractMsg:
		if msg.contract != nil {
			c.contracts[msg.ref] = msg.contract
		}
	case keyLinksMsg:
		ks := c.keyLinks[msg.stream]
		if ks == nil {
			ks = &keyLinksState{}
			c.keyLinks[msg.stream] = ks
		}
		ks.loading = false
		if msg.err != "" {
			ks.err = msg.err
			break
		}
		ks.err, ks.links = "", msg.links
		ks.byID = make(map[string]*v1.KeyLink, len(msg.links))
		for _, k := range msg.links {
			ks.byID[k.KeyLink] = k
		}
	case clockMsg:
		c.clock = msg.clock
	default:
		return false
	}
	return true
}

func (c *common) fmtTime(t time.Time, layout string) string {
	return t.In(c.opts.Location).Format(layout)
}

// sourceOf is the source stream a stream's key links belong to.
func sourceOf(st *v1.Stream) string {
	if st.GetDerivedFrom() != "" {
		return st.DerivedFrom
	}
	return st.GetName()
}

func tick(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

// styles are the few looks the UI uses. Ciphertext, decrypted and masked
// values differ in colour and, for terminals without colour, by the marker
// beside them (see markers in jsonview.go).
type styles struct {
	header    lipgloss.Style
	title     lipgloss.Style
	dim       lipgloss.Style
	selected  lipgloss.Style
	colHead   lipgloss.Style
	errorText lipgloss.Style
	warn      lipgloss.Style
	cipher    lipgloss.Style
	decrypted lipgloss.Style
	masked    lipgloss.Style
	level     lipgloss.Style
	key       lipgloss.Style
	box       lipgloss.Style
	paused    lipgloss.Style
	following lipgloss.Style
}

func defaultStyles() styles {
	return styles{
		header:    lipgloss.NewStyle().Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#3C3C8C")),
		title:     lipgloss.NewStyle().Bold(true),
		dim:       lipgloss.NewStyle().Foreground(lipgloss.Color("#808080")),
		selected:  lipgloss.NewStyle().Reverse(true),
		colHead:   lipgloss.NewStyle().Bold(true).Underline(true),
		errorText: lipgloss.NewStyle().Foreground(lipgloss.Color("#FF5F5F")).Bold(true),
		warn:      lipgloss.NewStyle().Foreground(lipgloss.Color("#FFAF00")),
		cipher:    lipgloss.NewStyle().Foreground(lipgloss.Color("#AF87D7")).Italic(true),
		decrypted: lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(lipgloss.Color("#87D787")).Bold(true),
		masked:    lipgloss.NewStyle().Foreground(lipgloss.Color("#D7AF5F")),
		level:     lipgloss.NewStyle().Foreground(lipgloss.Color("#5FAFFF")).Bold(true),
		key:       lipgloss.NewStyle().Foreground(lipgloss.Color("#5FD7D7")),
		box:       lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
		paused:    lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(lipgloss.Color("#FFAF00")).Bold(true),
		following: lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(lipgloss.Color("#87D787")).Bold(true),
	}
}

// keyMap holds every binding; the help overlay lists them per screen.
type keyMap struct {
	quit, help, back, retry, mouse             key.Binding
	up, down, pageUp, pageDown, top, bottom    key.Binding
	enter, keys, side, shredded                key.Binding
	pause, resume                              key.Binding
	follow, jumpOffset, jumpTime, filter       key.Binding
	next, prev, nextStream, prevStream         key.Binding
	promptApply, promptCancel, promptBackspace key.Binding
}

func defaultKeyMap() keyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		quit:            b([]string{"q", "ctrl+c"}, "q", "quit"),
		help:            b([]string{"?"}, "?", "help"),
		back:            b([]string{"esc", "backspace"}, "esc", "back"),
		retry:           b([]string{"r"}, "r", "refresh / retry"),
		mouse:           b([]string{"m"}, "m", "mouse on/off"),
		up:              b([]string{"up", "k"}, "↑/k", "up"),
		down:            b([]string{"down", "j"}, "↓/j", "down"),
		pageUp:          b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		pageDown:        b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		top:             b([]string{"home", "g"}, "g", "oldest"),
		bottom:          b([]string{"end", "G"}, "G", "newest, follow"),
		enter:           b([]string{"enter"}, "enter", "open"),
		keys:            b([]string{"K"}, "K", "key links"),
		side:            b([]string{"s"}, "s", "side by side"),
		shredded:        b([]string{"x"}, "x", "shredded only on/off"),
		pause:           b([]string{"p"}, "p", "pause job"),
		resume:          b([]string{"r"}, "r", "resume job"),
		follow:          b([]string{"f", "space"}, "f/space", "follow/pause"),
		jumpOffset:      b([]string{":"}, ":", "jump to offset"),
		jumpTime:        b([]string{"@"}, "@", "jump to time"),
		filter:          b([]string{"/"}, "/", "filter field=value"),
		next:            b([]string{"right", "l", "n"}, "→/n", "next offset"),
		prev:            b([]string{"left", "h", "p"}, "←/p", "previous offset"),
		nextStream:      b([]string{"tab"}, "tab", "next derived stream"),
		prevStream:      b([]string{"shift+tab"}, "shift+tab", "previous derived"),
		promptApply:     b([]string{"enter"}, "enter", "apply"),
		promptCancel:    b([]string{"esc"}, "esc", "cancel"),
		promptBackspace: b([]string{"backspace"}, "backspace", "delete"),
	}
}
