package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/keys"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// jobEnv is an app on a virtual clock with a local connector "dir".
type jobEnv struct {
	a   *app.App
	clk *clock.Virtual
	dir string
}

func newJobEnv(t *testing.T, open opener, o app.Options) *jobEnv {
	t.Helper()
	e := &jobEnv{clk: clock.NewVirtual(t0), dir: t.TempDir()}
	o.Clock = e.clk
	e.a = open(t, o)
	if _, err := e.a.CreateConnector(app.NewConnector{Name: "dir", Kind: "local", Config: fmt.Appendf(nil, `{"path": %q}`, e.dir)}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *jobEnv) advance(t *testing.T, d time.Duration) app.Advanced {
	t.Helper()
	adv, err := e.a.Advance(d)
	if err != nil {
		t.Fatal(err)
	}
	return adv
}

// files returns the names of the files below dir (relative, sorted) and
// their lines, joined in name order.
func files(t *testing.T, dir string) ([]string, []string) {
	t.Helper()
	var names, lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return names, lines
}

// shown returns the JSON of every record the stream shows.
func shown(t *testing.T, a *app.App, st *catalog.Stream) []string {
	t.Helper()
	r, err := a.Reader(st)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for from := uint64(0); ; {
		p, err := r.Read(context.Background(), from, app.MaxPageRecords)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range p.Records {
			out = append(out, rec.JSON)
		}
		if p.Next == from || len(p.Records) == 0 {
			return out
		}
		from = p.Next
	}
}

// A batch exporter writes each interval's new events as JSON Lines, named
// by time and stream UUID, split by maxEventsPerFile, no file when nothing
// is new; the lines are what the stream shows.
func TestBatchExporter(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		e := newJobEnv(t, open, app.Options{})
		src := create(t, e.a, catalog.NewStream{Name: "demo"})
		derived := create(t, e.a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{1}}})
		for i := range 3 {
			ingest(t, e.a, src, demo(fmt.Sprint("s", i), 1, 0, 1))
		}
		// Before the job: only with includeExistingEvents.
		for _, n := range []app.NewJob{
			{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"pathPrefix": "enc", "maxEventsPerFile": 2, "includeExistingEvents": true}`)},
			{Kind: "batch-exporter", Stream: derived.Name, Config: []byte(`{"pathPrefix": "plain/x"}`)},
		} {
			if _, err := e.a.CreateJob(n); err != nil {
				t.Fatal(err)
			}
		}
		info, err := e.a.Job("dir-demo")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(info.Config), `{"pathPrefix":"enc","interval":"1m0s","maxEventsPerFile":2,"includeExistingEvents":true}`; got != want {
			t.Errorf("config %s, want %s", got, want)
		}
		if info.State.State != catalog.JobRunning || info.Lag != 3 || info.State.Cursor != 0 || !info.State.NextRun.Equal(t0.Add(time.Minute)) {
			t.Errorf("new job: %+v lag %d", info.State, info.Lag)
		}
		if info, _ := e.a.Job("dir-demo-1"); info.State.Cursor != 3 || info.Lag != 0 {
			t.Errorf("new job without existing events: cursor %d lag %d, want 3 and 0", info.State.Cursor, info.Lag)
		}
		ingest(t, e.a, src, demo("s3", 1, 0, 1), demo("s4", 1, 0))

		// Not due yet.
		if adv := e.advance(t, 59*time.Second); adv.JobsRun != 0 {
			t.Fatalf("ran %d jobs before their interval", adv.JobsRun)
		}
		if names, _ := files(t, e.dir); len(names) != 0 {
			t.Fatalf("files before the interval: %v", names)
		}
		if adv := e.advance(t, time.Second); adv.JobsRun != 2 {
			t.Fatalf("ran %d jobs, want 2", adv.JobsRun)
		}
		u := src.UUID
		names, lines := files(t, e.dir)
		want := []string{
			"enc/2026-03-01T12:01:00-stream-" + u + "---0.jsonl",
			"enc/2026-03-01T12:01:00-stream-" + u + "---0_0001.jsonl",
			"enc/2026-03-01T12:01:00-stream-" + u + "---0_0002.jsonl",
			"plain/x/2026-03-01T12:01:00-stream-" + derived.UUID + "---0.jsonl",
		}
		if !slices.Equal(names, want) {
			t.Fatalf("files\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
		}
		// Names sort in export order.
		wantLines := append(shown(t, e.a, src), shown(t, e.a, derived)[3:]...)
		if !slices.Equal(lines, wantLines) {
			t.Errorf("lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
		}
		info, _ = e.a.Job("dir-demo")
		st := info.State
		if st.Cursor != 5 || info.Lag != 0 || st.Events != 5 || st.Objects != 3 || st.Retries != 0 || !st.LastSuccess.Equal(t0.Add(time.Minute)) ||
			!st.NextRun.Equal(t0.Add(2*time.Minute)) || st.Plan != nil || st.Bytes == 0 {
			t.Errorf("after a run: %+v lag %d", st, info.Lag)
		}
		// Nothing new: no file.
		e.advance(t, time.Minute)
		if names, _ := files(t, e.dir); len(names) != 4 {
			t.Errorf("a run without new events wrote files: %v", names)
		}
	})
}

// A key exporter writes the key links created since its last run, as the
// keys CSV; the keysets decrypt the exported ciphertext.
func TestKeyExporter(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		e := newJobEnv(t, open, app.Options{})
		src := create(t, e.a, catalog.NewStream{Name: "demo"})
		ingest(t, e.a, src, demo("old", 1, 0))
		// On a virtual clock, a link created at the job's creation instant
		// counts as created after it: let time pass.
		e.advance(t, time.Second)
		if _, err := e.a.CreateJob(app.NewJob{Kind: "key-exporter", Stream: "demo"}); err != nil {
			t.Fatal(err)
		}
		ingest(t, e.a, src, demo("s1", 1, 0), demo("s2", 1, 0), demo("s1", 1, 0))
		e.advance(t, time.Minute)
		names, lines := files(t, e.dir)
		if want := "2026-03-01T12:01:01-keys-" + src.UUID + "---0.csv"; !slices.Equal(names, []string{want}) {
			t.Fatalf("files %v, want [%s]", names, want)
		}
		links, err := e.a.KeyLinks("demo")
		if err != nil || len(links) != 3 {
			t.Fatalf("links %v %v", links, err)
		}
		rows, err := e.a.ExportKeys("demo")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range rows {
			if r.Created.After(t0) {
				want = append(want, strings.TrimSuffix(keys.CSVRow(r.KeyLink, r.Keyset, r.ExpiresAt), "\n"))
			}
		}
		// The link of "old" was created before the job: not exported.
		if len(lines) != 2 {
			t.Fatalf("%d rows, want 2 (the links created after the job): %q", len(lines), lines)
		}
		for _, l := range lines {
			if !slices.Contains(want, l) {
				t.Errorf("row %s is not a key link of the stream", l)
			}
		}
		info, _ := e.a.Job("dir-demo-keys")
		if info.State.Events != 2 || info.State.Objects != 1 || info.State.Cursor != 4 {
			t.Errorf("state %+v", info.State)
		}
		// Refused on a derived stream.
		create(t, e.a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{0}}})
		_, err = e.a.CreateJob(app.NewJob{Kind: "key-exporter", Stream: "demo-0"})
		if want := `stream: key exporters export the keys of a source stream, and "demo-0" is derived from "demo" (it shows its PII decrypted already); export the keys of "demo"`; err == nil || err.Error() != want {
			t.Errorf("key exporter on a derived stream: %v, want %s", err, want)
		}
	})
}

func TestJobRefusals(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		e := newJobEnv(t, open, app.Options{})
		create(t, e.a, catalog.NewStream{Name: "demo"})
		for _, c := range []struct {
			name string
			n    app.NewJob
			want string
			kind error
		}{
			{"unknown kind", app.NewJob{Kind: "batch", Stream: "demo"}, `kind: unknown job kind "batch" (kinds: batch-exporter, cloudevents-sink, kafka-exporter, key-exporter)`, app.ErrInvalid},
			{"unknown stream", app.NewJob{Kind: "batch-exporter", Stream: "nope"}, `stream "nope" not found`, catalog.ErrNotFound},
			{"unknown connector", app.NewJob{Kind: "batch-exporter", Stream: "demo", Connector: "s3"}, `data connector "s3" not found (data connectors: dir)`, catalog.ErrNotFound},
			{"interval too short", app.NewJob{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"interval": "10s"}`)}, `config.interval: 10s is out of bounds: give 30s to 1h`, app.ErrInvalid},
			{"interval too long", app.NewJob{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"interval": "2h"}`)}, `config.interval: 2h0m0s is out of bounds: give 30s to 1h`, app.ErrInvalid},
			{"prefix ends with /", app.NewJob{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"pathPrefix": "a/"}`)}, `config.pathPrefix: "a/" must not end with '/'`, app.ErrInvalid},
			{"prefix with ..", app.NewJob{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"pathPrefix": "a/../b"}`)}, `config.pathPrefix: "a/../b" must not contain '.' or '..' segments`, app.ErrInvalid},
			{"every field named", app.NewJob{Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"interval": 60, "maxEventsPerFile": 0, "bucket": "b"}`)},
				`config.interval: got number, want string; config.maxEventsPerFile: minimum: got 0, want 1; config: additional properties 'bucket' not allowed`, app.ErrInvalid},
			{"bad name", app.NewJob{Name: "a b", Kind: "batch-exporter", Stream: "demo"}, `name: invalid job name "a b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`, app.ErrInvalid},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.a.CreateJob(c.n)
				if err == nil || err.Error() != c.want || !errors.Is(err, c.kind) {
					t.Errorf("got %v\nwant %s", err, c.want)
				}
			})
		}
		if jobs := e.a.Jobs(""); len(jobs) != 0 {
			t.Errorf("refused jobs were saved: %v", jobs)
		}
	})
}

