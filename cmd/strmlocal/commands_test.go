package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strmlocal/strmlocal/strmtest"
)

// TestUnknownSubcommands: a subcommand a command does not have is refused
// with exit 1 and what comes close, on lines of their own; never the help
// and exit 0, which a script would take for success.
func TestUnknownSubcommands(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct{ args, stderr string }{
		{"list stream", "strmlocal: unknown command \"stream\" for \"strmlocal list\"\nDid you mean this?\n\tstreams\n"},
		{"create streams foo", "strmlocal: unknown command \"streams\" for \"strmlocal create\"\nDid you mean this?\n\tstream\n"},
		{"keys lst demo", "strmlocal: unknown command \"lst\" for \"strmlocal keys\"\nDid you mean this?\n\tlist\n"},
		{"get jobz", "strmlocal: unknown command \"jobz\" for \"strmlocal get\"\nDid you mean this?\n\tjob\n"},
		{"lst", "strmlocal: unknown command \"lst\" for \"strmlocal\"\nDid you mean one of these?\n\tlist\n\tget\n\ttest\n"},
		{"delete strem x", "strmlocal: unknown command \"strem\" for \"strmlocal delete\"\nDid you mean this?\n\tstream\n"},
		{"clock shw", "strmlocal: unknown command \"shw\" for \"strmlocal clock\"\nDid you mean this?\n\tshow\n"},
		{"pause jobs", "strmlocal: unknown command \"jobs\" for \"strmlocal pause\"\nDid you mean this?\n\tjob\n"},
		{"resume jbo x", "strmlocal: unknown command \"jbo\" for \"strmlocal resume\"\nDid you mean this?\n\tjob\n"},
		{"test data-conector x", "strmlocal: unknown command \"data-conector\" for \"strmlocal test\"\nDid you mean this?\n\tdata-connector\n"},
		{"describe kind", "strmlocal: unknown command \"kind\" for \"strmlocal describe\"\nDid you mean this?\n\tkinds\n"},
		{"activate schemas x", "strmlocal: unknown command \"schemas\" for \"strmlocal activate\"\nDid you mean this?\n\tschema\n"},
		{"archive contract x", "strmlocal: unknown command \"contract\" for \"strmlocal archive\"; see `strmlocal archive --help`\n"},
		{"list xyz", "strmlocal: unknown command \"xyz\" for \"strmlocal list\"; see `strmlocal list --help`\n"},
		{"list --output json stream", "strmlocal: unknown command \"stream\" for \"strmlocal list\"\nDid you mean this?\n\tstreams\n"},
	} {
		t.Run(tc.args, func(t *testing.T) { c.expect(tc.args, 1, "", tc.stderr) })
	}
}

// TestEveryParentRefusesUnknown walks the command tree: every command that
// only groups others refuses an unknown subcommand, and prints its help
// (exit 0) when given none.
func TestEveryParentRefusesUnknown(t *testing.T) {
	c := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	walk(newRootCmd(&env{getenv: c.getenv}), func(cmd *cobra.Command, path []string) {
		if !cmd.HasSubCommands() {
			return
		}
		name := strings.Join(path, " ")
		t.Run("strmlocal "+name, func(t *testing.T) {
			code, out, errs := c.run(append(path, "no-such-command")...)
			// create data-connector has a RunE of its own, which names the kinds.
			if want := fmt.Sprintf("strmlocal: unknown command \"no-such-command\" for %q", strings.TrimSpace("strmlocal "+name)); code != 1 || out != "" ||
				!strings.HasPrefix(errs, want) && !strings.HasPrefix(errs, "strmlocal: unknown data connector kind") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %s", code, out, errs, want)
			}
			if cmd.Name() == "data-connector" {
				return
			}
			code, out, errs = c.run(path...)
			if code != 0 || !strings.Contains(out, "Available Commands:") || errs != "" {
				t.Errorf("no subcommand: exit %d, stderr %q, stdout:\n%s", code, errs, out)
			}
		})
	})
}

