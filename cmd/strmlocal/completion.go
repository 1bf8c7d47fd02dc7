package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/sim"
)

// Shell completion (cobra's __complete command, behind the scripts that
// strmlocal completion bash|zsh|fish prints) completes the names the server
// knows: streams, schema and contract refs, data connectors, jobs. It asks
// the server this command line names (--server, STRMLOCAL_SERVER or the
// current context, with --admin-token), for at most completionTimeout; a
// server that does not answer completes nothing, and prints nothing on
// stdout but cobra's directive line.

// completionTimeout bounds the one call a completion makes.
const completionTimeout = 2 * time.Second

// names lists what a completion offers: names the server has, or fixed
// words.
type names func(ctx context.Context, e *env, cmd *cobra.Command) ([]string, error)

// fixed offers the same words every time.
func fixed(words ...string) names {
	return func(context.Context, *env, *cobra.Command) ([]string, error) { return words, nil }
}

// files marks an argument that is a file: the shell completes it.
var files names = nil

// argCompletions completes the positional arguments of commands, by
// command path (without "strmlocal"): one entry per argument, files for a
// FILE argument. A command not listed, and arguments past its list,
// complete nothing (not even files). A path this build does not have is
// skipped.
var argCompletions = map[string][]names{
	"egress":                  {allStreams},
	"send":                    {sourceStreams, files},
	"validate":                {files},
	"simulate":                {fixed(sim.Names...), sourceStreams},
	"get stream":              {allStreams},
	"delete stream":           {allStreams},
	"get usage":               {allStreams},
	"keys list":               {sourceStreams},
	"keys export":             {sourceStreams},
	"create batch-exporter":   {allStreams},
	"create kafka-exporter":   {allStreams},
	"create cloudevents-sink": {allStreams},
	"get schema":              {schemaRefs},
	"activate schema":         {schemaRefs},
	"archive schema":          {schemaRefs},
	"get event-contract":      {contractRefs},
	"activate event-contract": {contractRefs},
	"archive event-contract":  {contractRefs},
	"get data-connector":      {connectorNames},
	"delete data-connector":   {connectorNames},
	"test data-connector":     {connectorNames},
	"get job":                 {jobNames()},
	"delete job":              {jobNames()},
	"pause job":               {jobNames()},
	"resume job":              {jobNames()},
	"get batch-exporter":      {jobNames(exporterKinds...)},
	"delete batch-exporter":   {jobNames(exporterKinds...)},
	"context use":             {contextNames},
}

// flagCompletions completes the values of flags by name: a flag of this
// name completes the same way on every command that has it, unless
// flagCompletionsAt names the command. Other flags complete files.
var flagCompletions = map[string]names{
	"schema-ref":     schemaRefs,
	"stream":         allStreams,
	"derived-from":   sourceStreams,
	"data-connector": connectorNames,
	"consent-type":   fixed("cumulative", "granular"),
}

// flagCompletionsAt completes a flag of one command, by "PATH --FLAG".
var flagCompletionsAt = map[string]names{
	"validate --schema-ref": schemaRefsOrBuiltin,
	"validate --type":       fixed("avro", "json-schema"),
	"create schema --type":  fixed("avro", "json-schema"),
	"send --format":         fixed("json", "avro"),
	"serve --clock":         fixed("real", "virtual"),
	"simulate --via":        fixed("connect", "http"),
	"create data-connector kafka --sasl-mechanism": fixed("plain", "scram-sha-256", "scram-sha-512"),
}

// outputs are the values of the persistent --output (-o).
var outputs = fixed("table", "json")

// setUpCompletion gives every command under root its completions from the
// tables above, and the completion commands (which cobra adds) examples.
func setUpCompletion(e *env, root *cobra.Command) {
	var visit func(cmd *cobra.Command, path string)
	visit = func(cmd *cobra.Command, path string) {
		for _, sub := range cmd.Commands() {
			visit(sub, strings.TrimSpace(path+" "+sub.Name()))
		}
		if cmd.ValidArgsFunction == nil && !cmd.HasSubCommands() {
			cmd.ValidArgsFunction = e.completeArgs(argCompletions[path])
		}
		cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			n, ok := flagCompletionsAt[path+" --"+f.Name]
			if !ok {
				n, ok = flagCompletions[f.Name]
			}
			if ok {
				_ = cmd.RegisterFlagCompletionFunc(f.Name, e.completeWith(n))
			}
		})
	}
	visit(root, "")
	_ = root.RegisterFlagCompletionFunc("output", e.completeWith(outputs))
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Example = completionExamples["bash"] + "\n" + completionExamples["zsh"] + "\n" + completionExamples["fish"]
		for _, sub := range c.Commands() {
			sub.Example = completionExamples[sub.Name()]
		}
	}
}

