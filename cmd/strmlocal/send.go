package main

import (
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

// sendBatch is how many events one SendEvents call carries.
const sendBatch = 256

// sendTally counts what a send did, for the summary line.
type sendTally struct {
	total, accepted, rejected int
	first, last               uint64 // offsets of the first and last accepted event
}

func (t *sendTally) accept(offset uint64) {
	if t.accepted == 0 {
		t.first = offset
	}
	t.last = offset
	t.accepted++
}

// summary is e.g. "sent 4 events to demo: 3 accepted (offsets 0-2), 1 rejected".
// Offsets are those of the first and last accepted event: other producers
// may have appended in between.
func (t *sendTally) summary(stream string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %s to %s: %d accepted", plural(t.total, "event"), stream, t.accepted)
	switch {
	case t.accepted == 1:
		fmt.Fprintf(&b, " (offset %d)", t.first)
	case t.accepted > 1:
		fmt.Fprintf(&b, " (offsets %d-%d)", t.first, t.last)
	}
	if t.rejected > 0 {
		fmt.Fprintf(&b, ", %d rejected", t.rejected)
	}
	return b.String()
}

// plural is "1 event", "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// sendItem is one event to send, and where it is in the input ("line 3",
// "datum 2 (byte 14)", a file name).
type sendItem struct {
	where string
	body  []byte
}

type sendOptions struct {
	schemaRef string
	format    string
	oneDatum  bool
}

// reader picks how send reads its input: fn gets batches of at most size
// events. noEvents says what to give when there are none.
func (e *env) sendReader(cmd *cobra.Command, args []string, o sendOptions) (read func(size int, fn func([]sendItem) error) error, ser v1.Serialization, noEvents string, err error) {
	switch o.format {
	case "json":
		if o.oneDatum {
			return nil, 0, "", errors.New("--one-datum is for --format avro: add it, or leave --one-datum out")
		}
		ser, noEvents = v1.Serialization_SERIALIZATION_JSON, "no events to send: give a file with one JSON event per line, or pipe them in"
	case "avro":
		ser, noEvents = v1.Serialization_SERIALIZATION_AVRO_BINARY, "no datums to send: give a file of length-delimited Avro datums (see --format), or pipe them in"
		if o.oneDatum {
			return func(size int, fn func([]sendItem) error) error {
				return readDatumFiles(cmd, args, size, fn)
			}, ser, "", nil
		}
	default:
		return nil, 0, "", fmt.Errorf("invalid --format %q: use json or avro", o.format)
	}
	return func(size int, fn func([]sendItem) error) error {
		in, err := e.openInput(cmd, args)
		if err != nil {
			return err
		}
		defer in.Close()
		if o.format == "avro" {
			return readAvroDatums(in, size, fn)
		}
		return readEventLines(in, size, func(batch []eventLine) error {
			items := make([]sendItem, len(batch))
			for i, l := range batch {
				items[i] = sendItem{fmt.Sprintf("line %d", l.n), l.body}
			}
			return fn(items)
		})
	}, ser, noEvents, nil
}

func newSendCmd(e *env) *cobra.Command {
	o := sendOptions{format: "json"}
	cmd := &cobra.Command{
		Use:   "send STREAM --schema-ref REF [FILE|-]",
		Short: "Send JSON or Avro events to a source stream",
		Long: `Send events, one JSON document per line (from FILE, or stdin), to a source
stream, authenticated with the stream's saved credentials (see create stream).
Pretty-printed documents (a lone "{" on their first line) and a JSON array
of events are read too; "line N" is the line an event starts on.
Each event is validated, encrypted and appended on its own: a rejected event
does not stop the others. Prints "line N: rejected: <reason>" for each
rejected event, a summary on stderr, and exits with 1 when any was rejected.

--format avro sends Avro binary datums of the --schema-ref schema (bare
datums: no container file, no header), read as length-delimited datums:
each datum follows its length in bytes, written as an Avro long (zig-zag
varint), so that the input is a sequence of Avro "bytes" values. "datum N
(byte B)" is the Nth datum, whose length starts at byte B (from 0). With
--one-datum, each FILE (several may be given; - is stdin) is one datum,
whole.`,
		Example: `  strmlocal send demo --schema-ref streammachine/demo/1.0.2 events.jsonl
  gunzip -c events.jsonl.gz | strmlocal send demo --schema-ref streammachine/demo/1.0.2
  strmlocal send demo --schema-ref streammachine/demo/1.0.2 --format avro datums.bin
  strmlocal send demo --schema-ref streammachine/demo/1.0.2 --format avro --one-datum event-1.avro event-2.avro`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.oneDatum {
				return cobra.MinimumNArgs(1)(cmd, args)
			}
			return cobra.RangeArgs(1, 2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := args[0]
			read, ser, noEvents, err := e.sendReader(cmd, args[1:], o)
			if err != nil {
				return err
			}
			creds, err := e.sendingCredentials(cmd.Context(), stream)
			if err != nil {
				return err
			}
			events := e.streamEvents(creds)
			var t sendTally
			err = read(sendBatch, func(batch []sendItem) error {
				req := &v1.SendEventsRequest{Stream: stream, SchemaRef: o.schemaRef, Serialization: ser}
				for _, it := range batch {
					req.Events = append(req.Events, it.body)
				}
				res, err := events.SendEvents(cmd.Context(), connect.NewRequest(req))
				if err != nil {
					return e.refused(stream, err)
				}
				if len(res.Msg.Results) != len(batch) {
					return fmt.Errorf("the server answered %d results for %d events; is it a strmlocal server of the same version?", len(res.Msg.Results), len(batch))
				}
				for i, r := range res.Msg.Results {
					t.total++
					if r.Accepted {
						t.accept(r.Offset)
						continue
					}
					t.rejected++
					fmt.Fprintf(e.stdout, "%s: rejected: %s\n", batch[i].where, client.OneLine(rejectionOf(r, res.Msg.Results)))
				}
				return nil
			})
			if t.total > 0 {
				// Also after an error: what was sent is appended.
				fmt.Fprintln(e.stderr, t.summary(stream))
			}
			switch {
			case err != nil:
				return err
			case t.total == 0:
				return errors.New(noEvents)
			case t.rejected > 0:
				return fmt.Errorf("%d of %d events rejected", t.rejected, t.total)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.schemaRef, "schema-ref", "", "ref of the events' schema (required)")
	f.StringVar(&o.format, "format", o.format, "json, or avro: length-delimited Avro binary datums")
	f.BoolVar(&o.oneDatum, "one-datum", false, "with --format avro: each FILE is one datum")
	_ = cmd.MarkFlagRequired("schema-ref")
	return cmd
}

// rejectionOf is the reason of a rejected event of a batch; one "the same
// as event I of the batch" gets event I's reason.
func rejectionOf(r *v1.EventResult, batch []*v1.EventResult) string {
	v := r.GetRejection()
	if v.SameAs != nil && v.GetSameAs() < uint64(len(batch)) {
		return batch[v.GetSameAs()].GetRejection().GetError()
	}
	return v.GetError()
}
