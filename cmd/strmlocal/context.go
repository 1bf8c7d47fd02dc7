package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/client"
)

// A context is a named server URL. The current one is where client commands
// go unless --server or STRMLOCAL_SERVER says otherwise:
//
//	--server  >  STRMLOCAL_SERVER  >  current context  >  default context
//
// The contexts live in <config dir>/contexts.json (mode 0600):
//
//	{
//	  "current": "prod",
//	  "contexts": {
//	    "prod": {"server": "http://127.0.0.1:50052"}
//	  }
//	}
//
// The default context is built in (client.DefaultServer) and not stored.
const defaultContext = "default"

type contextEntry struct {
	Server string `json:"server"`
}

type contextsFile struct {
	Current  string                  `json:"current,omitempty"`
	Contexts map[string]contextEntry `json:"contexts,omitempty"`
}

func (e *env) contextsPath() string { return filepath.Join(e.configDir(), "contexts.json") }

// readContexts reads contexts.json; a missing file is no contexts.
func (e *env) readContexts() (contextsFile, error) {
	var f contextsFile
	path := e.contextsPath()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s is damaged (%v): fix or delete it", path, err)
	}
	return f, nil
}

// loadContexts is readContexts, with a current context that exists.
func (e *env) loadContexts() (contextsFile, error) {
	f, err := e.readContexts()
	if err != nil {
		return f, err
	}
	if _, ok := f.server(f.current()); !ok {
		return f, fmt.Errorf("%s names the current context %q, which it does not define: pick one with `strmlocal context use NAME`", e.contextsPath(), f.Current)
	}
	return f, nil
}

func (f contextsFile) current() string {
	if f.Current == "" {
		return defaultContext
	}
	return f.Current
}

// server is the URL of a context.
func (f contextsFile) server(name string) (string, bool) {
	if name == defaultContext {
		return client.DefaultServer, true
	}
	c, ok := f.Contexts[name]
	return c.Server, ok
}

func (e *env) saveContexts(f contextsFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return client.WriteConfigFile(e.contextsPath(), append(b, '\n'))
}

// applyContext points the command line at the current context's server,
// unless STRMLOCAL_SERVER is set. It runs while the command line is built:
// after the --server flag got its default, before the flags are parsed, so
// --server still wins.
func (e *env) applyContext() {
	if e.getenv("STRMLOCAL_SERVER") != "" {
		return
	}
	f, err := e.loadContexts()
	if err != nil {
		// Every command still runs; the context commands refuse the file.
		fmt.Fprintf(e.stderr, "strmlocal: warning: %s; using the default context (%s)\n", client.OneLine(err.Error()), client.DefaultServer)
		return
	}
	if name := f.current(); name != defaultContext {
		s := e.state()
		s.context = name
		s.contextServer, _ = f.server(name)
		e.server = s.contextServer
	}
}

var contextNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func checkServerURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid --server %q: give the server's URL, e.g. %s", s, client.DefaultServer)
	}
	return strings.TrimRight(s, "/"), nil
}

func newContextCmd(e *env) *cobra.Command {
	e.applyContext()
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Name servers and pick the one client commands talk to",
		Long: `A context is a named server URL. Client commands talk to the current
context's server unless --server or STRMLOCAL_SERVER names another:
--server wins over STRMLOCAL_SERVER, which wins over the context. The
built-in context "default" is ` + client.DefaultServer + `, current until
another is picked.

  strmlocal context use staging --server http://127.0.0.1:50052   define and pick
  strmlocal context use default                                  back to the default
  strmlocal context list                                         * marks the current one
  strmlocal context show                                         the server in effect, and why

Contexts are kept in $XDG_CONFIG_HOME/strmlocal/contexts.json (mode 0600);
edit it to rename or delete one. Saved credentials do not depend on the
context: they are kept per server, by the server's id (see create stream).`,
		Example: `  strmlocal context use staging --server http://127.0.0.1:50052
  strmlocal context list
  strmlocal context show`,
	}
	cmd.AddCommand(newContextListCmd(e), newContextUseCmd(e), newContextShowCmd(e))
	return cmd
}

