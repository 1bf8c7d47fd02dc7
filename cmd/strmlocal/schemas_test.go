package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const tinyAvro = `{"type": "record", "name": "Tiny", "fields": [
  {"name": "strmMeta", "type": {"type": "record", "name": "StrmMeta", "fields": [
    {"name": "eventContractRef", "type": "string"},
    {"name": "nonce", "type": ["null", "int"], "default": null},
    {"name": "timestamp", "type": ["null", "long"], "default": null},
    {"name": "keyLink", "type": ["null", "string"], "default": null},
    {"name": "billingId", "type": ["null", "string"], "default": null},
    {"name": "consentLevels", "type": {"type": "array", "items": "int"}}]}},
  {"name": "session", "type": "string"},
  {"name": "email", "type": ["null", "string"], "default": null}]}
`

func TestSchemaAndContractCommands(t *testing.T) {
	c := newCLI(t)
	schema := writeFile(t, "tiny.avsc", tinyAvro)
	contract := writeFile(t, "contract.json", `{"keyField": "session", "piiFields": {"email": 1}, "validations": [{"field": "email", "type": "regex", "value": "@"}], "dataSubjectField": "email"}`)

	c.expect("create schema acme/tiny/1.0.0 --definition "+schema+" --draft", 0,
		"REF              TYPE  STATE  FINGERPRINT          CREATED\n"+
			"acme/tiny/1.0.0  AVRO  DRAFT  3163805200128868974  2026-11-22T12:00:00Z\n", "")
	c.expect("create schema acme/tiny/1.0.0 --definition "+schema, 0,
		"REF              TYPE  STATE  FINGERPRINT          CREATED\n"+
			"acme/tiny/1.0.0  AVRO  DRAFT  3163805200128868974  2026-11-22T12:00:00Z\n",
		"schema acme/tiny/1.0.0 was already registered with this definition; nothing changed\n")
	c.expect("activate schema acme/tiny/1.0.0", 0,
		"REF              TYPE  STATE   FINGERPRINT          CREATED\n"+
			"acme/tiny/1.0.0  AVRO  ACTIVE  3163805200128868974  2026-11-22T12:00:00Z\n", "")
	c.expect("create event-contract acme/tiny/1.0.0 --schema-ref acme/tiny/1.0.0 --definition-file "+contract, 0,
		"REF              SCHEMA           STATE   KEY FIELD  PII FIELDS  DATA SUBJECT\n"+
			"acme/tiny/1.0.0  acme/tiny/1.0.0  ACTIVE  session    email:1     email\n", "")
	c.expect("get event-contract acme/tiny/1.0.0", 0,
		"REF              SCHEMA           STATE   KEY FIELD  PII FIELDS  DATA SUBJECT\n"+
			"acme/tiny/1.0.0  acme/tiny/1.0.0  ACTIVE  session    email:1     email\n"+
			"\n"+
			"VALIDATION FIELD  TYPE   VALUE\n"+
			"email             regex  @\n", "")
	c.expect("list schemas --handle acme", 0,
		"REF              TYPE  STATE   FINGERPRINT          CREATED\n"+
			"acme/tiny/1.0.0  AVRO  ACTIVE  3163805200128868974  2026-11-22T12:00:00Z\n", "")
	c.expect("list event-contracts --schema-ref streammachine/demo/1.0.2", 0,
		"REF                          SCHEMA                    STATE   KEY FIELD        PII FIELDS                                                 DATA SUBJECT\n"+
			"streammachine/example/1.3.0  streammachine/demo/1.0.2  ACTIVE  consistentValue  consistentValue:2,someSensitiveValue:3,uniqueIdentifier:1  \n", "")
	c.expect("get schema acme/tiny/1.0.0", 0,
		"REF              TYPE  STATE   FINGERPRINT          CREATED\n"+
			"acme/tiny/1.0.0  AVRO  ACTIVE  3163805200128868974  2026-11-22T12:00:00Z\n\n"+strings.TrimRight(tinyAvro, "\n")+"\n", "")
	c.expect("archive event-contract acme/tiny/1.0.0 -o json", 0, `{
  "eventContract": {
    "ref": "acme/tiny/1.0.0",
    "schemaRef": "acme/tiny/1.0.0",
    "keyField": "session",
    "piiFields": {
      "email": 1
    },
    "validations": [
      {
        "field": "email",
        "type": "regex",
        "value": "@"
      }
    ],
    "dataSubjectField": "email",
    "state": "STATE_ARCHIVED",
    "createTime": "2026-11-22T12:00:00Z"
  }
}
`, "")

	badContract := writeFile(t, "bad.json", `{"keyField": "nope", "piiFields": {"session": -1}}`)
	for _, tc := range []struct{ args, stderr string }{
		{"create schema acme/tiny/1.0.0 --definition " + contract,
			"strmlocal: the top level must be a record, {\"type\": \"record\", \"name\": ..., \"fields\": [...]}, but has no \"type\"\n"},
		{"create schema acme/other/1.0.0 --definition " + schema + " --type xml",
			"strmlocal: invalid --type \"xml\": use avro or json-schema\n"},
		{"create schema acme/other/1.0.0 --definition /nonexistent.avsc",
			"strmlocal: cannot read --definition: open /nonexistent.avsc: no such file or directory\n"},
		{"create schema acme/other/1.0.0",
			"strmlocal: required flag(s) \"definition\" not set\n"},
		{"create event-contract acme/bad/1.0.0 --schema-ref acme/tiny/1.0.0 --definition-file " + badContract,
			"strmlocal: keyField: 'nope' does not exist in schema 'acme/tiny/1.0.0'; piiFields: 'session' has consent level -1, but levels must be >= 0\n"},
		{"create event-contract acme/bad/1.0.0 --schema-ref acme/tiny/1.0.0 --definition-file " + schema,
			"strmlocal: " + schema + ": contract definition: unknown field 'fields' (known fields: keyField, piiFields, validations, dataSubjectField)\n"},
		{"get schema acme/none/1.0.0", "strmlocal: schema acme/none/1.0.0 not found; see what exists with `strmlocal list`\n"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if code != 1 || out != "" || errs != tc.stderr {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, tc.stderr)
			}
		})
	}
}

