package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

// jobsHeader is the header of the jobs table.
const jobsHeader = "NAME           KIND            STREAM  CONNECTOR  STATE    LAG  EVENTS  LAST ERROR\n"

func TestBatchExporterCommands(t *testing.T) {
	c, sb := newJobsCLI(t)
	dir := sb.CreateLocalConnector(t, "dir")
	demo := sb.CreateStream("demo")

	// Defaults: the only connector, name <connector>-<stream>, 60s.
	c.expect("create batch-exporter demo", 0,
		"NAME      KIND            STREAM  CONNECTOR  STATE    LAG  EVENTS  LAST ERROR\n"+
			"dir-demo  batch-exporter  demo    dir        RUNNING  0    0       \n", "")
	c.expect("get job dir-demo", 0, `name:            dir-demo
kind:            batch-exporter
stream:          demo
data connector:  dir
config:          {"includeExistingEvents":false,"interval":"1m0s","maxEventsPerFile":100000,"pathPrefix":""}
created:         2026-11-22T12:00:00Z
state:           RUNNING
cursor:          0
lag:             0 events
events:          0
bytes:           0
objects:         0
last success:    never
last error:      none
retries:         0
next run:        2026-11-22T12:01:00Z
`, "")
	c.expect("create batch-exporter demo --export-keys --interval 90s --path-prefix keys/demo", 0,
		"NAME           KIND          STREAM  CONNECTOR  STATE    LAG  EVENTS  LAST ERROR\n"+
			"dir-demo-keys  key-exporter  demo    dir        RUNNING  0    0       \n", "")
	c.expect("create batch-exporter demo --name big --data-connector dir --max-events-per-file 10 --include-existing-events --interval 1h -o json", 0, `{
  "job": {
    "name": "big",
    "kind": "batch-exporter",
    "stream": "demo",
    "dataConnector": "dir",
    "config": {
      "includeExistingEvents": true,
      "interval": "1h0m0s",
      "maxEventsPerFile": 10,
      "pathPrefix": ""
    },
    "createTime": "2026-11-22T12:00:00Z",
    "status": {
      "state": "JOB_STATE_RUNNING",
      "nextRunTime": "2026-11-22T13:00:00Z"
    }
  }
}
`, "")
	c.mustRun("create stream other --save=false")
	c.mustRun("create batch-exporter other")
	all := jobsHeader +
		"big            batch-exporter  demo    dir        RUNNING  0    0       \n" +
		"dir-demo       batch-exporter  demo    dir        RUNNING  0    0       \n" +
		"dir-demo-keys  key-exporter    demo    dir        RUNNING  0    0       \n" +
		"dir-other      batch-exporter  other   dir        RUNNING  0    0       \n"
	c.expect("list jobs", 0, all, "")
	c.expect("list batch-exporters", 0, all, "")
	c.expect("list jobs --stream other", 0,
		"NAME       KIND            STREAM  CONNECTOR  STATE    LAG  EVENTS  LAST ERROR\n"+
			"dir-other  batch-exporter  other   dir        RUNNING  0    0       \n", "")
	c.expect("get batch-exporter dir-demo-keys", 0, `name:            dir-demo-keys
kind:            key-exporter
stream:          demo
data connector:  dir
config:          {"includeExistingEvents":false,"interval":"1m30s","pathPrefix":"keys/demo"}
created:         2026-11-22T12:00:00Z
state:           RUNNING
cursor:          0
lag:             0 events
events:          0 key links
bytes:           0
objects:         0
last success:    never
last error:      none
retries:         0
next run:        2026-11-22T12:01:30Z
`, "")
	c.expect("get job dir-other -o json", 0, `{
  "job": {
    "name": "dir-other",
    "kind": "batch-exporter",
    "stream": "other",
    "dataConnector": "dir",
    "config": {
      "includeExistingEvents": false,
      "interval": "1m0s",
      "maxEventsPerFile": 100000,
      "pathPrefix": ""
    },
    "createTime": "2026-11-22T12:00:00Z",
    "status": {
      "state": "JOB_STATE_RUNNING",
      "nextRunTime": "2026-11-22T12:01:00Z"
    }
  }
}
`, "")

	// Pause: the cursor stays while events arrive.
	c.expect("pause job dir-demo", 0, "paused job dir-demo: PAUSED at cursor 0, lag 0\n", "")
	c.expectError("pause job dir-demo", `job "dir-demo" is paused already`)
	demo.Send("streammachine/demo/1.0.2", demoEvent("[1]", "session-1"))
	c.expect("list jobs --stream demo", 0, jobsHeader+
		"big            batch-exporter  demo    dir        RUNNING  1    0       \n"+
		"dir-demo       batch-exporter  demo    dir        PAUSED   1    0       \n"+
		"dir-demo-keys  key-exporter    demo    dir        RUNNING  1    0       \n", "")
	if out := c.mustRun("get job dir-demo"); !strings.Contains(out, "\nstate:           PAUSED\n") || !strings.Contains(out, "\nlag:             1 event\n") || !strings.HasSuffix(out, "\nnext run:        not scheduled (paused)\n") {
		t.Fatalf("get job of a paused job:\n%s", out)
	}
	// Resume runs it at once, from its cursor.
	c.expect("resume job dir-demo", 0, "resumed job dir-demo: RUNNING at cursor 0, lag 1\n", "")
	waitFor(t, func() bool { return sb.Job(t, "dir-demo").Status.LastSuccessTime != nil })
	code, out, _ := c.run("get", "job", "dir-demo")
	bytes := sb.Job(t, "dir-demo").Status.BytesExported
	if want := `name:            dir-demo
kind:            batch-exporter
stream:          demo
data connector:  dir
config:          {"includeExistingEvents":false,"interval":"1m0s","maxEventsPerFile":100000,"pathPrefix":""}
created:         2026-11-22T12:00:00Z
state:           RUNNING
cursor:          1
lag:             0 events
events:          1
bytes:           ` + fmt.Sprint(bytes) + `
objects:         1
last success:    2026-11-22T12:00:00Z
last error:      none
retries:         0
next run:        2026-11-22T12:01:00Z
`; code != 0 || out != want || bytes == 0 {
		t.Fatalf("get job after resume: exit %d\n%s\nwant\n%s", code, out, want)
	}
	if got, want := strmtest.ReadExportedLines(t, dir, ""), demo.JSON(); !slices.Equal(got, want) {
		t.Fatalf("exported\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c.expectError("resume job dir-demo", `job "dir-demo" is running already`)
	for _, vs := range [][2]string{{"pause", "JOB_STATE_PAUSED"}, {"resume", "JOB_STATE_RUNNING"}} {
		verb, state := vs[0], vs[1]
		out := c.mustRun(verb + " job dir-demo-keys -o json")
		if !strings.HasPrefix(out, "{\n  \"job\": {\n    \"name\": \"dir-demo-keys\",\n") || !strings.Contains(out, `"state": "`+state+`"`) {
			t.Fatalf("%s job -o json:\n%s", verb, out)
		}
	}

	// Delete.
	c.expect("delete job dir-demo-keys", 0, "deleted job dir-demo-keys\n", "")
	c.expect("delete batch-exporter big -o json", 0, "{}\n", "")
	c.expectError("delete job big", `job "big" not found (jobs: dir-demo, dir-other); see what exists with `+"`strmlocal list`")
	c.expectError("delete data-connector dir", `data connector "dir" is used by jobs (dir-demo, dir-other); delete them first, or delete recursively (--recursive)`)
	c.expect("delete data-connector dir --recursive", 0, "deleted job dir-demo\ndeleted job dir-other\ndeleted data connector dir\n", "")
	c.expect("list batch-exporters -o json", 0, "{}\n", "")
	// What they wrote stays.
	if got := strmtest.ReadExportedLines(t, dir, ""); len(got) != 1 {
		t.Fatalf("after delete: %d exported lines, want 1", len(got))
	}
}

func TestJobCommandErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo --save=false")
	c.mustRun("create stream --derived-from demo --levels 2 --save=false")
	c.expectError("create batch-exporter demo", "dataConnector: there are no data connectors; create one first")
	c.expectError("get job nope", `job "nope" not found: there are no jobs; see what exists with `+"`strmlocal list`")
	c.mustRun("create data-connector local dir --path " + t.TempDir())
	c.mustRun("create batch-exporter demo")
	for _, tc := range []struct{ args, stderr string }{
		{"create batch-exporter", "accepts 1 arg(s), received 0"},
		{"create batch-exporter nope", `stream "nope" not found (streams: demo, demo-2)`},
		{"create batch-exporter demo", `job "dir-demo" already exists; pick another name, or delete it first`},
		{"create batch-exporter demo --name x --interval 10s", "config.interval: 10s is out of bounds: give 30s to 1h"},
		{"create batch-exporter demo --name x --interval 2h", "config.interval: 2h0m0s is out of bounds: give 30s to 1h"},
		{"create batch-exporter demo --name x --interval soon", `invalid argument "soon" for "--interval" flag: time: invalid duration "soon"`},
		{"create batch-exporter demo --name x --max-events-per-file 0", "config.maxEventsPerFile: minimum: got 0, want 1"},
		{"create batch-exporter demo --export-keys --max-events-per-file 10", "--max-events-per-file is for exporters of events; a key exporter (--export-keys) writes one file per run: leave it out"},
		{"create batch-exporter demo --name x --data-connector nope", `data connector "nope" not found (data connectors: dir); see what exists with ` + "`strmlocal list`"},
		{"create batch-exporter demo --name x --path-prefix /abs", `config.pathPrefix: "/abs" must not start with '/': it is relative to the connector's root`},
		{"create batch-exporter demo --name a/b", `name: invalid job name "a/b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"create batch-exporter demo-2 --export-keys", `stream: key exporters export the keys of a source stream, and "demo-2" is derived from "demo" (it shows its PII decrypted already); export the keys of "demo"`},
		{"get job nope", `job "nope" not found (jobs: dir-demo); see what exists with ` + "`strmlocal list`"},
		{"get batch-exporter nope", `job "nope" not found (jobs: dir-demo); see what exists with ` + "`strmlocal list`"},
		{"delete batch-exporter nope", `job "nope" not found (jobs: dir-demo); see what exists with ` + "`strmlocal list`"},
		{"pause job nope", `job "nope" not found (jobs: dir-demo); see what exists with ` + "`strmlocal list`"},
		{"resume job nope", `job "nope" not found (jobs: dir-demo); see what exists with ` + "`strmlocal list`"},
		{"resume job dir-demo", `job "dir-demo" is running already`},
		{"pause job", "accepts 1 arg(s), received 0"},
		{"list jobs --stream nope", `stream "nope" not found (streams: demo, demo-2)`},
		{"list jobs extra", `unknown command "extra" for "strmlocal list jobs"`},
	} {
		t.Run(tc.args, func(sub *testing.T) {
			c.t = sub
			defer func() { c.t = t }()
			c.expectError(tc.args, tc.stderr)
		})
	}
}

// A batch exporter on a derived stream, over existing and new events, run
// by advancing a virtual clock: the exported lines are what egress prints.
func TestBatchExporterEndToEnd(t *testing.T) {
	c := newCLIWith(t, strmtest.WithVirtualClock(t0))
	dir := t.TempDir()
	c.mustRun("create data-connector local dir --path " + dir)
	sendDemo(c) // demo and demo-2, 4 events of which demo-2 shows 2
	c.expect("create batch-exporter demo-2 --include-existing-events --path-prefix exports/demo-2", 0,
		"NAME        KIND            STREAM  CONNECTOR  STATE    LAG  EVENTS  LAST ERROR\n"+
			"dir-demo-2  batch-exporter  demo-2  dir        RUNNING  4    0       \n", "")
	c.stdin = demoEvent("[2]", "session-2") + "\n" + demoEvent("[1]", "session-2") + "\n" + demoEvent("[3]", "session-3") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	c.stdin = ""
	if lines := strmtest.ReadExportedLines(t, dir, "exports/demo-2"); len(lines) != 0 {
		t.Fatalf("exported before the interval: %q", lines)
	}
	c.expect("clock advance 2m", 0, "clock advanced by 2m to 2026-11-22T12:02:00Z: 0 keys shredded, 1 job run\n", "")
	egress := strings.Split(strings.TrimSuffix(c.mustRun("egress demo-2 --follow=false"), "\n"), "\n")
	if len(egress) != 4 {
		t.Fatalf("egress shows %d events, want 4:\n%s", len(egress), strings.Join(egress, "\n"))
	}
	if got := strmtest.ReadExportedLines(t, dir, "exports/demo-2"); !slices.Equal(got, egress) {
		t.Fatalf("exported lines\n%s\nwant what egress prints\n%s", strings.Join(got, "\n"), strings.Join(egress, "\n"))
	}
	out := c.mustRun("get job dir-demo-2")
	for _, want := range []string{"\nstate:           RUNNING\n", "\ncursor:          7\n", "\nlag:             0 events\n", "\nevents:          4\n",
		"\nobjects:         1\n", "\nlast success:    2026-11-22T12:02:00Z\n", "\nlast error:      none\n", "\nnext run:        2026-11-22T12:03:00Z\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get job has no %q:\n%s", want, out)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A job whose connector fails is retried on every due run, shows its last
// error, and is FAILED when its retry budget is spent; resume runs it again.
func TestFailingJob(t *testing.T) {
	c, sb := newJobsCLI(t, strmtest.WithVirtualClock(t0))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sb.CreateConnector(t, "broken", "local", map[string]string{"path": file + "/sub"})
	sb.CreateStream("demo").Send("streammachine/demo/1.0.2", demoEvent("[1]", "session-1"))
	c.mustRun("create batch-exporter demo --include-existing-events")
	c.mustRun("clock advance 1m")
	lastError := `directory "` + file + `/sub": put 2026-11-22T12:01:00-stream-<client-id---------------------uuid>---0.jsonl: mkdir not a directory`
	_, out, _ := c.run("get", "job", "broken-demo")
	for _, want := range []string{"\nstate:           RUNNING\n", "\nlag:             1 event\n", "\nlast success:    never\n",
		"\nlast error:      " + lastError + " (at 2026-11-22T12:01:00Z)\n", "\nretries:         1\n", "\nnext run:        2026-11-22T12:01:01Z\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get job has no %q:\n%s", want, out)
		}
	}
	// The default budget is 10 runs; each advance runs the job once.
	for range 9 {
		c.mustRun("clock advance 1m")
	}
	c.expect("list jobs", 0,
		"NAME         KIND            STREAM  CONNECTOR  STATE   LAG  EVENTS  LAST ERROR\n"+
			"broken-demo  batch-exporter  demo    broken     FAILED  1    0       "+shorten(lastError, 60)+"\n", "")
	_, out, _ = c.run("get", "job", "broken-demo")
	if !strings.Contains(out, "\nstate:           FAILED\n") || !strings.Contains(out, "\nretries:         10\n") || !strings.HasSuffix(out, "\nnext run:        not scheduled (failed)\n") {
		t.Fatalf("get job of a failed job:\n%s", out)
	}
	c.expect("resume job broken-demo", 0, "resumed job broken-demo: RUNNING at cursor 0, lag 1\n", "")
}
