package tui

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// offlineHarness is a harness whose server is never asked (a closed port):
// tests drive Update with messages they build.
func offlineHarness(t testing.TB, history int) *harness {
	return newHarness(t, Options{
		Server:      "http://127.0.0.1:1",
		History:     history,
		Credentials: func(string) (*v1.Credentials, error) { return nil, errors.New("none") },
	})
}

var demoContract = &v1.EventContract{
	Ref:       "streammachine/example/1.3.0",
	PiiFields: map[string]int32{"uniqueIdentifier": 1, "consistentValue": 2, "someSensitiveValue": 3},
}

// record builds a demo record at offset i, one second apart.
func record(i int, consent ...int32) *v1.Record {
	return &v1.Record{
		Offset:           uint64(i),
		Time:             timestamppb.New(t0.Add(time.Duration(i) * time.Second)),
		SchemaRef:        "streammachine/demo/1.0.2",
		EventContractRef: demoContract.Ref,
		KeyLink:          fmt.Sprintf("%08x-0000-4000-8000-000000000000", i%3),
		ConsentLevels:    consent,
		Json: fmt.Sprintf(`{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":1,"timestamp":1,"keyLink":"k","billingId":null,"consentLevels":[]},`+
			`"uniqueIdentifier":"AXWiBHWnepQ%04dzz=","consistentValue":"AXWiBHU8StX%04dzz=","someSensitiveValue":"AXWiBHWpI2%04dzz=","notSensitiveValue":"page-%d"}`, i, i%5, i, i%4),
	}
}

func records(from, n int) []*v1.Record {
	out := make([]*v1.Record, n)
	for i := range out {
		out[i] = record(from+i, 2)
	}
	return out
}

// tailOn puts the model on the tail screen of stream demo, as if a tail
// had been opened, without a server.
func tailOn(h *harness) {
	m := h.m
	m.c.contracts[demoContract.Ref] = demoContract
	m.c.asked[demoContract.Ref] = true
	m.open(screenTail)
	m.tail.stream = &v1.Stream{Name: "demo"}
	m.tail.follow = true
	m.tail.from = "last 10,000"
}

func batch(h *harness, recs []*v1.Record) tea.Cmd {
	return h.m.update(tailBatchMsg{gen: h.m.tail.gen, recs: recs})
}

func TestTailFollowPauseResume(t *testing.T) {
	h := offlineHarness(t, 50)
	tailOn(h)
	batch(h, records(0, 30))
	tl := &h.m.tail
	if !tl.follow || tl.ring.n != 30 || tl.scroll.offset != 30-h.m.tail.rows() {
		t.Fatalf("follow %v rows %d top %d", tl.follow, tl.ring.n, tl.scroll.offset)
	}
	// Up pauses on the row before the newest.
	h.key("up")
	if tl.follow || h.m.tail.selectedRecord().Offset != 28 {
		t.Fatalf("follow %v selected %d", tl.follow, h.m.tail.selectedRecord().Offset)
	}
	// Paused, new rows fill the table up to its size; the rest is held
	// and no more are asked for.
	batch(h, records(30, 40))
	if tl.ring.n != 50 || len(tl.held) != 20 || h.m.tail.selectedRecord().Offset != 28 {
		t.Fatalf("rows %d held %d selected %d", tl.ring.n, len(tl.held), h.m.tail.selectedRecord().Offset)
	}
	if !strings.Contains(h.frame(), "newer waiting (f)") {
		t.Fatalf("frame:\n%s", h.frame())
	}
	// f follows again: the held rows enter, the oldest leave.
	h.key("f")
	if !tl.follow || tl.ring.n != 50 || len(tl.held) != 0 || tl.ring.at(tl.ring.base).rec.Offset != 20 {
		t.Fatalf("follow %v rows %d held %d oldest %d", tl.follow, tl.ring.n, len(tl.held), tl.ring.at(tl.ring.base).rec.Offset)
	}
	frame := h.frame()
	if !strings.Contains(frame, "       69 ") || !strings.Contains(frame, " FOLLOWING ") {
		t.Fatalf("frame:\n%s", frame)
	}
	// space pauses, g goes to the oldest row held.
	h.key("space")
	h.key("g")
	if h.m.tail.selectedRecord().Offset != 20 || tl.scroll.offset != 0 {
		t.Fatalf("selected %d top %d", h.m.tail.selectedRecord().Offset, tl.scroll.offset)
	}
}