func TestValidateCommand(t *testing.T) {
	c := newCLI(t)
	valid := `{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [0, 1]}, "uniqueIdentifier": "u-1", "consistentValue": "session-1"}`
	empty := strings.Replace(valid, `"session-1"`, `""`, 1)
	click := `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0]}, "producerSessionId": "p-1", "url": "url", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": [], "customer": {"id": "c-1"}}`

	c.stdin = valid + "\n\n" + empty + "\n"
	c.expect("validate --schema-ref streammachine/demo/1.0.2", 1,
		"line 1: valid\n"+
			"line 3: invalid: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n",
		"strmlocal: 1 of 2 events invalid\n")

	file := writeFile(t, "events.jsonl", valid+"\n"+valid+"\n")
	c.stdin = ""
	c.expect("validate --schema-ref streammachine/demo/1.0.2 "+file, 0, "line 1: valid\nline 2: valid\n", "all 2 events valid\n")

	c.stdin = click + "\n"
	c.expect("validate --schema-ref streammachine/clickstream/1.0.0 -", 1,
		"line 1: invalid: Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'url' doesn't match regex: '^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]'\n",
		"strmlocal: 1 of 1 events invalid\n")

	c.stdin = "\n"
	c.expect("validate --schema-ref streammachine/demo/1.0.2", 1, "",
		"strmlocal: no events to validate: give a file with one JSON event per line, or pipe them in\n")
	c.stdin = valid
	c.expect("validate --schema-ref acme/none/1.0.0", 1, "",
		"strmlocal: schema acme/none/1.0.0 not found; see what exists with `strmlocal list`\n")
}