// walk calls f on cmd and every command under it, with its path of names.
func walk(cmd *cobra.Command, f func(*cobra.Command, []string)) {
	var rec func(*cobra.Command, []string)
	rec = func(c *cobra.Command, path []string) {
		f(c, path)
		for _, sub := range c.Commands() {
			rec(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	rec(cmd, nil)
}

// TestHelpReadsWell runs --help of every command: no Go type names or
// backquoted words as value names, no lists printed as Go prints them.
func TestHelpReadsWell(t *testing.T) {
	getenv := func(string) string { return "" }
	rawTypes := regexp.MustCompile(`\b(int32Slice|int64Slice|stringSlice|stringArray|uint32Slice|uintSlice|durationSlice|float64Slice|boolSlice|stringToString|ipSlice)\b`)
	valueName := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9:=,._-]*$|^$`)
	n := 0
	walk(newRootCmd(&env{getenv: getenv}), func(cmd *cobra.Command, path []string) {
		n++
		var out, errb bytes.Buffer
		code := run(context.Background(), append(path, "--help"), strings.NewReader(""), &out, &errb, getenv)
		help := out.String()
		name := strings.Join(append([]string{"strmlocal"}, path...), " ")
		if code != 0 || errb.Len() > 0 || !strings.Contains(help, "Usage:") {
			t.Errorf("%s --help: exit %d, stderr %q", name, code, errb.String())
		}
		if m := rawTypes.FindString(help); m != "" {
			t.Errorf("%s --help shows the type %s:\n%s", name, m, help)
		}
		if strings.Contains(help, "(default [") {
			t.Errorf("%s --help shows a default as a Go list:\n%s", name, help)
		}
		check := func(f *pflag.Flag) {
			if strings.Count(f.Usage, "`") > 2 {
				t.Errorf("%s --%s: more than one backquoted word; the first is the value name: %q", name, f.Name, f.Usage)
			}
			if v, _ := pflag.UnquoteUsage(f); !valueName.MatchString(v) {
				t.Errorf("%s --%s: value name %q", name, f.Name, v)
			}
		}
		cmd.LocalFlags().VisitAll(check)
	})
	if n < 50 {
		t.Fatalf("walked %d commands", n)
	}
}

func TestVersionFlag(t *testing.T) {
	c := &cli{t: t, config: t.TempDir()}
	_, want, _ := c.run("version")
	c.expect("--version", 0, want, "")
}

// TestAdviceOnErrors: the advice fits what went wrong.
func TestAdviceOnErrors(t *testing.T) {
	tok := newCLIWith(t, strmtest.WithAdminToken("tok"))
	// No token: pass one. A wrong one: it was refused.
	tok.expect("list streams", 1, "", "strmlocal: this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN\n")
	tok.expect("list streams --admin-token wrong", 1, "", "strmlocal: the server refused the admin token (--admin-token / STRMLOCAL_ADMIN_TOKEN)\n")

	// A server without a scheme.
	c := newCLI(t)
	addr := strings.TrimPrefix(c.server, "http://")
	c.expect("list streams --server "+addr, 1, "", "strmlocal: --server "+addr+": give the scheme, e.g. http://"+addr+"\n")
	c.expect("list streams --server localhost:50051", 1, "", "strmlocal: --server localhost:50051: give the scheme, e.g. http://localhost:50051\n")
	c.expect("list streams --server ftp://"+addr, 1, "", "strmlocal: --server ftp://"+addr+": use an http:// or https:// URL\n")

	// A stream that is not there: which ones are.
	c.expect("get stream demo", 1, "", "strmlocal: stream \"demo\" not found: there are no streams; create one with `strmlocal create stream NAME`\n")
	c.expect("egress demo", 1, "", "strmlocal: stream \"demo\" not found: there are no streams; create one with `strmlocal create stream NAME`\n")
	c.mustRun("create stream demo")
	c.mustRun("create stream other")
	c.expect("egress dmeo", 1, "", "strmlocal: stream \"dmeo\" not found; did you mean demo?\n")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo-x --schema-ref streammachine/demo/1.0.2", 1, "", "strmlocal: stream \"demo-x\" not found; did you mean demo?\n")
	c.expect("keys list nope", 1, "", "strmlocal: stream \"nope\" not found (streams: demo, other)\n")
	for i := range 11 {
		c.mustRun(fmt.Sprintf("create stream s%02d --save=false", i))
	}
	c.expect("get stream nope", 1, "", "strmlocal: stream \"nope\" not found (streams: demo, other, s00, s01, s02, s03, s04, s05, s06, s07 and 3 more; see `strmlocal list streams`)\n")
}