func TestTailFollowDropsOldest(t *testing.T) {
	h := offlineHarness(t, 100)
	tailOn(h)
	// A batch larger than the table: only its newest rows are kept.
	batch(h, records(0, 1000))
	tl := &h.m.tail
	if tl.ring.n != 100 || tl.ring.at(tl.ring.base).rec.Offset != 900 || tl.ring.at(tl.ring.end()-1).rec.Offset != 999 {
		t.Fatalf("rows %d", tl.ring.n)
	}
}

func TestTailJumpAndFilter(t *testing.T) {
	h := offlineHarness(t, 100)
	tailOn(h)
	batch(h, records(0, 40))
	// : jumps to a held offset without reading again.
	h.key(":")
	h.typeText("12")
	if got := plain(h.m.statusLine(80)); got != "jump to offset › 12█" {
		t.Fatalf("prompt %q", got)
	}
	if cmd := h.key("enter"); cmd != nil {
		t.Fatal("a held offset should not restart the tail")
	}
	if h.m.tail.follow || h.m.tail.selectedRecord().Offset != 12 {
		t.Fatalf("selected %d", h.m.tail.selectedRecord().Offset)
	}
	// @ jumps to a held time of day.
	h.key("@")
	h.typeText("12:00:30")
	h.key("enter")
	if h.m.tail.selectedRecord().Offset != 30 {
		t.Fatalf("selected %d, want 30", h.m.tail.selectedRecord().Offset)
	}
	// / filters on a field value; rows arriving later are filtered too.
	h.key("/")
	h.typeText("notSensitiveValue=page-3")
	h.key("enter")
	if n := h.m.tail.ring.visibleLen(); n != 10 {
		t.Fatalf("%d rows match, want 10", n)
	}
	if h.m.tail.selectedRecord().Offset != 31 {
		t.Fatalf("selected %d, want 31 (the first match after 30)", h.m.tail.selectedRecord().Offset)
	}
	batch(h, records(40, 10))
	if n := h.m.tail.ring.visibleLen(); n != 12 {
		t.Fatalf("%d rows match, want 12", n)
	}
	if !strings.Contains(h.frame(), " PAUSED  · 12/50 rows match notSensitiveValue=page-3 · at offset 31\n") {
		t.Fatalf("frame:\n%s", h.frame())
	}
	// A bad filter says what a filter is; an empty one clears it.
	h.key("/")
	h.key("ctrl+u")
	h.typeText("nonsense")
	h.key("enter")
	if h.m.status == "" || !strings.Contains(plain(h.m.status), "a filter is field=value") {
		t.Fatalf("status %q", h.m.status)
	}
	h.key("/")
	for range len("notSensitiveValue=page-3") {
		h.key("backspace")
	}
	h.key("enter")
	if h.m.tail.ring.filter != nil || h.m.tail.ring.visibleLen() != 50 {
		t.Fatalf("filter %v rows %d", h.m.tail.ring.filter, h.m.tail.ring.visibleLen())
	}
	// A jump past the rows held restarts the tail there.
	h.key(":")
	h.typeText("5000")
	if cmd := h.key("enter"); cmd == nil || h.m.tail.ring.n != 0 || h.m.tail.from != "from offset 5000" {
		t.Fatalf("restart: rows %d from %q", h.m.tail.ring.n, h.m.tail.from)
	}
}

