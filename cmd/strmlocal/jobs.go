package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
)

// jobs is a management client: it uses the admin token.
func (e *env) jobs() strmlocalv1connect.JobServiceClient {
	return e.client().Jobs
}

// Kinds of job.
const (
	batchExporterKind = "batch-exporter"
	keyExporterKind   = "key-exporter"
)

// exporterKinds are the kinds the batch-exporter commands show.
var exporterKinds = []string{batchExporterKind, keyExporterKind}

type batchExporterOptions struct {
	name, connector, pathPrefix string
	interval                    time.Duration
	maxEventsPerFile            int
	exportKeys, includeExisting bool
}

// request checks the flags the server cannot name and builds the request:
// only the flags given go into the config, the server fills the defaults.
func (o batchExporterOptions) request(cmd *cobra.Command, stream string) (*v1.CreateJobRequest, error) {
	f := cmd.Flags()
	kind := batchExporterKind
	if o.exportKeys {
		kind = keyExporterKind
		if f.Changed("max-events-per-file") {
			return nil, errors.New("--max-events-per-file is for exporters of events; a key exporter (--export-keys) writes one file per run: leave it out")
		}
	}
	config := map[string]any{}
	if f.Changed("path-prefix") {
		config["pathPrefix"] = o.pathPrefix
	}
	if f.Changed("interval") {
		config["interval"] = o.interval.String()
	}
	if f.Changed("max-events-per-file") {
		config["maxEventsPerFile"] = o.maxEventsPerFile
	}
	if f.Changed("include-existing-events") {
		config["includeExistingEvents"] = o.includeExisting
	}
	s, err := structpb.NewStruct(config)
	if err != nil {
		return nil, err
	}
	return &v1.CreateJobRequest{Job: &v1.Job{Name: o.name, Kind: kind, Stream: stream, DataConnector: o.connector, Config: s}}, nil
}

func newCreateBatchExporterCmd(e *env) *cobra.Command {
	var o batchExporterOptions
	cmd := &cobra.Command{
		Use:   "batch-exporter STREAM [--data-connector C] [--name N]",
		Short: "Create a job that exports a stream's events to files",
		Long: `Create a batch exporter: a job that, every --interval, writes the events of
STREAM that are new since its last run to the data connector, as JSON Lines
(one event per line, exactly as egress prints them), in files named
<path-prefix>/<UTC time>-stream-<stream uuid>---0.jsonl; a run with more than
--max-events-per-file events writes …---0_0001.jsonl and so on. A run without
new events writes no file.

It starts at the end of the stream: only events sent from now on are
exported, unless --include-existing-events. With --export-keys it is a key
exporter instead, which writes the key links of a source stream created since
its last run, as CSV (<UTC time>-keys-<stream uuid>---0.csv), one file per run.

--data-connector may be left out when exactly one exists. The name defaults
to <data connector>-<stream>, with -keys appended for a key exporter. The
interval is 30s to 1h, 60s by default. Watch it with strmlocal get job NAME.`,
		Example: `  strmlocal create batch-exporter demo --data-connector out
  strmlocal create batch-exporter demo --data-connector out --interval 5m --path-prefix events/demo --include-existing-events
  strmlocal create batch-exporter demo --data-connector out --export-keys`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args[0])
			if err != nil {
				return err
			}
			res, err := e.jobs().CreateJob(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			return e.printJobs(res.Msg, res.Msg.Job)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "name of the job (default: <data connector>-<stream>, -keys appended with --export-keys)")
	f.StringVar(&o.connector, "data-connector", "", "the data connector to write to (default: the only one)")
	f.StringVar(&o.pathPrefix, "path-prefix", "", "where in the data connector the files go, '/'-separated (default: its root)")
	f.DurationVar(&o.interval, "interval", 0, "how often it runs, 30s to 1h (default 60s)")
	f.IntVar(&o.maxEventsPerFile, "max-events-per-file", 0, "events per file at most; a run with more writes several (default 100000)")
	f.BoolVar(&o.exportKeys, "export-keys", false, "export the stream's key links (kind key-exporter) instead of its events")
	f.BoolVar(&o.includeExisting, "include-existing-events", false, "start at the stream's first event instead of its end")
	return cmd
}

