package main

import (
	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/tui"
)

func newTUICmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Browse streams, events and keys in a terminal UI",
		Long: `Browse the server's streams in the terminal: source streams with their derived
streams as a tree (event counts, live rates, key links), a live tail of a
stream's events (follow or pause, jump to an offset or a time, filter by a
field value), an event in detail with its PII fields marked, a source event
beside the same offset of a derived stream, and the key links of a stream.
Press ? for the keys.

Events are read with the streams' saved credentials (see create stream); a
stream without them says so in its pane. The UI uses only the public API, so
it works against any strmlocal server (--server).`,
		Example: `  strmlocal tui
  strmlocal tui --server http://127.0.0.1:50052`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return tui.Run(cmd.Context(), e.tuiOptions())
		},
	}
}

// tuiOptions wires the UI to this command line's server, admin token and
// saved stream credentials, and to its terminal. The UI keeps its own HTTP
// client, whose connections it closes when it ends.
func (e *env) tuiOptions() tui.Options {
	return tui.Options{
		Server:        e.server,
		ClientOptions: e.client().ConnectOptions(),
		Credentials:   e.streamCredentials,
		Input:         e.stdin,
		Output:        e.stdout,
	}
}
