package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/keys"
)

// Kinds of job.
const (
	batchExporter = "batch-exporter"
	keyExporter   = "key-exporter"
)

// Bounds and defaults of the exporters' configs (docs/jobs.md).
const (
	MinExportInterval       = 30 * time.Second
	MaxExportInterval       = time.Hour
	DefaultExportInterval   = time.Minute
	DefaultMaxEventsPerFile = 100_000
	MaxMaxEventsPerFile     = 10_000_000
	maxPathPrefix           = 900
)

// exportConfig is the config of batch and key exporters.
type exportConfig struct {
	PathPrefix            string `json:"pathPrefix"`
	Interval              string `json:"interval"`
	MaxEventsPerFile      int    `json:"maxEventsPerFile,omitempty"`
	IncludeExistingEvents bool   `json:"includeExistingEvents"`
}

const exportSchemaProps = `
    "pathPrefix": {
      "type": "string",
      "maxLength": 900,
      "description": "Where in the connector the files go: '/'-separated, not ending with '/', without '.' or '..' segments. Default: the root."
    },
    "interval": {
      "type": "string",
      "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$",
      "description": "How often it runs, as a duration from 30s to 1h. Default: 60s."
    },
    "includeExistingEvents": {
      "type": "boolean",
      "description": "Start at the stream's first event instead of its end at creation."
    }`

func batchExporterKind() *jobKind {
	return &jobKind{
		Kind: Kind{
			Name:        batchExporter,
			Description: "Every interval, writes the stream's new events as JSON Lines (one event per line, as egress prints them) to <pathPrefix>/<UTC time>-stream-<stream uuid>---0.jsonl.",
			Schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "batch-exporter",
  "type": "object",
  "additionalProperties": false,
  "properties": {` + exportSchemaProps + `,
    "maxEventsPerFile": {
      "type": "integer",
      "minimum": 1,
      "maximum": 10000000,
      "description": "A run with more new events writes several files (…---0.jsonl, …---0_0001.jsonl, …). Default: 100000."
    }
  }
}`,
		},
		connectors: []string{"local", "s3"},
		prepare:    prepareExport(batchExporter),
		start:      startExport,
		interval:   exportInterval,
		run:        runBatchExport,
	}
}

func keyExporterKind() *jobKind {
	return &jobKind{
		Kind: Kind{
			Name:        keyExporter,
			Description: "Every interval, writes the key links of a source stream created since the last run as CSV (\"keyLink\",\"<Tink JSON keyset>\",\"expiresAt\") to <pathPrefix>/<UTC time>-keys-<stream uuid>---0.csv.",
			Schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "key-exporter",
  "type": "object",
  "additionalProperties": false,
  "properties": {` + exportSchemaProps + `
  }
}`,
		},
		connectors: []string{"local", "s3"},
		prepare:    prepareExport(keyExporter),
		start:      startExport,
		interval:   exportInterval,
		run:        runKeyExport,
	}
}

func prepareExport(kind string) func(*App, *catalog.Stream, kindSchema, []byte) ([]byte, error) {
	return func(a *App, st *catalog.Stream, schema kindSchema, config []byte) ([]byte, error) {
		var c exportConfig
		if err := schema.check(config, &c); err != nil {
			return nil, err
		}
		if kind == keyExporter && st.IsDerived() {
			return nil, invalidf("stream: key exporters export the keys of a source stream, and %q is derived from %q (it shows its PII decrypted already); export the keys of %q", st.Name, st.DerivedFrom, st.DerivedFrom)
		}
		if err := checkPathPrefix(c.PathPrefix); err != nil {
			return nil, err
		}
		if c.Interval == "" {
			c.Interval = DefaultExportInterval.String()
		}
		d, err := time.ParseDuration(c.Interval)
		if err != nil {
			return nil, invalidf("config.interval: %v", err)
		}
		if d < MinExportInterval || d > MaxExportInterval {
			return nil, invalidf("config.interval: %s is out of bounds: give 30s to 1h", d)
		}
		c.Interval = d.String()
		if kind == batchExporter && c.MaxEventsPerFile == 0 {
			c.MaxEventsPerFile = DefaultMaxEventsPerFile
		}
		return json.Marshal(c)
	}
}