// listJobs lists the jobs (of stream, unless it is "") of the given kinds
// (all when none).
func (e *env) listJobs(ctx context.Context, stream string, kinds ...string) error {
	res, err := e.jobs().ListJobs(ctx, connect.NewRequest(&v1.ListJobsRequest{Stream: stream}))
	if err != nil {
		return err
	}
	if len(kinds) > 0 {
		res.Msg.Jobs = slices.DeleteFunc(res.Msg.Jobs, func(j *v1.Job) bool { return !slices.Contains(kinds, j.Kind) })
	}
	return e.printJobs(res.Msg, res.Msg.Jobs...)
}

func newListJobsCmd(e *env) *cobra.Command {
	var stream string
	cmd := &cobra.Command{
		Use:   "jobs [--stream S]",
		Short: "List jobs with their state",
		Example: `  strmlocal list jobs
  strmlocal list jobs --stream demo -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.listJobs(cmd.Context(), stream)
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "only the jobs that read this stream")
	return cmd
}

func newListBatchExportersCmd(e *env) *cobra.Command {
	var stream string
	cmd := &cobra.Command{
		Use:   "batch-exporters [--stream S]",
		Short: "List batch exporters (and key exporters) with their state",
		Example: `  strmlocal list batch-exporters
  strmlocal list batch-exporters --stream demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.listJobs(cmd.Context(), stream, exporterKinds...)
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "only the exporters that read this stream")
	return cmd
}

// getJob returns a job; with kinds, one of those kinds.
func (e *env) getJob(ctx context.Context, name string, kinds ...string) (*v1.GetJobResponse, error) {
	res, err := e.jobs().GetJob(ctx, connect.NewRequest(&v1.GetJobRequest{Name: name}))
	if err != nil {
		return nil, err
	}
	if len(kinds) > 0 && !slices.Contains(kinds, res.Msg.Job.Kind) {
		return nil, fmt.Errorf("job %s is a %s, not a batch exporter; see it with strmlocal get job %s", name, res.Msg.Job.Kind, name)
	}
	return res.Msg, nil
}

