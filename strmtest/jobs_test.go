package strmtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const schemaRef = "streammachine/demo/1.0.2"

// event is an event of the built-in demo schema with consent levels.
func event(consent, session string) string {
	return fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": %s}, "uniqueIdentifier": "u", "consistentValue": %q, "someSensitiveValue": "s", "notSensitiveValue": "plain"}`, consent, session)
}

func TestConnectorHelpers(t *testing.T) {
	sb := strmtest.New(t)
	dir := sb.CreateLocalConnector(t, "dir")
	if !filepath.IsAbs(dir) {
		t.Fatalf("CreateLocalConnector returned %q, want an absolute directory", dir)
	}
	other := t.TempDir()
	// A struct with json tags, and JSON text.
	c := sb.CreateConnector(t, "tagged", "local", struct {
		Path string `json:"path"`
	}{other})
	if c.Name != "tagged" || c.Kind != "local" || c.Config.Fields["path"].GetStringValue() != other {
		t.Fatalf("CreateConnector returned %v", c)
	}
	c = sb.CreateConnector(t, "raw", "local", []byte(`{"path": "`+other+`"}`))
	if c.Config.Fields["path"].GetStringValue() != other {
		t.Fatalf("CreateConnector from JSON text returned %v", c)
	}
}

func TestBatchExporterHelpers(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	dir := sb.CreateLocalConnector(t, "dir")
	src := sb.CreateStream("demo")
	src.Send(schemaRef, event("[1]", "a"), event("[1]", "b"), event("[1]", "c"))

	if name := sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{}); name != "dir-demo" {
		t.Fatalf("default name %q, want dir-demo", name)
	}
	if name := sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{ExportKeys: true}); name != "dir-demo-keys" {
		t.Fatalf("key exporter named %q, want dir-demo-keys", name)
	}
	name := sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{
		Name: "all", Connector: "dir", PathPrefix: "all/demo", Interval: 90 * time.Second, MaxEventsPerFile: 2, IncludeExistingEvents: true,
	})
	j := sb.Job(t, name)
	if got, want := fmt.Sprint(j.Config.AsMap()), "map[includeExistingEvents:true interval:1m30s maxEventsPerFile:2 pathPrefix:all/demo]"; name != "all" || j.Kind != "batch-exporter" || got != want {
		t.Fatalf("job %s %s config %s, want all batch-exporter %s", name, j.Kind, got, want)
	}
	if st := j.Status; st.Lag != 3 || st.Cursor != 0 || st.EventsExported != 0 {
		t.Fatalf("new job: %v", st)
	}
	if lines := strmtest.ReadExportedLines(t, dir, "all/demo"); lines != nil {
		t.Fatalf("lines before a run: %q", lines)
	}

	src.Send(schemaRef, event("[1]", "d"))
	sb.Advance(90 * time.Second)
	// Four events by then, two a file.
	var files []string
	filepath.WalkDir(filepath.Join(dir, "all"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if len(files) != 2 {
		t.Fatalf("files %v, want 2", files)
	}
	if got, want := strmtest.ReadExportedLines(t, dir, "all/demo"), src.JSON(); !slices.Equal(got, want) {
		t.Fatalf("exported\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The whole directory: dir-demo's file at the root (the event sent
	// after it was created) sorts before all/.
	if got, want := strmtest.ReadExportedLines(t, dir, ""), append(src.JSON()[3:], src.JSON()...); !slices.Equal(got, want) {
		t.Fatalf("exported below the root\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := sb.Job(t, "all").Status; st.EventsExported != 4 || st.ObjectsWritten != 2 || st.Lag != 0 {
		t.Fatalf("after a run: %v", st)
	}
}

func TestReadExportedLines(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"p/b.jsonl":        "3\n",
		"p/a.jsonl":        "1\n2\n",
		"p/sub/c.jsonl":    "4\n",
		"p/keys.csv":       "not,lines\n",
		"p/.a.jsonl.tmp-1": "partial",
		"p/empty.jsonl":    "",
		"q/d.jsonl":        "5\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := strmtest.ReadExportedLines(t, dir, "p"), []string{"1", "2", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("p: %q, want %q", got, want)
	}
	if got, want := strmtest.ReadExportedLines(t, dir, ""), []string{"1", "2", "3", "4", "5"}; !slices.Equal(got, want) {
		t.Errorf("root: %q, want %q", got, want)
	}
	if got := strmtest.ReadExportedLines(t, dir, "none/yet"); got != nil {
		t.Errorf("missing prefix: %q, want none", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "q", "cut.jsonl"), []byte("6\n7"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := fatal(t, func(tb testing.TB) { strmtest.ReadExportedLines(tb, dir, "q") }); msg != "strmtest: exported file cut.jsonl does not end with a newline: a line is cut" {
		t.Errorf("a cut file: %q", msg)
	}
}

// The helpers fail the test with what went wrong.
func TestJobHelperFailures(t *testing.T) {
	sb := strmtest.New(t)
	sb.CreateStream("demo")
	for _, tc := range []struct {
		name string
		f    func(testing.TB)
		want string
	}{
		{"no connector", func(tb testing.TB) { sb.CreateBatchExporter(tb, "demo", strmtest.BatchExporter{}) },
			`strmtest: create batch-exporter of "demo": invalid_argument: dataConnector: there are no data connectors; create one first`},
		{"config not an object", func(tb testing.TB) { sb.CreateConnector(tb, "x", "local", []string{"a"}) },
			`strmtest: create data connector "x": config: want a JSON object, got ["a"]`},
		{"bad config", func(tb testing.TB) { sb.CreateConnector(tb, "x", "local", map[string]any{"path": "rel"}) },
			`strmtest: create data connector "x": invalid_argument: config.path: want an absolute directory, got "rel"`},
		{"keys with max events", func(tb testing.TB) {
			sb.CreateBatchExporter(tb, "demo", strmtest.BatchExporter{ExportKeys: true, MaxEventsPerFile: 5})
		}, `strmtest: create batch exporter of "demo": MaxEventsPerFile is for exporters of events, not ExportKeys`},
		{"unknown job", func(tb testing.TB) { sb.Job(tb, "nope") }, `strmtest: get job "nope": not_found: job "nope" not found: there are no jobs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fatal(t, tc.f); got != tc.want {
				t.Errorf("failed with %q\nwant        %q", got, tc.want)
			}
		})
	}
}

// fatal runs f with a testing.TB that records the message of its Fatalf,
// and returns it ("" if f did not fail).
func fatal(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { f(r) })
	wg.Wait()
	return r.msg
}

type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
