package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/keys"
)

// keys is a management client: it uses the admin token, not a stream's
// credentials.
func (e *env) keys() strmlocalv1connect.KeyServiceClient {
	return e.client().Keys
}

func newKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show, export and forget encryption keys",
		Long: `Every source stream encrypts the PII of each sequence of events (a session, a
device: the contract's keyField) with a key of its own, named by a key link
that rotates every key period. A key is deleted when its retention ends, or
when its data subject is forgotten; the events it encrypted can then never be
decrypted again.`,
		Example: `  strmlocal keys list demo
  strmlocal keys export demo > demo-keys.csv
  strmlocal keys forget user-1
  strmlocal keys new-master-key > master.json`,
	}
	cmd.AddCommand(newKeysListCmd(e), newKeysExportCmd(e), newKeysForgetCmd(e), newMasterKeyCmd(e))
	return cmd
}

// newMasterKeyCmd prints a new master key, for STRMLOCAL_MASTER_KEY: the
// gateways of the scale-out mode share one (docs/scale-out.md). It needs
// no server.
func newMasterKeyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "new-master-key",
		Short: "Print a new master key (a Tink keyset) for " + keys.MasterKeyEnv,
		Long: `Print a new master key: a cleartext Tink JSON keyset of one AES-256-GCM key,
on one line, in the form ` + keys.MasterKeyEnv + ` takes. It wraps every key
the server stores. The gateways of the scale-out mode must all be given the
same one (docs/scale-out.md). Keep it secret; it needs no server.`,
		Example: `  strmlocal keys new-master-key > master.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := keys.NewMasterKeyset()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(e.stdout, k)
			return err
		},
	}
}

func newKeysListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list STREAM",
		Short: "List the key links of a source stream, oldest first",
		Example: `  strmlocal keys list demo
  strmlocal keys list demo -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.keys().ListKeyLinks(cmd.Context(), connect.NewRequest(&v1.ListKeyLinksRequest{Stream: args[0]}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			rows := make([][]string, len(res.Msg.KeyLinks))
			for i, k := range res.Msg.KeyLinks {
				rows[i] = []string{k.KeyLink, rfc3339(k.CreateTime), rfc3339(k.RotateTime), rfc3339(k.ExpireTime), shredState(k)}
			}
			return printTable(e.stdout, []string{"KEY LINK", "CREATED", "ROTATES AT", "EXPIRES AT", "SHREDDED"}, rows)
		},
	}
}

// rfc3339 formats a time for a table; an unset one is empty.
func rfc3339(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Format(time.RFC3339)
}

// shredState is "no", or when and why the key was deleted.
func shredState(k *v1.KeyLink) string {
	switch {
	case !k.Shredded:
		return "no"
	case k.Forgotten:
		return strings.TrimSpace(rfc3339(k.ShredTime) + " (forgotten)")
	case k.ShredTime != nil:
		return rfc3339(k.ShredTime)
	}
	return "yes"
}

func newKeysExportCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "export STREAM",
		Short: "Export the live keys of a source stream as CSV",
		Long: `Export the live keys of a source stream, one CSV row per key link:

  "<key link>","<Tink JSON keyset>","<expires at, ms since the epoch>"

Every field is double-quoted, quotes inside doubled. Any Tink implementation
can decrypt the stream's events with these keysets (AES-256-SIV deterministic
AEAD, the field path as associated data). The output holds secret keys: keep
it where you would keep the data itself. -o json prints the API response.`,
		Example: `  strmlocal keys export demo > demo-keys.csv
  strmlocal keys export demo -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.keys().ExportKeys(cmd.Context(), connect.NewRequest(&v1.ExportKeysRequest{Stream: args[0]}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			return writeKeysCSV(e.stdout, res.Msg.Keys)
		},
	}
}

// writeKeysCSV writes the rows of keys export in the format key exporters
// write too (keys.CSVRow).
func writeKeysCSV(w io.Writer, rows []*v1.ExportedKey) error {
	var b strings.Builder
	for _, k := range rows {
		var expires time.Time
		if k.ExpireTime != nil {
			expires = k.ExpireTime.AsTime()
		}
		b.WriteString(keys.CSVRow(k.KeyLink, k.Keyset, expires))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newKeysForgetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "forget DATA-SUBJECT-ID",
		Short: "Delete every key link of a data subject, for good",
		Long: `Forget a person: delete every key link recorded for the data subject (the
value of the contract's dataSubjectField). Their events stay in the log, but
their PII can never be decrypted again, not even by derived streams. This
cannot be undone.`,
		Example: `  strmlocal keys forget user-1
  strmlocal keys forget customer-42 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.keys().ForgetDataSubject(cmd.Context(), connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: args[0]}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			_, err = fmt.Fprintf(e.stdout, "forgot %s: %s deleted, %s can no longer be decrypted\n",
				args[0], plural(int(res.Msg.KeyLinks), "key link"), plural(int(res.Msg.Events), "event"))
			return err
		},
	}
}