func newGetJobCmd(e *env, use, short string, kinds ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use + " NAME",
		Short:   short,
		Example: "  strmlocal get " + use + " out-demo\n  strmlocal get " + use + " out-demo -o json",
		Long: short + `. Besides its definition (stream, data connector,
config with defaults filled in) it shows its state (RUNNING, PAUSED or
FAILED), cursor (the next offset of the stream it exports), lag (events
between the cursor and the stream's end), the events, bytes and objects
(files) it exported, when it last succeeded, its last error (kept after
later successes), the failed attempts since its last success, and when it
runs next (by the server clock).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.getJob(cmd.Context(), args[0], kinds...)
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res)
			}
			return printJobStatus(e.stdout, res.Job)
		},
	}
}

func newDeleteJobCmd(e *env, use string, kinds ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use + " NAME",
		Short:   "Delete a job; the files it wrote stay",
		Example: "  strmlocal delete " + use + " out-demo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(kinds) > 0 {
				if _, err := e.getJob(cmd.Context(), args[0], kinds...); err != nil {
					return err
				}
			}
			res, err := e.jobs().DeleteJob(cmd.Context(), connect.NewRequest(&v1.DeleteJobRequest{Name: args[0]}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			_, err = fmt.Fprintf(e.stdout, "deleted job %s\n", args[0])
			return err
		},
	}
}

// newJobStateCmd is pause or resume, with the one subcommand job.
func newJobStateCmd(e *env, pause bool) *cobra.Command {
	verb, short, long := "resume", "Run a paused or failed job again", `Run a paused or failed job again, at once, from its cursor: what was sent
while it was paused is exported by this run. Its retry count starts over.`
	if pause {
		verb, short, long = "pause", "Stop a job where it is", `Stop a running (or failed) job where it is: a run in progress stops before
its next file, and the cursor stays. Events sent meanwhile are kept and
exported when it is resumed (strmlocal resume job NAME).`
	}
	cmd := &cobra.Command{Use: verb, Short: short, Example: "  strmlocal " + verb + " job out-demo"}
	cmd.AddCommand(&cobra.Command{
		Use:     "job NAME",
		Short:   short,
		Long:    long,
		Example: "  strmlocal " + verb + " job out-demo\n  strmlocal " + verb + " job out-demo -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var msg proto.Message
			var job *v1.Job
			if pause {
				res, err := e.jobs().PauseJob(cmd.Context(), connect.NewRequest(&v1.PauseJobRequest{Name: args[0]}))
				if err != nil {
					return err
				}
				msg, job = res.Msg, res.Msg.Job
			} else {
				res, err := e.jobs().ResumeJob(cmd.Context(), connect.NewRequest(&v1.ResumeJobRequest{Name: args[0]}))
				if err != nil {
					return err
				}
				msg, job = res.Msg, res.Msg.Job
			}
			if e.output == "json" {
				return printJSON(e.stdout, msg)
			}
			st := job.GetStatus()
			_, err := fmt.Fprintf(e.stdout, "%sd job %s: %s at cursor %d, lag %d\n", verb, job.Name, jobState(st.GetState()), st.GetCursor(), st.GetLag())
			return err
		},
	})
	return cmd
}

// jobState is RUNNING, PAUSED or FAILED.
func jobState(s v1.JobState) string { return strings.TrimPrefix(s.String(), "JOB_STATE_") }

// printJobs prints msg as JSON, or the jobs as a table.
func (e *env) printJobs(msg proto.Message, jobs ...*v1.Job) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	rows := make([][]string, len(jobs))
	for i, j := range jobs {
		st := j.GetStatus()
		rows[i] = []string{j.Name, j.Kind, j.Stream, j.DataConnector, jobState(st.GetState()),
			strconv.FormatUint(st.GetLag(), 10), strconv.FormatUint(st.GetEventsExported(), 10), shorten(client.OneLine(st.GetLastError()), 60)}
	}
	return printTable(e.stdout, []string{"NAME", "KIND", "STREAM", "CONNECTOR", "STATE", "LAG", "EVENTS", "LAST ERROR"}, rows)
}

// shorten cuts s to n runes, marking the cut with "…".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// printJobStatus writes a job and its status as a block of "label: value"
// lines.
func printJobStatus(w io.Writer, j *v1.Job) error {
	st := j.GetStatus()
	events := strconv.FormatUint(st.GetEventsExported(), 10)
	if j.Kind == keyExporterKind {
		events += " key links"
	}
	orNever := func(s string) string {
		if s == "" {
			return "never"
		}
		return s
	}
	lastError := "none"
	if st.GetLastError() != "" {
		lastError = client.OneLine(st.GetLastError()) + " (at " + rfc3339(st.GetLastErrorTime()) + ")"
	}
	nextRun := rfc3339(st.GetNextRunTime())
	switch {
	case nextRun != "":
	case st.GetState() == v1.JobState_JOB_STATE_RUNNING:
		nextRun = "now" // resumed: due at once
	default:
		nextRun = "not scheduled (" + strings.ToLower(jobState(st.GetState())) + ")"
	}
	lines := [][2]string{
		{"name", j.Name},
		{"kind", j.Kind},
		{"stream", j.Stream},
		{"data connector", j.DataConnector},
		{"config", compactConfig(j.Config)},
		{"created", rfc3339(j.CreateTime)},
		{"state", jobState(st.GetState())},
		{"cursor", strconv.FormatUint(st.GetCursor(), 10)},
		{"lag", plural(int(st.GetLag()), "event")},
		{"events", events},
		{"bytes", strconv.FormatUint(st.GetBytesExported(), 10)},
		{"objects", strconv.FormatUint(st.GetObjectsWritten(), 10)},
		{"last success", orNever(rfc3339(st.GetLastSuccessTime()))},
		{"last error", lastError},
		{"retries", strconv.FormatUint(uint64(st.GetRetries()), 10)},
		{"next run", nextRun},
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "%s:\t%s\n", l[0], strings.ReplaceAll(l[1], "\t", " "))
	}
	return tw.Flush()
}
