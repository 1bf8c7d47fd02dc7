package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/strmtest"
)

// complete runs strmlocal __complete over words (the last one being what
// is typed) and checks its exact stdout: the completions, then cobra's
// directive line.
func (c *cli) complete(t *testing.T, words []string, want string) {
	t.Helper()
	code, out, errs := c.run(append([]string{"__complete"}, words...)...)
	if code != 0 || out != want || !strings.HasPrefix(errs, "Completion ended with directive: ") {
		t.Fatalf("strmlocal __complete %q\n exit %d\n stdout:\n%s\n want:\n%s\n stderr:\n%s", words, code, out, want, errs)
	}
}

// TestCompletion completes against a real server: the names it has, by
// what each argument and flag takes.
func TestCompletion(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.mustRun("create stream --derived-from demo --levels 2")
	c.mustRun("create stream clicks")
	dir := t.TempDir()
	c.mustRun("create data-connector local out --path " + dir)
	c.mustRun("create batch-exporter demo --data-connector out")
	c.mustRun("create batch-exporter demo --data-connector out --export-keys")
	c.mustRun("create data-connector kafka broker --bootstrap-servers 127.0.0.1:1")
	c.mustRun("create kafka-exporter clicks --data-connector broker")
	c.mustRun("context use staging --server http://127.0.0.1:2")

	const streams = "clicks\ndemo\ndemo-2\n:4\n"
	const sources = "clicks\ndemo\n:4\n"
	const schemas = "streammachine/clickstream/1.0.0\nstreammachine/demo/1.0.2\nstrmlocal/sensor-json/1.0.0\nstrmlocal/sensor/1.0.0\nstrmprivacy/clickstream/1.0.0\nstrmprivacy/demo/1.0.2\n:4\n"
	const contracts = "streammachine/clickstream/1.0.0\nstreammachine/example/1.3.0\nstrmlocal/sensor-json/1.0.0\nstrmlocal/sensor/1.0.0\nstrmprivacy/clickstream/1.0.0\nstrmprivacy/example/1.3.0\n:4\n"
	const jobs = "broker-clicks\nout-demo\nout-demo-keys\n:4\n"
	const nothing = ":4\n"
	const fileNames = ":0\n"
	for _, tc := range []struct {
		line, want string
	}{
		{"egress ", streams},
		{"egress d", "demo\ndemo-2\n:4\n"},
		{"egress demo ", nothing},
		{"egress demo --from-offset ", fileNames}, // a number: cobra's default
		{"send ", "--schema-ref\tref of the events' schema (required)\n" + sources}, // cobra offers a required flag first
		{"send demo ", "--schema-ref\tref of the events' schema (required)\n:0\n"},
		{"send demo --schema-ref ", schemas},
		{"send demo --schema-ref streammachine/d", "streammachine/demo/1.0.2\n:4\n"},
		{"send demo --schema-ref streammachine/demo/1.0.2 ", fileNames},
		{"send demo --schema-ref streammachine/demo/1.0.2 events.jsonl ", nothing},
		{"send demo --format ", "avro\njson\n:4\n"},
		{"validate --schema-ref strmp", "strmprivacy/clickstream/1.0.0\nstrmprivacy/demo/1.0.2\n:4\n"},
		{"validate --schema-ref streammachine/demo/1.0.2 ", fileNames},
		{"validate --type ", "avro\njson-schema\n:4\n"},
		{"simulate ", "clickstream\ndemo\nsensors\n:4\n"},
		{"simulate demo ", sources},
		{"simulate demo demo --via ", "connect\nhttp\n:4\n"},
		{"get stream ", streams},
		{"delete stream demo-", "demo-2\n:4\n"},
		{"keys list ", sources},
		{"keys export ", sources},
		{"keys forget ", nothing},
		{"create stream --derived-from ", sources},
		{"create stream x --derived-from demo --levels 1 --consent-type ", "cumulative\ngranular\n:4\n"},
		{"create schema --type ", "avro\njson-schema\n:4\n"},
		{"create event-contract a/b/1.0.0 --schema-ref strmlocal/", "strmlocal/sensor-json/1.0.0\nstrmlocal/sensor/1.0.0\n:4\n"},
		{"list event-contracts --schema-ref streammachine/c", "streammachine/clickstream/1.0.0\n:4\n"},
		{"list jobs --stream ", streams},
		{"list batch-exporters --stream cl", "clicks\n:4\n"},
		{"get schema ", schemas},
		{"activate schema strmlocal/sensor/", "strmlocal/sensor/1.0.0\n:4\n"},
		{"get event-contract ", contracts},
		{"archive event-contract streammachine/e", "streammachine/example/1.3.0\n:4\n"},
		{"get data-connector ", "broker\nout\n:4\n"},
		{"test data-connector o", "out\n:4\n"},
		{"delete data-connector ", "broker\nout\n:4\n"},
		{"create batch-exporter ", streams},
		{"create batch-exporter demo --data-connector ", "broker\nout\n:4\n"},
		{"create kafka-exporter clicks --data-connector b", "broker\n:4\n"},
		{"create cloudevents-sink ", streams},
		{"create data-connector kafka k --bootstrap-servers h:1 --sasl-mechanism scram", "scram-sha-256\nscram-sha-512\n:4\n"},
		{"get job ", jobs},
		{"pause job out", "out-demo\nout-demo-keys\n:4\n"},
		{"resume job ", jobs},
		{"delete job ", jobs},
		{"get batch-exporter ", "out-demo\nout-demo-keys\n:4\n"},
		{"delete batch-exporter ", "out-demo\nout-demo-keys\n:4\n"},
		{"context use ", "default\nstaging\n:4\n"},
		{"serve --clock ", "real\nvirtual\n:4\n"},
		{"list streams -o ", "json\ntable\n:4\n"},
		{"get stream demo --output j", "json\n:4\n"},
		{"status ", nothing},
		{"version ", nothing},
	} {
		t.Run(tc.line, func(t *testing.T) {
			words := strings.Split(tc.line, " ")
			c.complete(t, words, tc.want)
		})
	}
	// get usage is another engineer's: completed when this build has it.
	root := newRootCmd(&env{getenv: c.getenv})
	if cmd, _, err := root.Find([]string{"get", "usage"}); err == nil && cmd.Name() == "usage" {
		c.complete(t, []string{"get", "usage", ""}, streams)
	}
}

