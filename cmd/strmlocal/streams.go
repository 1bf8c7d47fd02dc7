package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

func newCreateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "create", Short: "Create an entity"}
	cmd.AddCommand(newCreateStreamCmd(e), newCreateSchemaCmd(e), newCreateContractCmd(e))
	return cmd
}

func newListCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List entities"}
	cmd.AddCommand(&cobra.Command{
		Use:   "streams",
		Short: "List streams",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.streams().ListStreams(cmd.Context(), connect.NewRequest(&v1.ListStreamsRequest{}))
			if err != nil {
				return err
			}
			return e.printStreams(res.Msg, res.Msg.Streams...)
		},
	}, newListSchemasCmd(e), newListContractsCmd(e))
	return cmd
}

func newGetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "get", Short: "Show one entity"}
	cmd.AddCommand(&cobra.Command{
		Use:   "stream NAME",
		Short: "Show a stream",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.streams().GetStream(cmd.Context(), connect.NewRequest(&v1.GetStreamRequest{Name: args[0]}))
			if err != nil {
				return err
			}
			return e.printStreams(res.Msg, res.Msg.Stream)
		},
	}, newGetSchemaCmd(e), newGetContractCmd(e))
	return cmd
}

func newDeleteCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "delete", Short: "Delete an entity"}
	cmd.AddCommand(&cobra.Command{
		Use:   "stream NAME",
		Short: "Delete a stream and every event in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if _, err := e.streams().DeleteStream(cmd.Context(), connect.NewRequest(&v1.DeleteStreamRequest{Name: name})); err != nil {
				return err
			}
			if err := e.saved().remove("Stream", name); err != nil {
				return err
			}
			_, err := fmt.Fprintf(e.stdout, "deleted stream %s\n", name)
			return err
		},
	})
	return cmd
}

type createStreamOptions struct {
	description string
	tags        []string
	save        bool
}

func newCreateStreamCmd(e *env) *cobra.Command {
	var o createStreamOptions
	cmd := &cobra.Command{
		Use:   "stream NAME",
		Short: "Create a stream",
		Long: `Create a stream. Its credentials (client id and secret) are printed and, unless
--save=false, saved with the stream to
$XDG_CONFIG_HOME/strmlocal/saved-entities/Stream/NAME.json: the secret is not
shown again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.streams().CreateStream(cmd.Context(), connect.NewRequest(&v1.CreateStreamRequest{
				Name: args[0], Description: o.description, Tags: o.tags,
			}))
			if err != nil {
				return err
			}
			st := res.Msg.Stream
			if o.save {
				path, err := e.saved().save("Stream", st.Name, st)
				if err != nil {
					return fmt.Errorf("stream %s was created but its credentials could not be saved: %w", st.Name, err)
				}
				fmt.Fprintf(e.stderr, "saved credentials to %s\n", path)
			}
			return e.printStreams(res.Msg, st)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.description, "description", "", "description of the stream")
	f.StringSliceVar(&o.tags, "tags", nil, "comma-separated tags")
	f.BoolVar(&o.save, "save", true, "save the stream and its credentials under the config dir")
	return cmd
}

// printStreams prints msg as JSON, or the streams as a table.
// The client secret column appears only when the server returned a secret,
// which it does on creation only.
func (e *env) printStreams(msg proto.Message, streams ...*v1.Stream) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	withSecret := len(streams) > 0 && streams[0].GetCredentials().GetClientSecret() != ""
	header := []string{"NAME", "CLIENT ID", "CREATED", "TAGS", "DESCRIPTION"}
	if withSecret {
		header = slices.Insert(header, 2, "CLIENT SECRET")
	}
	rows := make([][]string, len(streams))
	for i, st := range streams {
		rows[i] = []string{
			st.Name,
			st.GetCredentials().GetClientId(),
			st.GetCreateTime().AsTime().Format(time.RFC3339),
			strings.Join(st.Tags, ","),
			st.Description,
		}
		if withSecret {
			rows[i] = slices.Insert(rows[i], 2, st.GetCredentials().GetClientSecret())
		}
	}
	return printTable(e.stdout, header, rows)
}