// completionExamples install the completion script of each shell.
var completionExamples = map[string]string{
	"bash": `  # bash, for this shell; for every new one, add the line to ~/.bashrc
  source <(strmlocal completion bash)`,
	"zsh": `  # zsh (with compinit), for every new shell
  strmlocal completion zsh > "${fpath[1]}/_strmlocal"`,
	"fish": `  # fish, for every new shell
  strmlocal completion fish > ~/.config/fish/completions/strmlocal.fish`,
	"powershell": `  # PowerShell, for this shell; for every new one, add the line to $PROFILE
  strmlocal completion powershell | Out-String | Invoke-Expression`,
}

// completeArgs completes the next positional argument with its entry of
// args.
func (e *env) completeArgs(args []names) cobra.CompletionFunc {
	return func(cmd *cobra.Command, done []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(done) >= len(args) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if args[len(done)] == nil {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return e.complete(cmd, args[len(done)], toComplete)
	}
}

// completeWith completes a flag's value.
func (e *env) completeWith(n names) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return e.complete(cmd, n, toComplete)
	}
}

// complete offers what n lists that starts with toComplete, sorted. An
// error (no server, a refused token) offers nothing.
func (e *env) complete(cmd *cobra.Command, n names, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	all, err := n(ctx, e, cmd)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, s := range all {
		if strings.HasPrefix(s, toComplete) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), cobra.ShellCompDirectiveNoFileComp
}

func allStreams(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
	return e.streamNames(ctx, false)
}

// sourceStreams are the streams that take events and have keys.
func sourceStreams(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
	return e.streamNames(ctx, true)
}

func (e *env) streamNames(ctx context.Context, sourceOnly bool) ([]string, error) {
	res, err := e.streams().ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range res.Msg.Streams {
		if !sourceOnly || st.DerivedFrom == "" {
			out = append(out, st.Name)
		}
	}
	return out, nil
}

func schemaRefs(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
	res, err := e.schemas().ListSchemas(ctx, connect.NewRequest(&v1.ListSchemasRequest{}))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(res.Msg.Schemas))
	for i, s := range res.Msg.Schemas {
		out[i] = s.Ref
	}
	return out, nil
}

// schemaRefsOrBuiltin is schemaRefs, except that validate --offline
// offers the built-in catalogue's refs, which it resolves without a
// server.
func schemaRefsOrBuiltin(ctx context.Context, e *env, cmd *cobra.Command) ([]string, error) {
	if f := cmd.Flags().Lookup("offline"); f == nil || f.Value.String() != "true" {
		return schemaRefs(ctx, e, cmd)
	}
	schemas, _, err := catalog.Builtin()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(schemas))
	for i, s := range schemas {
		out[i] = s.Ref().String()
	}
	return out, nil
}

func contractRefs(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
	res, err := e.contracts().ListEventContracts(ctx, connect.NewRequest(&v1.ListEventContractsRequest{}))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(res.Msg.EventContracts))
	for i, c := range res.Msg.EventContracts {
		out[i] = c.Ref
	}
	return out, nil
}

func connectorNames(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
	res, err := e.connectors().ListDataConnectors(ctx, connect.NewRequest(&v1.ListDataConnectorsRequest{}))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(res.Msg.DataConnectors))
	for i, c := range res.Msg.DataConnectors {
		out[i] = c.Name
	}
	return out, nil
}

// jobNames lists the jobs, of these kinds only when kinds are given.
func jobNames(kinds ...string) names {
	return func(ctx context.Context, e *env, _ *cobra.Command) ([]string, error) {
		res, err := e.jobs().ListJobs(ctx, connect.NewRequest(&v1.ListJobsRequest{}))
		if err != nil {
			return nil, err
		}
		var out []string
		for _, j := range res.Msg.Jobs {
			if len(kinds) == 0 || slices.Contains(kinds, j.Kind) {
				out = append(out, j.Name)
			}
		}
		return out, nil
	}
}

// contextNames are the contexts of contexts.json and the default one; no
// server is asked.
func contextNames(_ context.Context, e *env, _ *cobra.Command) ([]string, error) {
	f, err := e.readContexts()
	if err != nil {
		return nil, err
	}
	out := []string{defaultContext}
	for n := range f.Contexts {
		out = append(out, n)
	}
	return out, nil
}