func TestRingFilterSurvivesEviction(t *testing.T) {
	r := newRing(4)
	f, err := parseFilter("notSensitiveValue=page-1")
	if err != nil {
		t.Fatal(err)
	}
	r.setFilter(f)
	for _, rec := range records(0, 10) {
		r.push(rec)
	}
	// Held: offsets 6-9; page-1 are offsets 1, 5, 9.
	if r.visibleLen() != 1 || r.at(r.visibleAt(0)).rec.Offset != 9 {
		t.Fatalf("matches %v", r.matches)
	}
	if _, ok := r.findOffset(5); ok {
		t.Fatal("offset 5 was evicted")
	}
	if seq, ok := r.findOffset(7); !ok || r.at(seq).rec.Offset != 7 {
		t.Fatal("offset 7 is held")
	}
}

func TestDroppedReason(t *testing.T) {
	cum := &v1.Stream{Name: "demo-2", DerivedFrom: "demo", ConsentType: v1.ConsentType_CONSENT_TYPE_CUMULATIVE, Levels: []int32{2}}
	gran := &v1.Stream{Name: "demo-0-1", DerivedFrom: "demo", ConsentType: v1.ConsentType_CONSENT_TYPE_GRANULAR, Levels: []int32{0, 1}}
	checkout := &v1.Stream{Name: "clicks-checkout", DerivedFrom: "clicks", ConsentType: v1.ConsentType_CONSENT_TYPE_CUMULATIVE, Levels: []int32{1}, EmitFilter: "eventType=checkout"}
	for _, c := range []struct {
		stream  *v1.Stream
		consent []int32
		want    string
	}{
		{cum, []int32{0}, "dropped: consent [0] does not cover level 2"},
		{cum, nil, "dropped: consent [] does not cover level 2"},
		{gran, []int32{0}, "dropped: consent [0] does not cover level 1"},
		{gran, []int32{2, 3}, "dropped: consent [2,3] does not cover levels 0, 1"},
		{checkout, []int32{0, 1}, "dropped: emit filter eventType=checkout"},
		{checkout, []int32{0}, "dropped: consent [0] does not cover level 1"},
	} {
		if got := droppedReason(c.stream, c.consent); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.stream.Name, c.consent, got, c.want)
		}
	}
}

func TestDetailMarksPII(t *testing.T) {
	h := offlineHarness(t, 10)
	tailOn(h)
	rec := record(7, 2)
	rec.Json = `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":5,"timestamp":1,"keyLink":"k","billingId":null,"consentLevels":[2]},"uniqueIdentifier":"user-7","consistentValue":"session-7","someSensitiveValue":"AXWiBHWpI20007zz=","notSensitiveValue":"page-1"}`
	rec.Decrypted = []string{"consistentValue", "uniqueIdentifier"}
	rec.Encrypted = []string{"someSensitiveValue"}
	rec.Shredded = false
	derived := &v1.Stream{Name: "demo-2", DerivedFrom: "demo", ConsentType: v1.ConsentType_CONSENT_TYPE_CUMULATIVE, Levels: []int32{2}}
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 40})
	h.m.update(openDetailMsg{stream: derived, rec: rec})
	h.m.update(keyLinksMsg{stream: "demo", links: []*v1.KeyLink{{
		KeyLink: rec.KeyLink, Stream: "demo",
		CreateTime: timestamppb.New(t0), RotateTime: timestamppb.New(t0.Add(24 * time.Hour)),
		ExpireTime: timestamppb.New(t0.Add(8 * 24 * time.Hour)),
		Shredded:   true, ShredTime: timestamppb.New(t0.Add(8 * 24 * time.Hour)),
	}}})
	frame := h.frame()
	for _, want := range []string{
		"demo-2 · offset 7 · cumulative ≥2",
		"key link  00000001-0000-4000-8000-000000000000",
		"period    2026-11-22 12:00 → 2026-11-23 12:00, key expires 2026-11-30 12:00",
		"shredded  yes, 2026-11-30 12:00: its fields can never be decrypted",
		"decrypted consistentValue, uniqueIdentifier\nencrypted someSensitiveValue\n",
		`L1+   "uniqueIdentifier": "user-7",`,
		`L2+   "consistentValue": "session-7",`,
		`L3*   "someSensitiveValue": "AXWiBHWpI20007zz=",`,
		`      "notSensitiveValue": "page-1"`,
		`        "consentLevels": [2]`,
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("missing %q in\n%s", want, frame)
		}
	}
	// In colour, decrypted plaintext and ciphertext look different.
	raw := h.m.View().Content
	dec := h.m.c.styles.decrypted.Render(`"user-7",`)
	ct := h.m.c.styles.cipher.Render(`"AXWiBHWpI20007zz=",`)
	if !strings.Contains(raw, dec) || !strings.Contains(raw, ct) || dec == `"user-7",` || ansi.Strip(ct) == ct {
		t.Fatalf("styles not applied:\n%q", raw)
	}
}

