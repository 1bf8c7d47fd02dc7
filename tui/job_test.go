package tui

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"connectrpc.com/connect"
	"github.com/charmbracelet/x/ansi"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// jobsSeeded is newSeeded with a local data connector "dir" and four jobs,
// run once on the virtual clock:
//
//   - dir-demo (batch-exporter of demo) and dir-demo-2 (of the derived
//     demo-2): RUNNING, 8 events behind;
//   - dir-demo-keys (key-exporter of demo): PAUSED;
//   - blocked (batch-exporter of demo under pathPrefix "blocked", where a
//     file stands): its one run fails, and with a retry budget of 1 it is
//     FAILED.
func jobsSeeded(t *testing.T) *seeded {
	t.Helper()
	// The connector's directory before the server: cleanups run last to
	// first, so the server (and a job still writing) stops before the
	// directory is removed.
	dir := t.TempDir()
	s := newSeeded(t, strmtest.Option(func(o *rpc.Options) { o.JobRetries = 1 }))
	ctx := context.Background()
	// A file where the blocked job's directory would go: creating the
	// directory fails, even for root.
	if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := func(v map[string]any) *structpb.Struct {
		st, err := structpb.NewStruct(v)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if _, err := s.sb.Client.Connectors.CreateDataConnector(ctx, connect.NewRequest(&v1.CreateDataConnectorRequest{
		DataConnector: &v1.DataConnector{Name: "dir", Kind: "local", Config: cfg(map[string]any{"path": dir})},
	})); err != nil {
		t.Fatal(err)
	}
	for _, j := range []*v1.Job{
		{Kind: "batch-exporter", Stream: "demo"},
		{Kind: "batch-exporter", Stream: "demo-2"},
		{Kind: "key-exporter", Stream: "demo"},
		{Name: "blocked", Kind: "batch-exporter", Stream: "demo", Config: cfg(map[string]any{"pathPrefix": "blocked"})},
	} {
		if _, err := s.sb.Client.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: j})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.sb.Client.Jobs.PauseJob(ctx, connect.NewRequest(&v1.PauseJobRequest{Name: "dir-demo-keys"})); err != nil {
		t.Fatal(err)
	}
	s.send(t, 16)
	s.sb.Advance(time.Minute) // every running job runs once
	s.send(t, 8)
	if st := jobState(t, s, "blocked"); st.State != v1.JobState_JOB_STATE_FAILED {
		t.Fatalf("blocked: %v, want FAILED", st)
	}
	return s
}

