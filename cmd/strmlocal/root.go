package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

	// What the command line learned beyond its flags (saved.go).
	runOnce sync.Once
	run     *runState
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
		fmt.Fprintln(stderr, "strmlocal: "+e.describe(ctx, err))
		return 1
	}
	return 0
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "strmlocal",
		Short: "A local sandbox for privacy-aware event streams",
		Example: `  strmlocal serve --ephemeral
  strmlocal create stream demo
  strmlocal simulate demo demo --count 100
  strmlocal egress demo --follow=false`,
		Long: `A local sandbox for privacy-aware event streams.

A command that takes a subcommand (create, list, get, ...) prints its help
when given none, and refuses a subcommand it does not know with exit code 1.`,
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints what strmlocal version does; defined here so that
	// it has no -v shorthand (serve -v is --verbose).
	root.Flags().Bool("version", false, "print the version, as strmlocal version does")
	root.SetVersionTemplate("{{.Version}}\n")
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
		newStatusCmd(e),
		newRepairCmd(e),
		newContextCmd(e),
		newApplyCmd(e),
		newExportConfigCmd(e),
	)
	// The completion command cobra adds at execution, added now so that it
	// refuses unknown subcommands too. Its scripts go where the root writes
	// when it is added.
	root.SetOut(e.stdout)
	root.InitDefaultCompletionCmd()
	setUpCompletion(e, root)
	refuseUnknownSubcommands(root)
	typedDefaults(root)
	return root
}

// refuseUnknownSubcommands gives every command that only groups others a
// RunE: with no argument it prints its help, with one it refuses it as an
// unknown command (cobra would print the help and exit 0, so that a
// script would take a typo for success).
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	}
}

// unknownCommandError is printed as it is, on several lines.
type unknownCommandError struct{ msg string }

func (e *unknownCommandError) Error() string { return e.msg }

// unknownCommand says that cmd has no subcommand name, and which of its
// subcommands come close.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	s := cmd.SuggestionsFor(name)
	// The closest first.
	slices.SortStableFunc(s, func(a, b string) int {
		return editDistance(strings.ToLower(name), a) - editDistance(strings.ToLower(name), b)
	})
	switch len(s) {
	case 0:
		msg += fmt.Sprintf("; see `%s --help`", cmd.CommandPath())
	case 1:
		msg += "\nDid you mean this?\n\t" + s[0]
	default:
		msg += "\nDid you mean one of these?\n\t" + strings.Join(s, "\n\t")
	}
	return &unknownCommandError{msg}
}

// typedDefaults shows the defaults of list flags as they are typed
// (a,b rather than [a,b]), and an empty list as no default at all.
func typedDefaults(c *cobra.Command) {
	fix := func(f *pflag.Flag) {
		switch {
		case f.DefValue == "[]":
			// pflag shows no default for an empty list of these types,
			// and for "" of the others (int32Slice shows "[]").
			switch f.Value.Type() {
			case "stringSlice", "stringArray", "intSlice":
			default:
				f.DefValue = ""
			}
		case strings.HasPrefix(f.DefValue, "[") && strings.HasSuffix(f.DefValue, "]"):
			f.DefValue = f.DefValue[1 : len(f.DefValue)-1]
		}
	}
	c.Flags().VisitAll(fix)
	c.PersistentFlags().VisitAll(fix)
	for _, sub := range c.Commands() {
		typedDefaults(sub)
	}
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

// describe turns an error into what the user sees: what went wrong and
// what to do about it, on one line (an unknown command's suggestions
// follow on their own lines).
func (e *env) describe(ctx context.Context, err error) string {
	var uc *unknownCommandError
	if errors.As(err, &uc) {
		return uc.msg
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return client.OneLine(err.Error())
	}
	if msg, bad := badServerURL(e.server); bad {
		return msg
	}
	msg := client.Message(err)
	switch ce.Code() {
	case connect.CodeUnavailable:
		if len(ce.Meta()) > 0 {
			// The server answered: something it reaches (a data
			// connector's endpoint) is unavailable, not the server.
			return msg
		}
		return fmt.Sprintf("cannot reach a strmlocal server at %s (%s); start one with `strmlocal serve`, or point --server / STRMLOCAL_SERVER at it", e.server, strings.TrimSpace(msg))
	case connect.CodeUnauthenticated:
		// The server says the same whether the token is missing or wrong;
		// only its advice to pass one fits a missing one.
		if e.adminToken != "" && strings.HasPrefix(msg, adminTokenRequired) {
			return "the server refused the admin token (--admin-token / STRMLOCAL_ADMIN_TOKEN)"
		}
	case connect.CodeNotFound:
		if name, ok := missingStream(msg); ok {
			return msg + e.streamsBesides(ctx, name)
		}
		return msg + "; see what exists with `strmlocal list`"
	case connect.CodeAlreadyExists:
		return msg + "; pick another name, or delete it first"
	}
	return msg
}

// adminTokenRequired starts the server's answer to a management call
// without its admin token (or with a wrong one).
const adminTokenRequired = "this server requires its admin token"

// badServerURL explains a --server that is no http:// or https:// URL:
// without a scheme, a host:port reads as scheme host.
func badServerURL(server string) (string, bool) {
	scheme, _, found := strings.Cut(server, "://")
	switch {
	case !found:
		return fmt.Sprintf("--server %s: give the scheme, e.g. http://%s", server, server), true
	case !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https"):
		return fmt.Sprintf("--server %s: use an http:// or https:// URL", server), true
	}
	return "", false
}