func TestFrameFitsAndResizes(t *testing.T) {
	h := offlineHarness(t, 100)
	tailOn(h)
	batch(h, records(0, 60))
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 15}, {80, 24}} {
		h.m.update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, screen := range []func(){
			func() { h.m.screen = screenTail },
			func() { h.m.help.open = true },
			func() { h.m.help.open = false; h.key("enter") }, // detail of the newest row
		} {
			screen()
			lines := strings.Split(h.frame(), "\n")
			if len(lines) != size[1] {
				t.Fatalf("%dx%d: %d lines", size[0], size[1], len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Fatalf("%dx%d: line %d is %d wide: %q", size[0], size[1], i, w, l)
				}
			}
		}
		h.key("esc")
	}
	h.m.update(tea.WindowSizeMsg{Width: 30, Height: 5})
	if got := h.frame(); got != "terminal too small: strmlocal…" {
		t.Fatalf("small: %q", got)
	}
}

func TestHelpOverlayAndQuit(t *testing.T) {
	h := offlineHarness(t, 10)
	tailOn(h)
	h.key("?")
	frame := h.frame()
	for _, want := range []string{"keys · tail demo", ":       jump to offset", "@       jump to time", "/       filter field=value", "esc back", "q   quit"} {
		if !strings.Contains(frame, want) {
			t.Errorf("help lacks %q:\n%s", want, frame)
		}
	}
	h.key("x") // any key closes it
	if h.m.help.open {
		t.Fatal("help still open")
	}
	if cmd := h.key("q"); cmd == nil || cmd() != tea.Quit() {
		t.Fatal("q does not quit")
	}
	if cmd := h.key("ctrl+c"); cmd == nil || cmd() != tea.Quit() {
		t.Fatal("ctrl+c does not quit")
	}
}

func TestUnreachableServerRetries(t *testing.T) {
	// A port nothing listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + lis.Addr().String()
	lis.Close()
	h := newHarness(t, Options{Server: url, Credentials: func(string) (*v1.Credentials, error) { return nil, errors.New("none") }})
	h.run(h.m.Init(), func() bool { return !h.m.streams.refreshing })
	frame := h.frame()
	for _, want := range []string{
		"cannot reach the strmlocal server at " + url,
		"retrying every 2s · r retries now · q quits",
		"offline",
	} {
		if !strings.Contains(strings.ReplaceAll(frame, "\n  ", " "), want) {
			t.Errorf("missing %q in\n%s", want, frame)
		}
	}
	// r tries again at once.
	if cmd := h.key("r"); cmd == nil || !h.m.streams.refreshing {
		t.Fatal("r does not retry")
	}
}

