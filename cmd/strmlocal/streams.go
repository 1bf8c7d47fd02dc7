package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

func newCreateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an entity",
		Example: `  strmlocal create stream demo
  strmlocal create schema acme/shop/1.0.0 --definition shop.avsc`,
	}
	cmd.AddCommand(newCreateStreamCmd(e), newCreateSchemaCmd(e), newCreateContractCmd(e),
		newCreateConnectorCmd(e), newCreateBatchExporterCmd(e), newCreateKafkaExporterCmd(e), newCreateCloudEventsSinkCmd(e))
	return cmd
}

func newListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List entities",
		Example: `  strmlocal list streams
  strmlocal list schemas -o json`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "streams",
		Short: "List streams",
		Example: `  strmlocal list streams
  strmlocal list streams -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.streams().ListStreams(cmd.Context(), connect.NewRequest(&v1.ListStreamsRequest{}))
			if err != nil {
				return err
			}
			return e.printStreamsCounted(res.Msg, res.Msg.Streams...)
		},
	}, newListSchemasCmd(e), newListContractsCmd(e),
		newListConnectorsCmd(e), newListBatchExportersCmd(e), newListJobsCmd(e))
	return cmd
}

func newGetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show one entity",
		Example: `  strmlocal get stream demo
  strmlocal get job out-demo`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "stream NAME",
		Short: "Show a stream",
		Example: `  strmlocal get stream demo
  strmlocal get stream demo-2 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.streams().GetStream(cmd.Context(), connect.NewRequest(&v1.GetStreamRequest{Name: args[0]}))
			if err != nil {
				return err
			}
			return e.printStreamsCounted(res.Msg, res.Msg.Stream)
		},
	}, newGetSchemaCmd(e), newGetContractCmd(e), newGetUsageCmd(e),
		newGetConnectorCmd(e),
		newGetJobCmd(e, "batch-exporter", "Show a batch exporter (or key exporter) and its status", exporterKinds...),
		newGetJobCmd(e, "job", "Show a job and its status"))
	return cmd
}

func newDeleteCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete an entity",
		Example: `  strmlocal delete stream demo-2
  strmlocal delete job out-demo`,
	}
	var recursive bool
	stream := &cobra.Command{
		Use:   "stream NAME",
		Short: "Delete a stream and every event in it",
		Long: `Delete a stream and every event in it, and its saved entity. A source stream
with derived streams needs --recursive, which deletes those too.`,
		Example: `  strmlocal delete stream demo-2
  strmlocal delete stream demo --recursive`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			res, err := e.streams().DeleteStream(cmd.Context(), connect.NewRequest(&v1.DeleteStreamRequest{Name: name, Recursive: recursive}))
			if err != nil {
				return err
			}
			deleted := res.Msg.Deleted
			if len(deleted) == 0 {
				// A server older than the field deleted just the one.
				deleted = []string{name}
			}
			for _, n := range deleted {
				if err := e.saved().Remove("Stream", n); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "deleted stream %s\n", n)
			}
			return nil
		},
	}
	stream.Flags().BoolVar(&recursive, "recursive", false, "also delete the streams derived from it")
	cmd.AddCommand(stream, newDeleteConnectorCmd(e),
		newDeleteJobCmd(e, "batch-exporter", exporterKinds...), newDeleteJobCmd(e, "job"))
	return cmd
}

type createStreamOptions struct {
	description string
	tags        []string
	save        bool

	// Derived streams only.
	derivedFrom  string
	levels       []int32
	consentType  string
	maskedFields []string
	maskSeed     string
	emitFilter   string
}

// request checks the flags that the server cannot name and builds the
// request.
func (o createStreamOptions) request(cmd *cobra.Command, args []string) (*v1.CreateStreamRequest, error) {
	req := &v1.CreateStreamRequest{Description: o.description, Tags: o.tags}
	if len(args) > 0 {
		req.Name = args[0]
	}
	if o.derivedFrom == "" {
		for _, name := range []string{"levels", "consent-type", "masked-fields", "mask-seed", "emit-filter"} {
			if cmd.Flags().Changed(name) {
				return nil, fmt.Errorf("--%s is for derived streams: add --derived-from SOURCE", name)
			}
		}
		if req.Name == "" {
			return nil, errors.New("name the stream: strmlocal create stream NAME (only a derived stream, with --derived-from, may leave it out)")
		}
		return req, nil
	}
	req.DerivedFrom = o.derivedFrom
	if len(o.levels) == 0 {
		return nil, errors.New("--derived-from needs --levels: the consent level(s) the derived stream reads, e.g. --levels 2")
	}
	req.Levels = o.levels
	switch strings.ToLower(o.consentType) {
	case "cumulative":
		req.ConsentType = v1.ConsentType_CONSENT_TYPE_CUMULATIVE
		if len(o.levels) > 1 {
			return nil, fmt.Errorf("--consent-type cumulative takes one level, not %d (%s): use --consent-type granular for a set of levels", len(o.levels), joinLevels(o.levels, ","))
		}
	case "granular":
		req.ConsentType = v1.ConsentType_CONSENT_TYPE_GRANULAR
	default:
		return nil, fmt.Errorf("invalid --consent-type %q: use cumulative or granular", o.consentType)
	}
	masked, err := parseMaskedFields(o.maskedFields)
	if err != nil {
		return nil, err
	}
	req.MaskedFields = masked
	req.MaskSeed = o.maskSeed
	req.EmitFilter = o.emitFilter
	return req, nil
}

