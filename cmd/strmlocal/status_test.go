package main

import (
	"regexp"
	"testing"
	"time"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
	"google.golang.org/protobuf/types/known/timestamppb"
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

// In the scale-out mode status says where the log and the state are.
func TestStatusText(t *testing.T) {
	m := &v1.GetServerInfoResponse{
		Version: "devel", FormatVersion: 1, ServerId: "id", ScaleOut: "log in Kafka at k:9092, state in PostgreSQL at postgres://u:xxxxx@pg/db",
		StartTime: timestamppb.New(t0), Usage: &v1.Usage{Now: timestamppb.New(t0.Add(time.Minute)), SourceStreams: 1, DiskBytes: 99},
	}
	want := `server:    http://gw
version:   devel (data format 1)
server id: id
data:      log in Kafka at k:9092, state in PostgreSQL at postgres://u:xxxxx@pg/db (scale-out)
uptime:    1m0s
clock:     real, now 2026-11-22T12:01:00Z
streams:   1 source, 0 derived
events:    0
jobs:      0
`
	if got := statusText("http://gw", m); got != want {
		t.Fatalf("statusText:\n%s\nwant\n%s", got, want)
	}
}
