package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/engine"
)

// validateBatch is how many events one ValidateEvents call carries.
const validateBatch = 500

// maxLine bounds one input line; the server refuses events far smaller.
const maxLine = 64 << 20

func (e *env) events() strmlocalv1connect.EventServiceClient {
	return e.client().Events
}

// openInput opens the FILE argument of a command that reads events:
// stdin when it is absent or "-".
func (e *env) openInput(cmd *cobra.Command, args []string) (io.ReadCloser, error) {
	if len(args) == 0 || args[0] == "-" {
		return io.NopCloser(cmd.InOrStdin()), nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, fmt.Errorf("cannot read events: %w", err)
	}
	return f, nil
}

// eventLine is one event of the input and the number of the line it
// starts on.
type eventLine struct {
	n    int
	body []byte
}

// checkEvents checks a batch of JSON events: one verdict per event, ""
// when it is valid, else why not.
type checkEvents func(ctx context.Context, bodies [][]byte) ([]string, error)

// validateOnline checks events with the server's ValidateEvents.
func (e *env) validateOnline(schemaRef string) checkEvents {
	client := e.events()
	return func(ctx context.Context, bodies [][]byte) ([]string, error) {
		req := &v1.ValidateEventsRequest{SchemaRef: schemaRef, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: bodies}
		res, err := client.ValidateEvents(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		if len(res.Msg.Verdicts) != len(bodies) {
			return nil, fmt.Errorf("the server answered %d verdicts for %d events; is it a strmlocal server of the same version?", len(res.Msg.Verdicts), len(bodies))
		}
		out := make([]string, len(bodies))
		for i, v := range res.Msg.Verdicts {
			out[i] = verdictError(v, res.Msg.Verdicts)
		}
		return out, nil
	}
}

// verdictError is the reason of a verdict of a batch. A verdict that is
// "the same as event I of the batch" gets event I's reason: the user sees
// lines, not batches.
func verdictError(v *v1.Verdict, batch []*v1.Verdict) string {
	if v.SameAs != nil && v.GetSameAs() < uint64(len(batch)) {
		return batch[v.GetSameAs()].Error
	}
	return v.Error
}

func newValidateCmd(e *env) *cobra.Command {
	var schemaRef string
	var o offlineOptions
	cmd := &cobra.Command{
		Use:   "validate --schema-ref REF [FILE|-]",
		Short: "Check JSON events against their schema and event contract, sending nothing",
		Long: `Check events, one JSON document per line (from FILE, or stdin; pretty-printed
documents and a JSON array of events too), as the server
would at ingest: decode against the schema, find the event contract named in
strmMeta.eventContractRef, run its checks. Nothing is stored. Prints one
verdict per event, "line N: valid" or "line N: invalid: <reason>", and exits
with 1 when any event is invalid.

--offline checks without a server, with the same code the server runs and
the same output: the schema is compiled from --definition FILE (Avro or JSON
Schema, as create schema reads it; --schema-ref names it, by default
` + offlineSchemaRef + `), or is a built-in one named by --schema-ref. The
event contracts are the built-in ones and the one of --contract FILE (as
create event-contract reads it), which has the schema's ref unless FILE is
what get event-contract -o json prints. Events are checked against the
default size limit of ` + fmt.Sprint(engine.DefaultMaxEventBytes>>20) + ` MiB.`,
		Example: `  strmlocal validate --schema-ref streammachine/demo/1.0.2 events.jsonl
  jq -c 'select(.eventType == "checkout")' clicks.jsonl | strmlocal validate --schema-ref streammachine/clickstream/1.0.0
  strmlocal validate --offline --schema-ref streammachine/demo/1.0.2 events.jsonl
  strmlocal validate --offline --definition shop.avsc --schema-ref acme/shop/1.0.0 --contract contract.json events.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			check, err := e.validator(cmd, schemaRef, o)
			if err != nil {
				return err
			}
			in, err := e.openInput(cmd, args)
			if err != nil {
				return err
			}
			defer in.Close()
			var total, invalid int
			err = readEventLines(in, validateBatch, func(batch []eventLine) error {
				bodies := make([][]byte, len(batch))
				for i, l := range batch {
					bodies[i] = l.body
				}
				verdicts, err := check(cmd.Context(), bodies)
				if err != nil {
					return err
				}
				for i, v := range verdicts {
					total++
					if v == "" {
						fmt.Fprintf(e.stdout, "line %d: valid\n", batch[i].n)
						continue
					}
					invalid++
					fmt.Fprintf(e.stdout, "line %d: invalid: %s\n", batch[i].n, v)
				}
				return nil
			})
			switch {
			case err != nil:
				return err
			case total == 0:
				return fmt.Errorf("no events to validate: give a file with one JSON event per line, or pipe them in")
			case invalid > 0:
				return fmt.Errorf("%d of %d events invalid", invalid, total)
			}
			fmt.Fprintf(e.stderr, "all %d events valid\n", total)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&schemaRef, "schema-ref", "", "ref of the events' schema (required, unless --offline --definition)")
	f.BoolVar(&o.offline, "offline", false, "check without a server: the schema of --definition, or a built-in one")
	f.StringVar(&o.definition, "definition", "", "with --offline: file holding the schema definition")
	f.StringVar(&o.typ, "type", "", "with --offline: avro or json-schema (default: from the definition)")
	f.StringVar(&o.contract, "contract", "", "with --offline: file holding an event contract definition")
	return cmd
}

// validator is how validate checks events: on the server, or offline.
func (e *env) validator(cmd *cobra.Command, schemaRef string, o offlineOptions) (checkEvents, error) {
	if o.offline {
		return o.validator(schemaRef)
	}
	for _, name := range []string{"definition", "type", "contract"} {
		if cmd.Flags().Changed(name) {
			return nil, fmt.Errorf("--%s is for validation without a server: add --offline", name)
		}
	}
	if schemaRef == "" {
		return nil, errors.New(`required flag(s) "schema-ref" not set`)
	}
	return e.validateOnline(schemaRef), nil
}