// Consent levels read as the CLI and the events' JSON write them, in the
// tail, the detail and the side by side.
func TestConsentListMatchesCLI(t *testing.T) {
	for _, c := range []struct {
		levels []int32
		want   string
	}{{nil, "[]"}, {[]int32{2}, "[2]"}, {[]int32{0, 1}, "[0,1]"}, {[]int32{0, 1, 2, 3}, "[0,1,2,3]"}} {
		if got := consentList(c.levels); got != c.want {
			t.Errorf("%v: %q, want %q", c.levels, got, c.want)
		}
	}
	h := offlineHarness(t, 10)
	tailOn(h)
	batch(h, []*v1.Record{record(0, 0, 1)})
	if got := h.frame(); !strings.Contains(got, "        0 12:00:00.000 00000000… [0,1]  ") {
		t.Fatalf("tail:\n%s", got)
	}
	h.key("enter")
	if got := h.frame(); !strings.Contains(got, "\nconsent   [0,1]\n") {
		t.Fatalf("detail:\n%s", got)
	}
}

// An event taller than the screen says how much is out of view, as the
// pager's last row.
func TestDetailScrollHint(t *testing.T) {
	h := offlineHarness(t, 10)
	tailOn(h)
	batch(h, []*v1.Record{record(0, 0, 1)})
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 14})
	h.key("enter")
	lastBody := func() string {
		lines := strings.Split(h.frame(), "\n")
		return lines[len(lines)-3]
	}
	if got := lastBody(); got != "↓ 11 more lines · j/k scroll" {
		t.Fatalf("top: %q in\n%s", got, h.frame())
	}
	h.key("j")
	if got := lastBody(); got != "↓ 10 more lines · j/k scroll" {
		t.Fatalf("after j: %q", got)
	}
	h.key("G")
	if got := lastBody(); got != "↑ 11 lines above · j/k scroll" {
		t.Fatalf("bottom: %q in\n%s", got, h.frame())
	}
	// Tall enough, no hint.
	h.m.update(tea.WindowSizeMsg{Width: 80, Height: 40})
	if got := h.frame(); strings.Contains(got, "j/k scroll") {
		t.Fatalf("hint on a screen that fits:\n%s", got)
	}
}

// A filter on a field the stream leaves encrypted says so, rather than
// silently matching nothing.
func TestFilterOnEncryptedField(t *testing.T) {
	const warning = "field %s is encrypted in this view: it matches ciphertext only"
	cum := &v1.Stream{Name: "demo-2", DerivedFrom: "demo", ConsentType: v1.ConsentType_CONSENT_TYPE_CUMULATIVE, Levels: []int32{2}}
	gran := &v1.Stream{Name: "demo-0-1", DerivedFrom: "demo", ConsentType: v1.ConsentType_CONSENT_TYPE_GRANULAR, Levels: []int32{0, 1}}
	for _, c := range []struct {
		stream    *v1.Stream
		field     string
		encrypted bool
	}{
		{&v1.Stream{Name: "demo"}, "uniqueIdentifier", true},
		{&v1.Stream{Name: "demo"}, "notSensitiveValue", false},
		{cum, "consistentValue", false},
		{cum, "someSensitiveValue", true},
		{gran, "uniqueIdentifier", false},
		{gran, "consistentValue", true},
	} {
		h := offlineHarness(t, 100)
		tailOn(h)
		h.m.tail.stream = c.stream
		batch(h, records(0, 40))
		h.key("/")
		h.typeText(c.field + "=user-1")
		h.key("enter")
		got := plain(h.m.tail.status())
		want := " FOLLOWING  · 0/40 rows match " + c.field + "=user-1"
		if c.encrypted {
			want = " FOLLOWING  · " + fmt.Sprintf(warning, c.field) + " · 0/40 rows match " + c.field + "=user-1"
		}
		if got != want {
			t.Errorf("%s %s: status\n%q, want\n%q", c.stream.Name, c.field, got, want)
		}
		body := strings.Join(strings.Fields(h.frame()), " ")
		if w := "no rows match " + c.field + "=user-1: " + fmt.Sprintf(warning, c.field); strings.Contains(body, w) != c.encrypted {
			t.Errorf("%s %s: body (want %q: %v)\n%s", c.stream.Name, c.field, w, c.encrypted, h.frame())
		}
	}
}