type contextRow struct {
	Name   string `json:"name"`
	Server string `json:"server"`
}

func newContextListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the contexts; * marks the current one",
		Example: `  strmlocal context list
  strmlocal context list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := e.loadContexts()
			if err != nil {
				return err
			}
			rows := []contextRow{{defaultContext, client.DefaultServer}}
			names := make([]string, 0, len(f.Contexts))
			for n := range f.Contexts {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				rows = append(rows, contextRow{n, f.Contexts[n].Server})
			}
			if e.output == "json" {
				return printJSONValue(e, struct {
					Current  string       `json:"current"`
					Contexts []contextRow `json:"contexts"`
				}{f.current(), rows})
			}
			table := make([][]string, len(rows))
			for i, r := range rows {
				mark := ""
				if r.Name == f.current() {
					mark = "*"
				}
				table[i] = []string{mark, r.Name, r.Server}
			}
			return printTable(e.stdout, []string{"CURRENT", "NAME", "SERVER"}, table)
		},
	}
}

func newContextUseCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME [--server URL]",
		Short: "Pick the current context; with --server, define it (or change its URL) first",
		Long: `Pick the current context. With --server URL, the context NAME is defined
with that URL first (or its URL changed). Nothing is sent to the server.`,
		Example: `  strmlocal context use staging --server http://127.0.0.1:50052
  strmlocal context use default`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !contextNameRE.MatchString(name) {
				return fmt.Errorf("invalid context name %q: use 1 to 63 characters of a-z, A-Z, 0-9, '.', '_' and '-', starting with a letter or digit", name)
			}
			// A current context that is not defined is what use repairs.
			f, err := e.readContexts()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("server") {
				if name == defaultContext {
					return fmt.Errorf("the default context is always %s: give the other server a context of its own, e.g. `strmlocal context use NAME --server %s`", client.DefaultServer, e.server)
				}
				u, err := checkServerURL(e.server)
				if err != nil {
					return err
				}
				if f.Contexts == nil {
					f.Contexts = map[string]contextEntry{}
				}
				f.Contexts[name] = contextEntry{Server: u}
			}
			server, ok := f.server(name)
			if !ok {
				return fmt.Errorf("no context %s: define it with `strmlocal context use %s --server URL`; see `strmlocal context list`", name, name)
			}
			f.Current = name
			if err := e.saveContexts(f); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "using context %s (%s)\n", name, server)
			if env := e.getenv("STRMLOCAL_SERVER"); env != "" {
				fmt.Fprintf(e.stderr, "note: STRMLOCAL_SERVER (%s) overrides the context while it is set\n", env)
			}
			return nil
		},
	}
}

func newContextShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the server client commands talk to, and which context or flag names it",
		Example: `  strmlocal context show
  strmlocal context show -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := e.loadContexts()
			if err != nil {
				return err
			}
			name := f.current()
			ctxServer, _ := f.server(name)
			from := "context"
			switch {
			case cmd.Flags().Changed("server"):
				from = "--server"
			case e.getenv("STRMLOCAL_SERVER") != "":
				from = "STRMLOCAL_SERVER"
			}
			if e.output == "json" {
				return printJSONValue(e, struct {
					Context string `json:"context"`
					Server  string `json:"server"`
					From    string `json:"from"`
				}{name, e.server, from})
			}
			if from == "context" {
				fmt.Fprintf(e.stdout, "context %s: %s\n", name, e.server)
				return nil
			}
			fmt.Fprintf(e.stdout, "%s %s overrides context %s (%s)\n", from, e.server, name, ctxServer)
			return nil
		},
	}
}

// printJSONValue writes v as indented JSON with a trailing newline.
func printJSONValue(e *env, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(b, '\n'))
	return err
}
