package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	// What varies with the machine: elapsed time, rate, latencies.
	simTimesRE = regexp.MustCompile(`in [0-9.]+(µs|ms|s): [0-9]+ events/s`)
	simLatRE   = regexp.MustCompile(`p50 [0-9.]+(µs|ms|s), p99 [0-9.]+(µs|ms|s) \([0-9]+ requests\)`)
)

// scrubSim replaces timings in a simulate summary by placeholders and drops
// progress lines.
func scrubSim(s string) string {
	s = simTimesRE.ReplaceAllString(s, "in <time>: <rate> events/s")
	s = simLatRE.ReplaceAllString(s, "p50 <p50>, p99 <p99> (<n> requests)")
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "sent ") || strings.Contains(l, " in <time>") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func (c *cli) simulate(args string) (int, string, string) {
	c.t.Helper()
	code, out, errs := c.runRaw(strings.Fields(args)...)
	return code, scrubSim(out), scrubSim(errs)
}

// TestSimulateClickstream is the example: 10000 clickstream events
// with seed 42, then a GRANULAR [0,1] derived stream shows only the events
// sent with marketing consent, with their PII decrypted unless the customer
// was forgotten.
func TestSimulateClickstream(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo-clicks")
	c.mustRun("create stream --derived-from demo-clicks --levels 0,1 --consent-type granular")
	code, out, errs := c.simulate("simulate clickstream demo-clicks --count 10000 --seed 42")
	want := `simulated clickstream to demo-clicks via connect, seed 42
sent 10000 events in <time>: <rate> events/s
accepted: 10000
rejected: 0
forgotten: 7 data subjects (8 key links, 53 events)
latency per request: p50 <p50>, p99 <p99> (<n> requests)
`
	if code != 0 || out != want || errs != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errs)
	}

	source := egressJSON(t, c, "demo-clicks")
	marketing := egressJSON(t, c, "demo-clicks-0-1")
	var wantOffsets []uint64
	for i, ev := range source {
		if slices.Equal(ev.StrmMeta.ConsentLevels, []int32{0, 1}) {
			wantOffsets = append(wantOffsets, uint64(i))
		}
	}
	if len(source) != 10000 || len(marketing) != len(wantOffsets) || len(marketing) == 0 {
		t.Fatalf("source %d events, marketing view %d, of which the source has %d with consent [0,1]", len(source), len(marketing), len(wantOffsets))
	}
	decrypted := 0
	for i, ev := range marketing {
		src := source[wantOffsets[i]]
		if !slices.Equal(ev.StrmMeta.ConsentLevels, []int32{0, 1}) || ev.URL != src.URL || ev.EventType != src.EventType {
			t.Fatalf("marketing event %d is not source event %d: %+v / %+v", i, wantOffsets[i], ev, src)
		}
		// Decrypted: the customer is "anonymous" or "customer-N"; a
		// forgotten customer's session stays ciphertext.
		if ev.Customer.ID == "anonymous" || strings.HasPrefix(ev.Customer.ID, "customer-") {
			decrypted++
		} else if ev.Customer.ID != src.Customer.ID {
			t.Fatalf("marketing event %d: customer id neither decrypted nor the source's ciphertext", i)
		}
	}
	t.Logf("10000 events, %d with marketing consent, %d of them decrypted", len(marketing), decrypted)
	if decrypted == 0 || decrypted == len(marketing) {
		t.Errorf("%d of %d decrypted: want both decrypted and forgotten events", decrypted, len(marketing))
	}
}

type clickJSON struct {
	StrmMeta struct {
		ConsentLevels []int32 `json:"consentLevels"`
	} `json:"strmMeta"`
	URL       string `json:"url"`
	EventType string `json:"eventType"`
	Customer  struct {
		ID string `json:"id"`
	} `json:"customer"`
}