// TestCreateFromGetOutput: what get event-contract and get schema print
// with -o json (or the entity in it) registers again under another ref.
func TestCreateFromGetOutput(t *testing.T) {
	c := newCLI(t)
	schema := writeFile(t, "tiny.avsc", tinyAvro)
	contract := writeFile(t, "contract.json", `{"keyField": "session", "piiFields": {"email": 1}, "validations": [{"field": "email", "type": "regex", "value": "@"}], "dataSubjectField": "email"}`)
	c.mustRun("create schema acme/tiny/1.0.0 --definition " + schema)
	c.mustRun("create event-contract acme/tiny/1.0.0 --schema-ref acme/tiny/1.0.0 --definition-file " + contract)

	gotSchema := c.mustRun("get schema acme/tiny/1.0.0 -o json")
	var wrapped map[string]json.RawMessage
	if err := json.Unmarshal([]byte(gotSchema), &wrapped); err != nil {
		t.Fatal(err)
	}
	for i, doc := range []string{gotSchema, string(wrapped["schema"])} {
		ref := fmt.Sprintf("acme/tiny/1.0.%d", i+1)
		c.expect("create schema "+ref+" --definition "+writeFile(t, "schema.json", doc), 0,
			"REF              TYPE  STATE   FINGERPRINT          CREATED\n"+
				ref+"  AVRO  ACTIVE  3163805200128868974  2026-11-22T12:00:00Z\n", "")
	}

	gotContract := c.mustRun("get event-contract acme/tiny/1.0.0 -o json")
	if err := json.Unmarshal([]byte(gotContract), &wrapped); err != nil {
		t.Fatal(err)
	}
	for i, doc := range []string{gotContract, string(wrapped["eventContract"])} {
		ref := fmt.Sprintf("acme/tiny-copy/1.0.%d", i)
		file := writeFile(t, "contract.json", doc)
		// The schema from the file, or from --schema-ref.
		c.expect("create event-contract "+ref+" --definition-file "+file, 0,
			"REF                   SCHEMA           STATE   KEY FIELD  PII FIELDS  DATA SUBJECT\n"+
				ref+"  acme/tiny/1.0.0  ACTIVE  session    email:1     email\n", "")
		ref = fmt.Sprintf("acme/tiny-more/1.0.%d", i)
		c.expect("create event-contract "+ref+" --schema-ref acme/tiny/1.0.1 --definition-file "+file, 0,
			"REF                   SCHEMA           STATE   KEY FIELD  PII FIELDS  DATA SUBJECT\n"+
				ref+"  acme/tiny/1.0.1  ACTIVE  session    email:1     email\n", "")
		c.expect("get event-contract "+ref, 0,
			"REF                   SCHEMA           STATE   KEY FIELD  PII FIELDS  DATA SUBJECT\n"+
				ref+"  acme/tiny/1.0.1  ACTIVE  session    email:1     email\n"+
				"\n"+
				"VALIDATION FIELD  TYPE   VALUE\n"+
				"email             regex  @\n", "")
	}
	// A plain definition still needs --schema-ref.
	c.expect("create event-contract acme/x/1.0.0 --definition-file "+contract, 1, "", "strmlocal: required flag(s) \"schema-ref\" not set\n")
	bad := writeFile(t, "bad.json", `{"eventContract": {"ref": "a/b/1.0.0", "schemaRef": "acme/tiny/1.0.0", "keyFeld": "session"}}`)
	code, _, errs := c.run("create", "event-contract", "acme/x/1.0.0", "--definition-file", bad)
	if code != 1 || !strings.HasPrefix(errs, "strmlocal: "+bad+": not an event contract as get event-contract -o json prints it: ") || !strings.Contains(errs, "keyFeld") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
