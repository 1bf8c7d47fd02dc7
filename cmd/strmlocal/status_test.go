package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

func TestStatus(t *testing.T) {
	dir := t.TempDir()
	c, sb := newJobsCLI(t, strmtest.WithVirtualClock(t0), strmtest.WithDataDir(dir))
	sb.CreateStream("demo").Send("streammachine/demo/1.0.2", demoEvent("[1]", "s-1"), demoEvent("[2]", "s-2"))
	sb.CreateDerived("demo", 1)
	sb.CreateLocalConnector(t, "dir")
	sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{})
	sb.Advance(time.Hour)
	code, out, errs := c.run("status")
	want := `^server:    ` + regexp.QuoteMeta(sb.URL) + `
version:   devel \(data format 1\)
server id: <client-id-+uuid>
data:      ` + regexp.QuoteMeta(dir) + `
started:   2026-11-22T12:00:00Z \(by the virtual clock\)
clock:     virtual, now 2026-11-22T13:00:00Z
streams:   1 source, 1 derived
events:    2
jobs:      1
disk:      [0-9.]+ (KiB|MiB)
$`
	if code != 0 || errs != "" || !regexp.MustCompile(want).MatchString(out) {
		t.Fatalf("status: exit %d\n%s%s\nwant\n%s", code, out, errs, want)
	}
	code, out, _ = c.run("status", "-o", "json")
	if code != 0 || !regexp.MustCompile(`"usage": \{\n    "sourceStreams": 1,\n    "derivedStreams": 1,\n    "events": "2",\n    "jobs": 1,\n    "diskBytes": "\d+",\n    "now": "2026-11-22T13:00:00Z",\n    "virtualClock": true\n  \}`).MatchString(out) {
		t.Fatalf("status -o json:\n%s", out)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