func checkPathPrefix(p string) error {
	switch {
	case strings.HasSuffix(p, "/"):
		return invalidf("config.pathPrefix: %q must not end with '/'", p)
	case strings.HasPrefix(p, "/"):
		return invalidf("config.pathPrefix: %q must not start with '/': it is relative to the connector's root", p)
	case len(p) > maxPathPrefix:
		return invalidf("config.pathPrefix: longer than %d characters", maxPathPrefix)
	}
	if p == "" {
		return nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return invalidf("config.pathPrefix: %q has an empty segment ('//')", p)
		case ".", "..":
			return invalidf("config.pathPrefix: %q must not contain '.' or '..' segments", p)
		}
		if strings.ContainsAny(seg, "\\\x00") {
			return invalidf("config.pathPrefix: %q must not contain '\\' or NUL", p)
		}
	}
	return nil
}

func decodeExport(config []byte) exportConfig {
	var c exportConfig
	_ = json.Unmarshal(config, &c) // checked by prepare when the job was created
	return c
}

func exportInterval(config []byte) time.Duration {
	d, err := time.ParseDuration(decodeExport(config).Interval)
	if err != nil {
		return DefaultExportInterval
	}
	return d
}

// startExport places a new job's cursor, by the includeExistingEvents of
// its config (every kind has it): the first event, or the end of the
// stream at creation (for a key exporter, the key links created from now
// on).
func startExport(a *App, st *catalog.Stream, config []byte) (catalog.JobState, error) {
	r, err := a.Reader(st)
	if err != nil {
		return catalog.JobState{}, err
	}
	first, end, err := r.Bounds()
	if err != nil {
		return catalog.JobState{}, err
	}
	var s catalog.JobState
	if decodeExport(config).IncludeExistingEvents {
		s.Cursor = first
	} else {
		s.Cursor = end
		s.KeysFrom = a.keys.Settled().UTC()
	}
	return s, nil
}

// objectName is <prefix>/<UTC time, ISO seconds>-<what>-<stream uuid>---0
// with _<part, 4 digits> for the second and later objects of a run, and
// ext: the names of a run sort in the order of their events.
func objectName(prefix string, t time.Time, what, uuid string, part int, ext string) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix + "/")
	}
	b.WriteString(t.UTC().Format("2006-01-02T15:04:05") + "-" + what + "-" + uuid + "---0")
	if part > 0 {
		fmt.Fprintf(&b, "_%04d", part)
	}
	b.WriteString(ext)
	return b.String()
}

// runBatchExport writes the events from the cursor to the end of the
// stream, as the plan decided before the first write says, one object per
// MaxEventsPerFile events. After each object the cursor and the plan's
// part move on, durably: a run interrupted anywhere writes the same objects
// with the same events when it resumes.
func runBatchExport(ctx context.Context, r *jobRun) error {
	c := decodeExport(r.job.Config)
	rd, err := r.a.Reader(r.stream)
	if err != nil {
		return err
	}
	st := r.state
	if st.Plan == nil {
		_, end, err := rd.Bounds()
		if err != nil {
			return err
		}
		if end <= st.Cursor {
			return nil // nothing new: no file
		}
		st.Plan = &catalog.Plan{Time: r.now.Truncate(time.Second), Until: end}
		if err := r.save(); err != nil {
			return err
		}
	}
	for st.Cursor < st.Plan.Until {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := objectName(c.PathPrefix, st.Plan.Time, "stream", r.stream.UUID, st.Plan.Part, ".jsonl")
		next, events, n, err := writeEvents(ctx, rd, r, name, st.Cursor, st.Plan.Until, c.MaxEventsPerFile)
		if err != nil {
			return err
		}
		st.Cursor = next
		if events > 0 {
			st.Plan.Part++
			st.Events += uint64(events)
			st.Bytes += uint64(n)
			st.Objects++
		}
		if st.Cursor >= st.Plan.Until {
			st.Plan = nil
		}
		if err := r.save(); err != nil {
			return err
		}
		if st.Plan == nil {
			break
		}
	}
	return nil
}

