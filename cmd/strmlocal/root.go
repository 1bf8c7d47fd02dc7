package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "devel"

// env is everything a command learns from outside its flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// Set by the persistent flags.
	server     string
	output     string
	adminToken string
}

// run executes one strmlocal command line and returns the exit code.
// Errors are printed to stderr as one line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "strmlocal: "+describe(err, e.server))
		return 1
	}
	return 0
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "strmlocal",
		Short:         "A local sandbox for privacy-aware event streams",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defServer := e.getenv("STRMLOCAL_SERVER")
	if defServer == "" {
		defServer = client.DefaultServer
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.server, "server", defServer, "URL of the strmlocal server (env STRMLOCAL_SERVER)")
	pf.StringVarP(&e.output, "output", "o", "table", "output format of read commands: table or json")
	pf.StringVar(&e.adminToken, "admin-token", e.getenv("STRMLOCAL_ADMIN_TOKEN"), "admin token of the server, if it has one (env STRMLOCAL_ADMIN_TOKEN)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if e.output != "table" && e.output != "json" {
			return fmt.Errorf("invalid --output %q: use table or json", e.output)
		}
		return nil
	}
	root.AddCommand(
		newServeCmd(e),
		newCreateCmd(e),
		newListCmd(e),
		newGetCmd(e),
		newDeleteCmd(e),
		newStateCmd(e, "activate", "Activate", v1.State_STATE_ACTIVE),
		newStateCmd(e, "archive", "Archive", v1.State_STATE_ARCHIVED),
		newJobStateCmd(e, true),
		newJobStateCmd(e, false),
		newTestCmd(e),
		newDescribeCmd(e),
		newValidateCmd(e),
		newSendCmd(e),
		newEgressCmd(e),
		newSimulateCmd(e),
		newKeysCmd(e),
		newClockCmd(e),
		newTUICmd(e),
		newVersionCmd(e),
		newRepairCmd(e),
	)
	return root
}

// client is the client of the server this command line names, with its
// admin token on every call.
func (e *env) client() *client.Client {
	return client.New(e.server, client.Options{HTTPClient: e.httpClient(), AdminToken: e.adminToken})
}

// httpClient is the client every command uses: HTTP/1.1 or HTTP/2 as the
// server's URL and the protocol call for.
func (e *env) httpClient() *http.Client { return http.DefaultClient }

func (e *env) streams() strmlocalv1connect.StreamServiceClient { return e.client().Streams }

// describe turns an error into the one line the user sees: what went wrong
// and what to do about it.
func describe(err error, server string) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return client.OneLine(err.Error())
	}
	msg := client.Message(err)
	switch ce.Code() {
	case connect.CodeUnavailable:
		if len(ce.Meta()) > 0 {
			// The server answered: something it reaches (a data
			// connector's endpoint) is unavailable, not the server.
			return msg
		}
		return fmt.Sprintf("cannot reach a strmlocal server at %s (%s); start one with `strmlocal serve`, or point --server / STRMLOCAL_SERVER at it", server, strings.TrimSpace(msg))
	case connect.CodeNotFound:
		return msg + "; see what exists with `strmlocal list`"
	case connect.CodeAlreadyExists:
		return msg + "; pick another name, or delete it first"
	}
	return msg
}
