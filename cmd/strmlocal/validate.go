package main

import (
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
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

func newValidateCmd(e *env) *cobra.Command {
	var schemaRef string
	cmd := &cobra.Command{
		Use:   "validate --schema-ref REF [FILE|-]",
		Short: "Check JSON events against their schema and event contract, sending nothing",
		Long: `Check events, one JSON document per line (from FILE, or stdin; pretty-printed
documents and a JSON array of events too), as the server
would at ingest: decode against the schema, find the event contract named in
strmMeta.eventContractRef, run its checks. Nothing is stored. Prints one
verdict per event, "line N: valid" or "line N: invalid: <reason>", and exits
with 1 when any event is invalid.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := e.openInput(cmd, args)
			if err != nil {
				return err
			}
			defer in.Close()
			client := e.events()
			var total, invalid int
			err = readEventLines(in, validateBatch, func(batch []eventLine) error {
				req := &v1.ValidateEventsRequest{SchemaRef: schemaRef, Serialization: v1.Serialization_SERIALIZATION_JSON}
				for _, l := range batch {
					req.Events = append(req.Events, l.body)
				}
				res, err := client.ValidateEvents(cmd.Context(), connect.NewRequest(req))
				if err != nil {
					return err
				}
				for i, v := range res.Msg.Verdicts {
					total++
					if v.Error == "" {
						fmt.Fprintf(e.stdout, "line %d: valid\n", batch[i].n)
						continue
					}
					invalid++
					fmt.Fprintf(e.stdout, "line %d: invalid: %s\n", batch[i].n, v.Error)
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
	cmd.Flags().StringVar(&schemaRef, "schema-ref", "", "ref of the events' schema (required)")
	_ = cmd.MarkFlagRequired("schema-ref")
	return cmd
}
