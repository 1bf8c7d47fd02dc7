package main

import (
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

// newCLIWith is newCLI on a sandbox with opts instead of a fixed clock.
func newCLIWith(t *testing.T, opts ...strmtest.Option) *cli {
	sb := strmtest.New(t, opts...)
	return &cli{t: t, server: sb.URL, config: t.TempDir()}
}

// TestClockRotationAndRetention walks a stream through a key rotation and
// the end of a key's retention on a virtual clock.
func TestClockRotationAndRetention(t *testing.T) {
	c := newCLIWith(t, strmtest.WithVirtualClock(t0))
	c.expect("clock show", 0, "NOW                   VIRTUAL\n2026-11-22T12:00:00Z  yes\n", "")
	c.expect("clock show -o json", 0, `{
  "now": "2026-11-22T12:00:00Z",
  "virtual": true
}
`, "")
	sendDemo(c)
	var l labels
	l.scrub(c.mustRun("keys list demo"))

	// The next day, the session's next event gets a new key link.
	c.expect("clock advance 25h", 0, "clock advanced by 25h to 2026-11-23T13:00:00Z: 0 keys shredded\n", "")
	c.stdin = demoEvent("[2]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 4)\n")
	c.expectLabeled(&l, "keys list demo", 0,
		"KEY LINK                              CREATED               ROTATES AT            EXPIRES AT            SHREDDED\n"+
			"<key-1----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  no\n"+
			"<key-2----------------------------->  2026-11-23T13:00:00Z  2026-11-24T13:00:00Z  2026-12-01T13:00:00Z  no\n", "")

	// A week after the first period ended, its key is gone: the derived
	// stream can no longer decrypt the first day's events.
	c.expect("clock advance 7d", 0, "clock advanced by 7d to 2026-11-30T13:00:00Z: 1 key shredded\n", "")
	c.expectLabeled(&l, "keys list demo", 0,
		"KEY LINK                              CREATED               ROTATES AT            EXPIRES AT            SHREDDED\n"+
			"<key-1----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  2026-11-30T13:00:00Z\n"+
			"<key-2----------------------------->  2026-11-23T13:00:00Z  2026-11-24T13:00:00Z  2026-12-01T13:00:00Z  no\n", "")
	c.expectLabeled(&l, "egress demo-2 --follow=false", 0,
		meta("[2]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[3]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			`{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":<nonce>,"timestamp":1795438800000,"keyLink":"<key-2----------------------------->","billingId":null,"consentLevels":[2]}`+
			`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-4>","notSensitiveValue":"plain"}`+"\n", "")
	c.expect("clock advance 1d12h -o json", 0, `{
  "now": "2026-12-02T01:00:00Z",
  "keysShredded": 1
}
`, "")
}

func TestClockErrors(t *testing.T) {
	virtual := newCLIWith(t, strmtest.WithVirtualClock(t0))
	real := newCLI(t)
	for _, tc := range []struct {
		c            *cli
		args, stderr string
	}{
		{virtual, "clock advance", "accepts 1 arg(s), received 0"},
		{virtual, "clock advance tomorrow", `invalid duration "tomorrow": use Go syntax (90m, 25h, 1h30m) or days (8d)`},
		{virtual, "clock advance 8days", `invalid duration "8days": use Go syntax (90m, 25h, 1h30m) or days (8d)`},
		{virtual, "clock advance -- -1h", "the clock only moves forward: give a positive duration"},
		{virtual, "clock advance 0d", "the clock only moves forward: give a positive duration"},
		{virtual, "clock show extra", `unknown command "extra" for "strmlocal clock show"`},
		{real, "clock advance 1h", "the server runs on the real clock; start it with --clock virtual to move time"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := tc.c.run(strings.Fields(tc.args)...)
			if want := "strmlocal: " + tc.stderr + "\n"; code != 1 || out != "" || errs != want {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, want)
			}
		})
	}
	real.expect("clock show", 0, "NOW                   VIRTUAL\n2026-11-22T12:00:00Z  no\n", "")
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"25h":    25 * time.Hour,
		"90m":    90 * time.Minute,
		"8d":     8 * 24 * time.Hour,
		"1d12h":  36 * time.Hour,
		"1.5d":   36 * time.Hour,
		".5d":    12 * time.Hour,
		"2d30m":  48*time.Hour + 30*time.Minute,
		"1h1d":   25 * time.Hour,
		"500ms":  500 * time.Millisecond,
		"10d10s": 240*time.Hour + 10*time.Second,
	} {
		if got, err := parseDuration(in); got != want || err != nil {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "8", "8 d", "1dd", "-2d", "0"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}