// parseMaskedFields reads --masked-fields values, CONTRACT-REF:f1,f2 each.
// Values for the same contract are merged, in the order given.
func parseMaskedFields(values []string) ([]*v1.MaskedFields, error) {
	var out []*v1.MaskedFields
	byRef := map[string]*v1.MaskedFields{}
	for _, v := range values {
		ref, list, ok := strings.Cut(v, ":")
		ref = strings.TrimSpace(ref)
		if !ok || ref == "" {
			return nil, fmt.Errorf("invalid --masked-fields %q: use CONTRACT-REF:field1,field2", v)
		}
		var fields []string
		for f := range strings.SplitSeq(list, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			return nil, fmt.Errorf("invalid --masked-fields %q: name at least one field after the ':' (CONTRACT-REF:field1,field2)", v)
		}
		m := byRef[ref]
		if m == nil {
			m = &v1.MaskedFields{ContractRef: ref}
			byRef[ref] = m
			out = append(out, m)
		}
		for _, f := range fields {
			if !slices.Contains(m.Fields, f) {
				m.Fields = append(m.Fields, f)
			}
		}
	}
	return out, nil
}

func joinLevels(levels []int32, sep string) string {
	s := make([]string, len(levels))
	for i, l := range levels {
		s[i] = strconv.Itoa(int(l))
	}
	return strings.Join(s, sep)
}