// TestCompletionWithoutServer: no server, or one that refuses the call,
// completes nothing, and prints nothing but the directive line; words that
// need no server still complete.
func TestCompletionWithoutServer(t *testing.T) {
	gone := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	for _, line := range []string{"egress ", "send demo --schema-ref ", "get schema ", "get event-contract ", "get job ", "get data-connector ", "keys list ", "list jobs --stream "} {
		t.Run(line, func(t *testing.T) {
			code, out, errs := gone.run(append([]string{"__complete"}, strings.Split(line, " ")...)...)
			if code != 0 || out != ":4\n" || errs != "Completion ended with directive: ShellCompDirectiveNoFileComp\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
	// A server that takes the connection and never answers: nothing,
	// after completionTimeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hung := &cli{t: t, server: "http://" + ln.Addr().String(), config: t.TempDir()}
	start := time.Now()
	hung.complete(t, []string{"egress", ""}, ":4\n")
	if d := time.Since(start); d < completionTimeout || d > completionTimeout+time.Second {
		t.Errorf("a hung server took %v to complete nothing; want about %v", d, completionTimeout)
	}

	gone.complete(t, strings.Split("simulate ", " "), "clickstream\ndemo\nsensors\n:4\n")
	gone.complete(t, strings.Split("list streams -o ", " "), "json\ntable\n:4\n")
	// validate --offline resolves built-in refs itself.
	gone.complete(t, strings.Split("validate --offline --schema-ref strmprivacy/", " "), "strmprivacy/clickstream/1.0.0\nstrmprivacy/demo/1.0.2\n:4\n")

	// A server with an admin token answers with it only.
	tok := newCLIWith(t, strmtest.WithAdminToken("tok"))
	tok.mustRun("create stream demo --admin-token tok")
	tok.complete(t, strings.Split("egress ", " "), ":4\n")
	tok.complete(t, strings.Split("--admin-token tok egress ", " "), "demo\n:4\n")
	tok.complete(t, strings.Split("egress --admin-token tok ", " "), "demo\n:4\n")
}

// TestCompletionScripts: strmlocal completion SHELL prints the script of
// each shell.
func TestCompletionScripts(t *testing.T) {
	c := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	for shell, first := range map[string]string{
		"bash":       "# bash completion V2 for strmlocal",
		"zsh":        "#compdef strmlocal",
		"fish":       "# fish completion for strmlocal",
		"powershell": "# powershell completion for strmlocal",
	} {
		code, out, errs := c.run("completion", shell)
		if code != 0 || errs != "" || !strings.HasPrefix(out, first) {
			t.Errorf("completion %s: exit %d, stderr %q, stdout starts %.60q", shell, code, errs, out)
		}
	}
}

// TestCompletionTablesMatchCommands: every path in the completion tables is
// a command this build has, so that a renamed command does not lose its
// completion silently. (get usage is another engineer's and may be absent.)
func TestCompletionTablesMatchCommands(t *testing.T) {
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	check := func(path string) {
		cmd, rest, err := root.Find(strings.Fields(path))
		if err != nil || len(rest) > 0 || cmd == root {
			if path != "get usage" {
				t.Errorf("completion table names %q, which is no command", path)
			}
		}
	}
	for path, args := range argCompletions {
		check(path)
		cmd, _, _ := root.Find(strings.Fields(path))
		if n := maxArgs(cmd); n >= 0 && len(args) > n {
			t.Errorf("%s: %d argument completions for a command of at most %d arguments", path, len(args), n)
		}
	}
	for key := range flagCompletionsAt {
		path, flag, _ := strings.Cut(key, " --")
		check(path)
		if cmd, _, _ := root.Find(strings.Fields(path)); cmd.Flags().Lookup(flag) == nil {
			t.Errorf("%s has no flag --%s", path, flag)
		}
	}
}

// maxArgs is how many arguments cmd takes at most, by trying; -1 for no
// limit found up to 8.
func maxArgs(cmd *cobra.Command) int {
	if cmd.Args == nil {
		return -1
	}
	n := -1
	for i := 0; i <= 8; i++ {
		if cmd.Args(cmd, make([]string, i)) == nil {
			n = i
		}
	}
	if n == 8 {
		return -1
	}
	return n
}
