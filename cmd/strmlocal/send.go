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

func newSendCmd(e *env) *cobra.Command {
	var schemaRef string
	cmd := &cobra.Command{
		Use:   "send STREAM --schema-ref REF [FILE|-]",
		Short: "Send JSON events to a source stream",
		Long: `Send events, one JSON document per line (from FILE, or stdin), to a source
stream, authenticated with the stream's saved credentials (see create stream).
Pretty-printed documents (a lone "{" on their first line) and a JSON array
of events are read too; "line N" is the line an event starts on.
Each event is validated, encrypted and appended on its own: a rejected event
does not stop the others. Prints "line N: rejected: <reason>" for each
rejected event, a summary on stderr, and exits with 1 when any was rejected.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := args[0]
			creds, err := e.sendingCredentials(cmd.Context(), stream)
			if err != nil {
				return err
			}
			in, err := e.openInput(cmd, args[1:])
			if err != nil {
				return err
			}
			defer in.Close()
			events := e.streamEvents(creds)
			var t sendTally
			err = readEventLines(in, sendBatch, func(batch []eventLine) error {
				req := &v1.SendEventsRequest{Stream: stream, SchemaRef: schemaRef, Serialization: v1.Serialization_SERIALIZATION_JSON}
				for _, l := range batch {
					req.Events = append(req.Events, l.body)
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
					fmt.Fprintf(e.stdout, "line %d: rejected: %s\n", batch[i].n, client.OneLine(r.GetRejection().GetError()))
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
				return errors.New("no events to send: give a file with one JSON event per line, or pipe them in")
			case t.rejected > 0:
				return fmt.Errorf("%d of %d events rejected", t.rejected, t.total)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaRef, "schema-ref", "", "ref of the events' schema (required)")
	_ = cmd.MarkFlagRequired("schema-ref")
	return cmd
}
