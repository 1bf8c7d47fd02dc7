package tui

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata")

// t0 is the sandbox's virtual clock at start.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeClock is the UI's clock in tests (rates): it moves only when set.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// harness runs a Model the way tea.Program does, minus the terminal: each
// command on its own goroutine, each message through Update on the test's
// goroutine. Nothing runs on a timer (after returns nil) and the tail
// hands over batches without waiting for a frame.
type harness struct {
	t     testing.TB
	m     *Model
	clock *fakeClock
	msgs  chan tea.Msg
	quit  chan struct{}
	// pending counts commands whose message has not been handled.
	pending int
}

func newHarness(t testing.TB, o Options) *harness {
	t.Helper()
	clock := &fakeClock{now: t0}
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	m.c.after = func(time.Duration, tea.Msg) tea.Cmd { return nil }
	m.c.frame = 0
	h := &harness{t: t, m: m, clock: clock, msgs: make(chan tea.Msg), quit: make(chan struct{})}
	t.Cleanup(func() {
		m.Close()
		close(h.quit)
	})
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return h
}

// sandboxHarness is a harness on sb that reads streams with creds.
func sandboxHarness(t testing.TB, sb *strmtest.Sandbox, creds map[string]*v1.Credentials) *harness {
	return newHarness(t, Options{
		Server:     sb.URL,
		HTTPClient: sb.HTTPClient,
		Credentials: func(name string) (*v1.Credentials, error) {
			if c, ok := creds[name]; ok {
				return c, nil
			}
			return nil, fmt.Errorf("no saved credentials for stream %s: create it with `strmlocal create stream %s`", name, name)
		},
	})
}

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	h.pending++
	go func() {
		msg := cmd()
		select {
		case h.msgs <- msg:
		case <-h.quit:
		}
	}()
}

// run executes cmd and handles the messages that follow until done
// reports true. It fails when nothing more can happen first.
func (h *harness) run(cmd tea.Cmd, done func() bool) {
	h.t.Helper()
	h.exec(cmd)
	for !done() {
		if h.pending == 0 {
			h.t.Fatalf("nothing left to run, and not done; frame:\n%s", h.frame())
		}
		msg := <-h.msgs
		h.pending--
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				h.exec(c)
			}
		default:
			h.exec(h.m.update(msg))
		}
	}
}

// key sends one key press and returns its command (not run).
func (h *harness) key(k string) tea.Cmd {
	return h.m.update(keyMsg(k))
}

// keyMsg builds the key press tea would deliver for k ("enter", "esc",
// "up", a printable character).
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// typeText sends each character of s as a key press.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.key(string(r))
	}
}

// frame is the view as plain text (the NoTTY colour profile: no escape
// sequences), which is what the golden frames hold.
func (h *harness) frame() string { return plain(h.m.View().Content) }

func plain(s string) string {
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.NoTTY}
	_, _ = w.WriteString(s)
	return b.String()
}

var (
	// Tink ciphertexts are base64 of 0x01 ‖ key id ‖ …: they start with "A"
	// and one of Q–f. Cut forms keep an ellipsis and maybe a few last
	// characters.
	cipherRE  = regexp.MustCompile(`(^|[^A-Za-z0-9+/])(A[Q-Za-f][A-Za-z0-9+/]{3,}=*(…[A-Za-z0-9+/=]*)?)`)
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	shortKeRE = regexp.MustCompile(`\b[0-9a-f]{8}…`)
)

// normalize replaces what differs between runs (ciphertexts, key links,
// the server's port) by placeholders of the same width, so the layout of a
// golden frame is the layout of the real one.
func normalize(frame, url string) string {
	port := url[strings.LastIndexByte(url, ':')+1:]
	frame = strings.ReplaceAll(frame, url, url[:len(url)-len(port)]+strings.Repeat("#", len(port)))
	fill := func(m, with string) string {
		var b strings.Builder
		for _, r := range m {
			switch r {
			case '…', '-':
				b.WriteRune(r)
			default:
				b.WriteString(with)
			}
		}
		return b.String()
	}
	// Group 2 of cipherRE is the ciphertext; group 1 the character before
	// it, so that words such as "RATE/s" are not taken for one.
	var b strings.Builder
	last := 0
	for _, ix := range cipherRE.FindAllStringSubmatchIndex(frame, -1) {
		b.WriteString(frame[last:ix[4]])
		b.WriteString(fill(frame[ix[4]:ix[5]], "x"))
		last = ix[5]
	}
	b.WriteString(frame[last:])
	frame = b.String()
	frame = uuidRE.ReplaceAllStringFunc(frame, func(m string) string { return fill(m, "k") })
	return shortKeRE.ReplaceAllStringFunc(frame, func(m string) string { return fill(m, "k") })
}

// golden compares a frame with testdata/name.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("frame %s differs from %s\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// seeded is a sandbox with the demo catalogue, streams demo, demo-2
// (CUMULATIVE 2), demo-0-1 (GRANULAR 0,1) and orders (whose credentials
// the UI is not given), and demo events from a fixed seed.
type seeded struct {
	sb    *strmtest.Sandbox
	demo  *strmtest.Stream
	creds map[string]*v1.Credentials
	rng   *rand.Rand
	sent  int
}

func newSeeded(t testing.TB, opts ...strmtest.Option) *seeded {
	t.Helper()
	sb := strmtest.New(t, append([]strmtest.Option{strmtest.WithVirtualClock(t0)}, opts...)...)
	s := &seeded{sb: sb, rng: rand.New(rand.NewPCG(7, 11)), creds: map[string]*v1.Credentials{}}
	s.demo = sb.CreateStream("demo")
	d2 := sb.CreateDerived("demo", 2)
	d01 := sb.CreateDerived("demo", 0, 1)
	sb.CreateStream("orders")
	for _, st := range []*strmtest.Stream{s.demo, d2, d01} {
		s.creds[st.Name] = st.Credentials
	}
	return s
}

var consents = []string{"[]", "[0]", "[0,1]", "[0,1,2]", "[0,1,2,3]", "[2]", "[3]"}

// send sends n demo events of five sessions, 250ms apart on the virtual
// clock.
func (s *seeded) send(t testing.TB, n int) {
	t.Helper()
	for range n {
		session := 1 + s.rng.IntN(5)
		ev := fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": %s}, "uniqueIdentifier": "user-%d", "consistentValue": "session-%d", "someSensitiveValue": "s-%03d", "notSensitiveValue": "page-%d"}`,
			consents[s.rng.IntN(len(consents))], session, session, s.rng.IntN(1000), 1+s.rng.IntN(9))
		if res := s.demo.Send("streammachine/demo/1.0.2", ev); !res[0].Accepted {
			t.Fatalf("event rejected: %v", res[0].Rejection)
		}
		s.sent++
		s.sb.Advance(250 * time.Millisecond)
	}
}