func egressJSON(t *testing.T, c *cli, stream string) []clickJSON {
	t.Helper()
	var out []clickJSON
	for _, line := range strings.Split(strings.TrimSpace(c.mustRun("egress "+stream+" --follow=false")), "\n") {
		var ev clickJSON
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestSimulateInvalid sends every generator's events with a fifth invalid,
// through both paths: the summaries agree and count the rejections by
// reason, all expected.
func TestSimulateInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
	}{
		{"demo", `sent 1000 events in <time>: <rate> events/s
accepted: 806
rejected: 194, all as expected (194 invalid on purpose)
  consentLevels strmMeta/consentLevels: 31
  decode consistentValue: 36
  eventContract strmMeta/eventContractRef: 40
  regex consistentValue: 87
latency per request: p50 <p50>, p99 <p99> (<n> requests)
`},
		{"clickstream", `sent 1000 events in <time>: <rate> events/s
accepted: 780
rejected: 220, all as expected (220 invalid on purpose)
  consentLevels strmMeta/consentLevels: 46
  decode conversion: 57
  eventContract strmMeta/eventContractRef: 43
  keyField producerSessionId: 34
  regex customer/id: 19
  regex url: 21
forgotten: 1 data subject (1 key link, 6 events)
latency per request: p50 <p50>, p99 <p99> (<n> requests)
`},
		{"sensors", `sent 1000 events in <time>: <rate> events/s
accepted: 784
rejected: 216, all as expected (216 invalid on purpose)
  consentLevels strmMeta/consentLevels: 23
  decode: 22
  decode rpm: 42
  decode strmMeta/consentLevels/1: 14
  decode strmMeta/consentLevels/2: 5
  eventContract strmMeta/eventContractRef: 39
  regex machineId: 21
  regex siteId: 50
latency per request: p50 <p50>, p99 <p99> (<n> requests)
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			c.mustRun("create stream s")
			for _, via := range []string{"connect", "http"} {
				code, out, errs := c.simulate(fmt.Sprintf("simulate %s s --count 1000 --seed 7 --invalid-ratio 0.2 --via %s", tc.name, via))
				want := fmt.Sprintf("simulated %s to s via %s, seed 7\n", tc.name, via) + tc.want
				if code != 0 || out != want || errs != "" {
					t.Fatalf("via %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", via, code, out, want, errs)
				}
			}
		})
	}
}

func TestSimulateErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.mustRun("create stream --derived-from demo --levels 1")
	for _, tc := range []struct {
		args, stderr string
	}{
		{"simulate pageviews demo", "strmlocal: unknown simulator \"pageviews\": use demo, clickstream, sensors\n"},
		{"simulate demo", "strmlocal: accepts 2 arg(s), received 1\n"},
		{"simulate demo demo --count 5 --duration 1s", "strmlocal: --count and --duration exclude each other: give one\n"},
		{"simulate demo demo --via grpc", "strmlocal: invalid --via \"grpc\": use connect or http\n"},
		{"simulate demo demo --concurrency 0", "strmlocal: invalid --concurrency 0: give 1 or more\n"},
		{"simulate demo demo --invalid-ratio 2", "strmlocal: invalid ratio 2: give a fraction from 0 to 1\n"},
		{"simulate demo demo --rate -1 --count 1", "strmlocal: rate -1: give events per second, or 0 for as fast as possible\n"},
		{"simulate demo demo --consent-levels 0/x", "strmlocal: invalid --consent-levels: consent levels \"0/x\": \"x\" is not a level (a whole number from 0); write entries like 0/1/2\n"},
		// No saved credentials, and the server has no such stream either:
		// a typo, not a stream to create.
		{"simulate demo nosuch", "strmlocal: stream \"nosuch\" not found (streams: demo, demo-1)\n"},
		{"simulate demo demp", "strmlocal: stream \"demp\" not found; did you mean demo?\n"},
		{"simulate demo demo-1 --count 1 --seed 1", "strmlocal: stream \"demo-1\" is derived from \"demo\" and accepts no events; send to \"demo\"\n"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, _, errs := c.simulate(tc.args)
			if code != 1 || errs != tc.stderr {
				t.Errorf("exit %d\nstderr: %s\nwant:   %s", code, errs, tc.stderr)
			}
		})
	}
}