// writeEvents writes one object of up to max events the stream shows from
// offset from (before until) and returns the offset after them, the events
// and bytes written. No object is written when the range shows no event.
// The events stream through a pipe into the bucket: memory stays bounded
// whatever the object's size.
func writeEvents(ctx context.Context, rd *Reader, r *jobRun, name string, from, until uint64, max int) (next uint64, events int, n int64, err error) {
	page, err := rd.ReadUntil(ctx, from, until, min(max, MaxPageRecords))
	if err != nil {
		return 0, 0, 0, err
	}
	if len(page.Records) == 0 {
		return page.Next, 0, 0, nil
	}
	pr, pw := io.Pipe()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		var werr error
		next, events, werr = pipeEvents(ctx, rd, pw, page, until, max)
		pw.CloseWithError(werr)
	}()
	n, err = r.bucket().Put(ctx, name, pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the producer if Put stopped early
	<-produced
	if err != nil {
		return 0, 0, 0, err
	}
	return next, events, n, nil
}

// pipeEvents writes the records of page and of the pages after it, up to
// max records and offset until, as JSON Lines.
func pipeEvents(ctx context.Context, rd *Reader, w io.Writer, page Page, until uint64, max int) (uint64, int, error) {
	events := 0
	var line []byte
	for {
		for i := range page.Records {
			line = append(append(line[:0], page.Records[i].JSON...), '\n')
			if _, err := w.Write(line); err != nil {
				return 0, 0, err
			}
		}
		events += len(page.Records)
		if events >= max || page.Next >= until {
			return page.Next, events, nil
		}
		var err error
		if page, err = rd.ReadUntil(ctx, page.Next, until, min(max-events, MaxPageRecords)); err != nil {
			return 0, 0, err
		}
		if len(page.Records) == 0 {
			return page.Next, events, nil
		}
	}
}

// runKeyExport writes the key links created in [KeysFrom, the run's time)
// as CSV, one object per run, none when there are none.
func runKeyExport(ctx context.Context, r *jobRun) error {
	c := decodeExport(r.job.Config)
	st := r.state
	if st.Plan == nil {
		rd, err := r.a.Reader(r.stream)
		if err != nil {
			return err
		}
		_, end, err := rd.Bounds()
		if err != nil {
			return err
		}
		st.Plan = &catalog.Plan{Time: r.now.Truncate(time.Second), Until: end, KeysUntil: r.a.keys.Settled().UTC()}
		if err := r.save(); err != nil {
			return err
		}
	}
	rows, err := r.a.keys.ExportCreated(r.stream.ID, st.KeysFrom, st.Plan.KeysUntil)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		var b strings.Builder
		for _, row := range rows {
			b.WriteString(keys.CSVRow(row.KeyLink, row.Keyset, row.ExpiresAt))
		}
		name := objectName(c.PathPrefix, st.Plan.Time, "keys", r.stream.UUID, 0, ".csv")
		n, err := r.bucket().Put(ctx, name, strings.NewReader(b.String()))
		if err != nil {
			return err
		}
		st.Events += uint64(len(rows))
		st.Bytes += uint64(n)
		st.Objects++
	}
	st.KeysFrom, st.Cursor, st.Plan = st.Plan.KeysUntil, max(st.Cursor, st.Plan.Until), nil
	if err := r.save(); err != nil {
		return fmt.Errorf("key exporter: %w", err)
	}
	return nil
}