func newCreateStreamCmd(e *env) *cobra.Command {
	var o createStreamOptions
	cmd := &cobra.Command{
		Use:   "stream [NAME] [--derived-from SOURCE --levels L]",
		Short: "Create a stream",
		Long: `Create a stream. Its credentials (client id and secret) are printed and, unless
--save=false, saved with the stream to
$XDG_CONFIG_HOME/strmlocal/servers/<server id>/saved-entities/Stream/NAME.json
(one folder per server, see strmlocal context): the secret is not
shown again.

With --derived-from, the stream is a derived stream: a view of the source
stream that keeps only the events whose consent covers --levels, with the PII
fields of those levels decrypted. --consent-type cumulative (the default)
takes one level L: events with a consent level >= L, fields of levels <= L.
granular takes a set: events consenting to all of them, exactly their fields.
--masked-fields CONTRACT-REF:field1,field2 (repeatable) shows those fields as
a MurmurHash3 hash keyed with --mask-seed (default: random).
--emit-filter 'FIELD=V1,V2' keeps only the events whose FIELD (a path with
'/', as in contracts) shows one of the values; "null" matches a missing or
null field. The field must be one the stream reads: not PII above its levels.
NAME defaults to SOURCE-LEVELS, e.g. demo-2 or demo-0-1.`,
		Example: `  strmlocal create stream demo --description 'web shop events' --tags shop,test
  strmlocal create stream --derived-from demo --levels 2
  strmlocal create stream demo-0-1 --derived-from demo --levels 0,1 --consent-type granular
  strmlocal create stream demo-masked --derived-from demo --levels 2 --masked-fields streammachine/example/1.3.0:uniqueIdentifier --mask-seed s3cr3t
  strmlocal create stream checkouts --derived-from shop --levels 1 --emit-filter 'eventType=checkout,purchase'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args)
			if err != nil {
				return err
			}
			res, err := e.streams().CreateStream(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			st := res.Msg.Stream
			if o.save {
				path, err := e.saved().Save("Stream", st.Name, st)
				if err != nil {
					// The secret is shown now or never: print it first.
					if perr := e.printStreams(res.Msg, st); perr != nil {
						return perr
					}
					return fmt.Errorf("stream %s was created (its credentials are printed above) but they could not be saved: %w", st.Name, err)
				}
				fmt.Fprintf(e.stderr, "saved credentials to %s\n", path)
			}
			return e.printStreams(res.Msg, st)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.description, "description", "", "description of the stream")
	f.StringSliceVar(&o.tags, "tags", nil, "comma-separated `tags`")
	f.BoolVar(&o.save, "save", true, "save the stream and its credentials under the config dir")
	f.StringVar(&o.derivedFrom, "derived-from", "", "create a derived stream of this source stream")
	f.Int32SliceVar(&o.levels, "levels", nil, "consent `levels` of a derived stream, comma-separated, e.g. 0,1")
	f.StringVar(&o.consentType, "consent-type", "cumulative", "how a derived stream reads --levels: cumulative or granular")
	f.StringArrayVar(&o.maskedFields, "masked-fields", nil, "fields to show as a hash in a derived stream: an event contract ref and its fields, comma-separated (`REF:FIELD,...`, repeatable)")
	f.StringVar(&o.maskSeed, "mask-seed", "", "seed of the masking hash (default: random)")
	f.StringVar(&o.emitFilter, "emit-filter", "", "keep only events whose field has one of the values: 'eventType=checkout,purchase'")
	return cmd
}

// printStreams prints msg as JSON, or the streams as a table.
// The client secret column appears only when the server returned a secret,
// which it does on creation only; the derived-stream columns only when a
// stream is derived, so a sandbox without them reads as before.
func (e *env) printStreams(msg proto.Message, streams ...*v1.Stream) error {
	return e.printStreamTable(msg, false, streams...)
}

// printStreamsCounted is printStreams with the EVENTS column (list and
// get): a source stream's retained events, "-" for a derived stream, whose
// count the server does not give (docs/metrics.md).
func (e *env) printStreamsCounted(msg proto.Message, streams ...*v1.Stream) error {
	return e.printStreamTable(msg, true, streams...)
}

func (e *env) printStreamTable(msg proto.Message, counts bool, streams ...*v1.Stream) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	type column struct {
		header string
		value  func(*v1.Stream) string
	}
	cols := []column{{"NAME", func(st *v1.Stream) string { return st.Name }}}
	if slices.ContainsFunc(streams, func(st *v1.Stream) bool { return st.DerivedFrom != "" }) {
		cols = append(cols,
			column{"DERIVED FROM", func(st *v1.Stream) string { return st.DerivedFrom }},
			column{"CONSENT", consentSummary})
	}
	if slices.ContainsFunc(streams, func(st *v1.Stream) bool { return len(st.MaskedFields) > 0 }) {
		cols = append(cols, column{"MASKED", maskedSummary})
	}
	if slices.ContainsFunc(streams, func(st *v1.Stream) bool { return st.EmitFilter != "" }) {
		cols = append(cols, column{"EMIT FILTER", func(st *v1.Stream) string { return st.EmitFilter }})
	}
	if counts {
		cols = append(cols, column{"EVENTS", func(st *v1.Stream) string {
			if st.Events == nil {
				return "-"
			}
			return strconv.FormatUint(st.GetEvents(), 10)
		}})
	}
	cols = append(cols, column{"CLIENT ID", func(st *v1.Stream) string { return st.GetCredentials().GetClientId() }})
	if len(streams) > 0 && streams[0].GetCredentials().GetClientSecret() != "" {
		cols = append(cols, column{"CLIENT SECRET", func(st *v1.Stream) string { return st.GetCredentials().GetClientSecret() }})
	}
	cols = append(cols,
		column{"CREATED", func(st *v1.Stream) string { return st.GetCreateTime().AsTime().Format(time.RFC3339) }},
		column{"TAGS", func(st *v1.Stream) string { return strings.Join(st.Tags, ",") }},
		column{"DESCRIPTION", func(st *v1.Stream) string { return st.Description }})
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	rows := make([][]string, len(streams))
	for i, st := range streams {
		rows[i] = make([]string, len(cols))
		for j, c := range cols {
			rows[i][j] = c.value(st)
		}
	}
	return printTable(e.stdout, header, rows)
}

// consentSummary is a derived stream's consent rule, e.g. "cumulative 2" or
// "granular 0,1"; empty for a source stream.
func consentSummary(st *v1.Stream) string {
	if st.DerivedFrom == "" {
		return ""
	}
	typ := strings.ToLower(strings.TrimPrefix(st.ConsentType.String(), "CONSENT_TYPE_"))
	return typ + " " + joinLevels(st.Levels, ",")
}

// maskedSummary lists masked fields as REF:f1,f2, several contracts joined
// by spaces.
func maskedSummary(st *v1.Stream) string {
	s := make([]string, len(st.MaskedFields))
	for i, m := range st.MaskedFields {
		s[i] = m.ContractRef + ":" + strings.Join(m.Fields, ",")
	}
	return strings.Join(s, " ")
}
