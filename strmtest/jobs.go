package strmtest

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// CreateConnector creates a data connector of a kind ("local", "s3") with
// config, which is marshalled to a JSON object (a map, a struct with json
// tags; a []byte or json.RawMessage is taken as JSON text already).
func (sb *Sandbox) CreateConnector(t testing.TB, name, kind string, config any) *v1.DataConnector {
	t.Helper()
	s, err := toStruct(config)
	if err != nil {
		t.Fatalf("strmtest: create data connector %q: config: %v", name, err)
	}
	res, err := sb.Client.Connectors.CreateDataConnector(context.Background(), connect.NewRequest(&v1.CreateDataConnectorRequest{
		DataConnector: &v1.DataConnector{Name: name, Kind: kind, Config: s},
	}))
	if err != nil {
		t.Fatalf("strmtest: create data connector %q: %v", name, err)
	}
	return res.Msg.DataConnector
}

// toStruct is config as a Struct: config marshalled to JSON, which must be
// an object.
func toStruct(config any) (*structpb.Struct, error) {
	var b []byte
	switch c := config.(type) {
	case *structpb.Struct:
		return c, nil
	case json.RawMessage:
		b = c
	case []byte:
		b = c
	default:
		var err error
		if b, err = json.Marshal(config); err != nil {
			return nil, err
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errors.New("want a JSON object, got " + string(b))
	}
	return structpb.NewStruct(m)
}

// CreateLocalConnector creates a local data connector that writes to a new
// t.TempDir() and returns that directory.
func (sb *Sandbox) CreateLocalConnector(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	sb.CreateConnector(t, name, "local", map[string]string{"path": dir})
	return dir
}

// BatchExporter is the definition of a batch exporter for
// CreateBatchExporter. Zero fields take the server's defaults.
type BatchExporter struct {
	// Name defaults to <connector>-<stream> (with -keys for ExportKeys).
	Name string
	// Connector may be empty when exactly one data connector exists.
	Connector string
	// PathPrefix is where in the connector the files go; default its root.
	PathPrefix string
	// Interval is how often it runs, 30s to 1h; default 60s.
	Interval time.Duration
	// MaxEventsPerFile splits a run's events into files; default 100000.
	// Not for ExportKeys.
	MaxEventsPerFile int
	// IncludeExistingEvents starts at the stream's first event instead of
	// its end.
	IncludeExistingEvents bool
	// ExportKeys makes it a key exporter: the stream's key links as CSV.
	ExportKeys bool
}

// CreateBatchExporter creates a batch exporter (a key exporter with
// ExportKeys) of stream and returns its name. It runs every interval of the
// server clock: on a virtual clock (WithVirtualClock), Advance runs it.
func (sb *Sandbox) CreateBatchExporter(t testing.TB, stream string, opts BatchExporter) string {
	t.Helper()
	kind := "batch-exporter"
	config := map[string]any{}
	if opts.ExportKeys {
		kind = "key-exporter"
		if opts.MaxEventsPerFile != 0 {
			t.Fatalf("strmtest: create batch exporter of %q: MaxEventsPerFile is for exporters of events, not ExportKeys", stream)
		}
	}
	if opts.PathPrefix != "" {
		config["pathPrefix"] = opts.PathPrefix
	}
	if opts.Interval != 0 {
		config["interval"] = opts.Interval.String()
	}
	if opts.MaxEventsPerFile != 0 {
		config["maxEventsPerFile"] = opts.MaxEventsPerFile
	}
	if opts.IncludeExistingEvents {
		config["includeExistingEvents"] = true
	}
	s, err := structpb.NewStruct(config)
	if err != nil {
		t.Fatalf("strmtest: create batch exporter of %q: %v", stream, err)
	}
	res, err := sb.Client.Jobs.CreateJob(context.Background(), connect.NewRequest(&v1.CreateJobRequest{
		Job: &v1.Job{Name: opts.Name, Kind: kind, Stream: stream, DataConnector: opts.Connector, Config: s},
	}))
	if err != nil {
		t.Fatalf("strmtest: create %s of %q: %v", kind, stream, err)
	}
	return res.Msg.Job.Name
}

// Job returns a job with its status.
func (sb *Sandbox) Job(t testing.TB, name string) *v1.Job {
	t.Helper()
	res, err := sb.Client.Jobs.GetJob(context.Background(), connect.NewRequest(&v1.GetJobRequest{Name: name}))
	if err != nil {
		t.Fatalf("strmtest: get job %q: %v", name, err)
	}
	return res.Msg.Job
}

// ReadExportedLines returns the lines of every *.jsonl file below
// dir/prefix (prefix "" for dir itself), the files in the order of their
// paths, which is the order a batch exporter wrote them in. A missing
// dir/prefix holds no lines: nothing was exported there yet.
func ReadExportedLines(t testing.TB, dir, prefix string) []string {
	t.Helper()
	root := filepath.Join(dir, filepath.FromSlash(prefix))
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("strmtest: read exported files below %s: %v", root, err)
	}
	slices.Sort(files)
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatalf("strmtest: read exported file: %v", err)
		}
		if len(b) == 0 {
			continue
		}
		if b[len(b)-1] != '\n' {
			t.Fatalf("strmtest: exported file %s does not end with a newline: a line is cut", f)
		}
		lines = append(lines, strings.Split(string(b[:len(b)-1]), "\n")...)
	}
	return lines
}