// jobState is the status of a job as the server has it.
func jobState(t *testing.T, s *seeded, name string) *v1.JobStatus {
	t.Helper()
	res, err := s.sb.Client.Jobs.GetJob(context.Background(), connect.NewRequest(&v1.GetJobRequest{Name: name}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Job.Status
}

// exportedBytesRE is the bytes a job wrote, which differ between runs by
// a few (the events it exports carry ciphertexts and nonces of their own):
// the golden frame has them as '#'s of the same width.
var exportedBytesRE = regexp.MustCompile(`bytes {9}[0-9,]+`)

// selectRow moves the tree's cursor to the row of key (a stream's name,
// or "job\x00" and a job's name).
func selectRow(t *testing.T, h *harness, key string) {
	t.Helper()
	st := &h.m.streams
	h.key("home")
	for range st.rows {
		if r, _ := st.selected(); r.key() == key {
			return
		}
		h.key("down")
	}
	t.Fatalf("no row %q", key)
}

func TestGoldenStreamsWithJobs(t *testing.T) {
	s := jobsSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded && !h.m.streams.refreshing })
	st := &h.m.streams
	var got []string
	for _, r := range st.rows {
		got = append(got, r.branch+r.key())
	}
	want := []string{
		"demo", "├─ demo-0-1", "├─ demo-2", "│  └─ job\x00dir-demo-2",
		"├─ job\x00blocked", "├─ job\x00dir-demo", "└─ job\x00dir-demo-keys", "orders",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	selectRow(t, h, "job\x00dir-demo")
	frame := normalize(h.frame(), s.sb.URL)
	for _, want := range []string{
		"job blocked          batch-exporter    FAILED   lag 24",
		"job dir-demo-keys    key-exporter      PAUSED",
		"enter job status",
	} {
		if !strings.Contains(frame, want) {
			t.Errorf("missing %q in\n%s", want, frame)
		}
	}
	golden(t, "streams-jobs", frame)

	// The selection stays on the job across a refresh, and the failed
	// job's status line says why it failed.
	h.run(st.refresh(), func() bool { return !st.refreshing })
	if r, _ := st.selected(); r.key() != "job\x00dir-demo" {
		t.Fatalf("selected %q after a refresh", r.key())
	}
	selectRow(t, h, "job\x00blocked")
	if got := h.frame(); !strings.Contains(got, "blocked failed after 1 retries: directory") {
		t.Fatalf("status of a failed job:\n%s", got)
	}
}

func TestGoldenJobView(t *testing.T) {
	s := jobsSeeded(t)
	h := sandboxHarness(t, s.sb, s.creds)
	h.run(h.m.Init(), func() bool { return h.m.streams.loaded && !h.m.streams.refreshing })
	selectRow(t, h, "job\x00dir-demo")
	if cmd := h.key("enter"); cmd != nil {
		t.Fatal("opening a job view needs no call")
	}
	if h.m.screen != screenJob || h.m.job.name != "dir-demo" {
		t.Fatalf("screen %d job %q", h.m.screen, h.m.job.name)
	}
	golden(t, "job", exportedBytesRE.ReplaceAllStringFunc(normalize(h.frame(), s.sb.URL), func(m string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '#'
			}
			return r
		}, m)
	}))

	// p pauses: the call is a command (Update does not wait for it), the
	// answer shows in the view, the status line and the tree at once.
	cmd := h.key("p")
	if cmd == nil || h.m.job.busy != "pausing" {
		t.Fatalf("p: busy %q", h.m.job.busy)
	}
	if got := h.frame(); !strings.Contains(got, "pausing dir-demo…") {
		t.Fatalf("while pausing:\n%s", got)
	}
	h.run(cmd, func() bool { return h.m.job.busy == "" })
	if st := jobState(t, s, "dir-demo"); st.State != v1.JobState_JOB_STATE_PAUSED || st.Cursor != 16 {
		t.Fatalf("server after p: %v", st)
	}
	frame := h.frame()
	for _, want := range []string{"state         PAUSED · r resumes it", "next run      not scheduled (paused)", "paused dir-demo at offset 16; r resumes it from there"} {
		if !strings.Contains(frame, want) {
			t.Errorf("after p: missing %q in\n%s", want, frame)
		}
	}
	if j, _ := h.m.streams.job("dir-demo"); j.Status.State != v1.JobState_JOB_STATE_PAUSED {
		t.Errorf("tree after p: %v", j.Status.State)
	}
	// A refresh keeps it paused (the server says so too now).
	h.run(h.m.streams.refresh(), func() bool { return !h.m.streams.refreshing })
	if h.m.job.job.Status.State != v1.JobState_JOB_STATE_PAUSED {
		t.Errorf("view after a refresh: %v", h.m.job.job.Status.State)
	}

	// p again: the server's refusal is the status line.
	h.run(h.key("p"), func() bool { return h.m.job.busy == "" })
	if got := h.frame(); !strings.Contains(got, `cannot pause dir-demo: job "dir-demo" is paused already`) {
		t.Fatalf("p twice:\n%s", got)
	}

	// r resumes.
	h.run(h.key("r"), func() bool { return h.m.job.busy == "" })
	if st := jobState(t, s, "dir-demo"); st.State != v1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("server after r: %v", st)
	}
	if got := h.frame(); !strings.Contains(got, "resumed dir-demo: it runs from offset 16 now") || !strings.Contains(got, "state         RUNNING") {
		t.Fatalf("after r:\n%s", got)
	}

	// The help overlay lists the job's keys; esc goes back to the tree,
	// on the job.
	h.key("?")
	frame = h.frame()
	for _, want := range []string{"keys · job dir-demo", "p   pause job", "r   resume job", "esc back"} {
		if !strings.Contains(frame, want) {
			t.Errorf("help lacks %q:\n%s", want, frame)
		}
	}
	h.key("x")
	h.key("esc")
	if r, _ := h.m.streams.selected(); h.m.screen != screenStreams || r.key() != "job\x00dir-demo" {
		t.Fatalf("esc: screen %d row %q", h.m.screen, r.key())
	}
}

// A failed job's view, from a job built here: the last error with its
// time, no next run, the config.
func TestGoldenJobViewFailed(t *testing.T) {
	h := offlineHarness(t, 10)
	now := t0.Add(10 * time.Minute)
	h.m.c.clock = &v1.GetClockResponse{Now: timestamppb.New(now), Virtual: true}
	cfg, err := structpb.NewStruct(map[string]any{"pathPrefix": "exports/demo", "interval": "1m0s", "maxEventsPerFile": 100000, "includeExistingEvents": true})
	if err != nil {
		t.Fatal(err)
	}
	job := &v1.Job{
		Name: "dir-demo", Kind: "batch-exporter", Stream: "demo", DataConnector: "dir", Config: cfg,
		CreateTime: timestamppb.New(t0),
		Status: &v1.JobStatus{
			State: v1.JobState_JOB_STATE_FAILED, Cursor: 1200, Lag: 345,
			EventsExported: 1200, BytesExported: 987654, ObjectsWritten: 3,
			LastSuccessTime: timestamppb.New(t0.Add(3 * time.Minute)),
			LastError:       `directory "/data/out": put exports/demo/2026-11-22T12:04:00Z-stream-0e6f1c9a-3b7d-4f0e-9a51-2c8d7e6b5a41---0.jsonl: mkdir not a directory`,
			LastErrorTime:   timestamppb.New(t0.Add(9*time.Minute + 30*time.Second)),
			Retries:         10,
		},
	}
	h.m.streams.loaded = true
	h.m.streams.rows = buildTree([]*v1.Stream{{Name: "demo"}}, []*v1.Job{job})
	h.m.streams.scroll.len = len(h.m.streams.rows)
	h.m.streams.jobs = map[string]*v1.Job{job.Name: job}
	h.key("down")
	h.key("enter")
	if h.m.screen != screenJob {
		t.Fatalf("screen %d", h.m.screen)
	}
	golden(t, "job-failed", normalize(h.frame(), h.m.c.client.url))

	// Every size fits.
	for _, size := range [][2]int{{120, 40}, {60, 15}, {40, 8}} {
		h.m.update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
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
}
