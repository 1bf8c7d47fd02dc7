package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestValidateOffline: validate --offline prints exactly what validate
// prints with a server that has the same schema and contract, and needs no
// server at all.
func TestValidateOffline(t *testing.T) {
	online := newCLI(t)
	offline := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	schema := writeFile(t, "tiny.avsc", tinyAvro)
	contract := writeFile(t, "contract.json", `{"keyField": "session", "piiFields": {"email": 1}, "validations": [{"field": "email", "type": "regex", "value": "@"}], "dataSubjectField": "email"}`)
	online.mustRun("create schema acme/tiny/1.0.0 --definition " + schema)
	online.mustRun("create event-contract acme/tiny/1.0.0 --schema-ref acme/tiny/1.0.0 --definition-file " + contract)
	schemaJSON := writeFile(t, "schema.json", online.mustRun("get schema acme/tiny/1.0.0 -o json"))
	contractJSON := writeFile(t, "contract-get.json", online.mustRun("get event-contract acme/tiny/1.0.0 -o json"))

	event := func(ref, session, email string) string {
		return `{"strmMeta": {"eventContractRef": "` + ref + `", "consentLevels": [1]}, "session": ` + session + `, "email": ` + email + `}`
	}
	tiny := []string{
		event("acme/tiny/1.0.0", `"s-1"`, `"a@example.com"`),
		event("acme/tiny/1.0.0", `5`, `"a@example.com"`),
		event("acme/tiny/1.0.0", `"s-1"`, `"nope"`),
		`{"strmMeta": {"eventContractRef": "acme/tiny/1.0.0"`,
		event("acme/other/1.0.0", `"s-1"`, `"a@example.com"`),
		event("", `"s-1"`, `"a@example.com"`),
		`{"strmMeta": {"eventContractRef": "acme/tiny/1.0.0", "consentLevels": []}}`,
	}
	// More of one reason than the server lists in full in a batch.
	for range 12 {
		tiny = append(tiny, event("acme/tiny/1.0.0", `"s-2"`, `"still nope"`))
	}
	demo := []string{
		demoEvent("[0]", "session-1"),
		demoEvent("[1]", ""),
		`not json`,
		`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [0]}, "consistentValue": "s", "extra": 1}`,
	}
	sensor := []string{`{}`, `{"strmMeta": {"eventContractRef": "strmlocal/sensor-json/1.0.0", "consentLevels": [0]}}`, `[`}

	same := func(t *testing.T, events []string, onlineArgs, offlineArgs string) (int, string, string) {
		t.Helper()
		online.stdin = strings.Join(events, "\n") + "\n"
		offline.stdin = online.stdin
		code, out, errs := online.run(strings.Fields(onlineArgs)...)
		offCode, offOut, offErrs := offline.run(strings.Fields(offlineArgs)...)
		if code != offCode || out != offOut || errs != offErrs {
			t.Fatalf("validate %s\n exit %d, stdout:\n%s\n stderr:\n%s\nvalidate %s\n exit %d, stdout:\n%s\n stderr:\n%s", onlineArgs, code, out, errs, offlineArgs, offCode, offOut, offErrs)
		}
		return code, out, errs
	}

	t.Run("definition and contract files", func(t *testing.T) {
		code, out, errs := same(t, tiny, "validate --schema-ref acme/tiny/1.0.0",
			"validate --offline --definition "+schema+" --schema-ref acme/tiny/1.0.0 --contract "+contract)
		regex := "invalid: Field: 'email' in event with schema: 'acme/tiny/1.0.0' with value: 'still nope' doesn't match regex: '@'\n"
		want := "line 1: valid\n" +
			"line 2: invalid: event does not match schema 'acme/tiny/1.0.0': field 'session': expected string, got number\n" +
			"line 3: invalid: Field: 'email' in event with schema: 'acme/tiny/1.0.0' with value: 'nope' doesn't match regex: '@'\n" +
			"line 4: invalid: event does not match schema 'acme/tiny/1.0.0': invalid JSON at byte 51: unexpected end of input, expected ',' or '}' after a property value\n" +
			"line 5: invalid: Field: 'strmMeta/eventContractRef' in event with schema: 'acme/tiny/1.0.0': event contract acme/other/1.0.0 not found\n" +
			"line 6: invalid: Field: 'strmMeta/eventContractRef' in event with schema: 'acme/tiny/1.0.0' must name an event contract\n" +
			"line 7: invalid: event does not match schema 'acme/tiny/1.0.0': field 'session' is missing (it is not nullable and has no default)\n"
		for i := 8; i <= 19; i++ {
			want += fmt.Sprintf("line %d: %s", i, regex)
		}
		if code != 1 || out != want || errs != "strmlocal: 18 of 19 events invalid\n" {
			t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %q", code, out, want, errs)
		}
	})
	t.Run("get -o json documents", func(t *testing.T) {
		same(t, tiny, "validate --schema-ref acme/tiny/1.0.0", "validate --offline --definition "+schemaJSON+" --contract "+contractJSON)
	})
	t.Run("built-in schema", func(t *testing.T) {
		code, _, _ := same(t, demo, "validate --schema-ref streammachine/demo/1.0.2", "validate --offline --schema-ref streammachine/demo/1.0.2")
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("built-in JSON Schema", func(t *testing.T) {
		same(t, sensor, "validate --schema-ref strmlocal/sensor-json/1.0.0", "validate --offline --schema-ref strmlocal/sensor-json/1.0.0")
	})
	t.Run("all valid", func(t *testing.T) {
		code, out, errs := same(t, tiny[:1], "validate --schema-ref acme/tiny/1.0.0", "validate --offline --definition "+schema+" --schema-ref acme/tiny/1.0.0 --contract "+contract)
		if code != 0 || out != "line 1: valid\n" || errs != "all 1 events valid\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})

	// The default ref of a definition, and what --offline refuses.
	offline.stdin = tiny[2] + "\n"
	offline.expect("validate --offline --definition "+schema+" --contract "+contract, 1,
		"line 1: invalid: Field: 'strmMeta/eventContractRef' in event with schema: 'offline/definition/1.0.0': event contract acme/tiny/1.0.0 not found\n",
		"strmlocal: 1 of 1 events invalid\n")
	for _, tc := range []struct{ args, err string }{
		{"validate --offline", "--offline needs --definition FILE, the schema to check against (or --schema-ref of a built-in schema, e.g. streammachine/demo/1.0.2)"},
		{"validate --offline --schema-ref acme/tiny/1.0.0", "--offline resolves no schema on a server, and acme/tiny/1.0.0 is not a built-in one (streammachine/clickstream/1.0.0, streammachine/demo/1.0.2, strmlocal/sensor-json/1.0.0, strmlocal/sensor/1.0.0, strmprivacy/clickstream/1.0.0, strmprivacy/demo/1.0.2): give its definition with --definition FILE"},
		{"validate --offline --schema-ref streammachine/demo/1.0.2 --type avro", "--type is the type of --definition FILE: give the definition too"},
		{"validate --definition " + schema, "--definition is for validation without a server: add --offline"},
		{"validate --schema-ref acme/tiny/1.0.0 --contract " + contract, "--contract is for validation without a server: add --offline"},
		{"validate", `required flag(s) "schema-ref" not set`},
		{"validate --offline --definition " + schema + " --schema-ref nope", "invalid --schema-ref: invalid ref 'nope': must have the form handle/name/version"},
		{"validate --offline --definition " + schema + " --type xml", `invalid --type "xml": use avro or json-schema`},
		{"validate --offline --definition " + contract + " --schema-ref acme/tiny/1.0.0", "--definition " + contract + ": "},
		{"validate --offline --definition " + schema + " --schema-ref acme/tiny/2.0.0 --contract " + contractJSON, "--contract " + contractJSON + " is for schema acme/tiny/1.0.0, not acme/tiny/2.0.0: give that schema's --definition, or --schema-ref acme/tiny/1.0.0"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := offline.run(strings.Fields(tc.args)...)
			if code != 1 || out != "" || !strings.HasPrefix(errs, "strmlocal: "+tc.err) || strings.Count(errs, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, "strmlocal: "+tc.err)
			}
		})
	}
}