// Pause keeps the cursor while the lag grows; resume runs at once and
// drains it. A failing connector is retried with backoff, then FAILED;
// resume retries.
func TestJobLifecycle(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		e := newJobEnv(t, open, app.Options{JobRetries: 3, JobRetryMin: time.Second, JobRetryMax: 2 * time.Second})
		src := create(t, e.a, catalog.NewStream{Name: "demo"})
		if _, err := e.a.CreateJob(app.NewJob{Kind: "batch-exporter", Stream: "demo"}); err != nil {
			t.Fatal(err)
		}
		info, err := e.a.PauseJob("dir-demo")
		if err != nil || info.State.State != catalog.JobPaused {
			t.Fatalf("pause: %+v %v", info.State, err)
		}
		if _, err := e.a.PauseJob("dir-demo"); err == nil || err.Error() != `job "dir-demo" is paused already` {
			t.Errorf("pause twice: %v", err)
		}
		ingest(t, e.a, src, demo("a", 1, 0), demo("b", 1, 0))
		e.advance(t, 5*time.Minute)
		if info, _ := e.a.Job("dir-demo"); info.Lag != 2 || info.State.State != catalog.JobPaused {
			t.Errorf("paused: lag %d state %s", info.Lag, info.State.State)
		}
		if names, _ := files(t, e.dir); len(names) != 0 {
			t.Errorf("a paused job wrote %v", names)
		}
		if _, err := e.a.ResumeJob("dir-demo"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { info, _ := e.a.Job("dir-demo"); return info.Lag == 0 })
		if names, _ := files(t, e.dir); len(names) != 1 {
			t.Errorf("resume wrote %v, want one file", names)
		}

		// Break the connector: a regular file where the job's directory goes
		// (a mode would not stop root).
		if _, err := e.a.UpdateJob(app.NewJob{Name: "dir-demo", Kind: "batch-exporter", Stream: "demo", Config: []byte(`{"pathPrefix": "out"}`)}); err != nil {
			t.Fatal(err)
		}
		block := filepath.Join(e.dir, "out")
		if err := os.WriteFile(block, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		ingest(t, e.a, src, demo("c", 1, 0))
		e.advance(t, time.Minute)
		info, _ = e.a.Job("dir-demo")
		if want := fmt.Sprintf("directory %q: put out/2026-03-01T12:", e.dir); info.State.Retries != 1 || info.State.State != catalog.JobRunning ||
			!strings.HasPrefix(info.State.LastError, want) || !strings.HasSuffix(info.State.LastError, ".jsonl: mkdir not a directory") {
			t.Fatalf("after a failed run: %+v", info.State)
		}
		e.advance(t, time.Second) // retry 2
		e.advance(t, 2*time.Second)
		info, _ = e.a.Job("dir-demo")
		if info.State.State != catalog.JobFailed || info.State.Retries != 3 || info.Lag != 1 {
			t.Fatalf("after the retry budget: %+v lag %d", info.State, info.Lag)
		}
		if err := os.Remove(block); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.ResumeJob("dir-demo"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { info, _ := e.a.Job("dir-demo"); return info.Lag == 0 })
		info, _ = e.a.Job("dir-demo")
		if info.State.Retries != 0 || info.State.LastError == "" {
			t.Errorf("after resume: %+v (the last error stays)", info.State)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Deleting a stream or a connector that jobs use needs recursive.
func TestDeleteWithJobs(t *testing.T) {
	eachMode(t, func(t *testing.T, open opener) {
		e := newJobEnv(t, open, app.Options{})
		create(t, e.a, catalog.NewStream{Name: "demo"})
		create(t, e.a, catalog.NewStream{DerivedFrom: "demo", View: engine.View{Type: engine.Cumulative, Levels: []int32{0}}})
		if _, err := e.a.CreateJob(app.NewJob{Kind: "batch-exporter", Stream: "demo-0"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.DeleteStream("demo-0", false); err == nil || err.Error() != `stream "demo-0" has jobs (dir-demo-0); delete them first, or delete recursively (--recursive)` {
			t.Errorf("delete derived stream with a job: %v", err)
		}
		if _, err := e.a.DeleteStream("demo", false); err == nil || err.Error() != `stream "demo" has derived streams (demo-0); delete them first, or delete recursively (--recursive)` {
			t.Errorf("delete source stream with derived streams: %v", err)
		}
		if _, err := e.a.DeleteConnector("dir", false); err == nil || err.Error() != `data connector "dir" is used by jobs (dir-demo-0); delete them first, or delete recursively (--recursive)` {
			t.Errorf("delete connector with a job: %v", err)
		}
		if _, err := e.a.DeleteStream("demo", true); err != nil {
			t.Fatal(err)
		}
		if jobs := e.a.Jobs(""); len(jobs) != 0 {
			t.Errorf("jobs left: %v", jobs)
		}
		if deleted, err := e.a.DeleteConnector("dir", false); err != nil || len(deleted) != 0 {
			t.Errorf("delete unused connector: %v %v", deleted, err)
		}
	})
}
