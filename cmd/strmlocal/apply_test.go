package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

const (
	exampleSandbox = "../../examples/sandbox.yaml"
	pinnedClientID = "6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b"
	pinnedSecret   = "EXAMPLESECRETFORCIONLYDONOTUSEOUTSIDEALOCALSANDBOX22"
)

const examplePlan = `schema          example/order/1.0.0  create
event-contract  example/order/1.0.0  create
stream          orders               create
stream          orders-shipping      create
data-connector  exports              create
job             shipping-export      create
job             orders-keys          create
7 created
`

const exampleUnchanged = `schema          example/order/1.0.0  unchanged
event-contract  example/order/1.0.0  unchanged
stream          orders               unchanged
stream          orders-shipping      unchanged
data-connector  exports              unchanged
job             shipping-export      unchanged
job             orders-keys          unchanged
nothing to change
`

const exampleSaved = "saved credentials to " + serverDir + "/saved-entities/Stream/orders.json\n" +
	"saved credentials to " + serverDir + "/saved-entities/Stream/orders-shipping.json\n"

// write writes a file under dir and returns its path.
func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestApply(t *testing.T) {
	c := newCLI(t)
	c.expect("apply -f "+exampleSandbox+" --dry-run", 0,
		strings.Replace(examplePlan, "7 created", "7 to create (dry run: nothing was changed)", 1), "")
	c.expect("list streams -o json", 0, "{}\n", "")

	c.expect("apply -f "+exampleSandbox, 0, examplePlan, exampleSaved)
	c.expect("apply -f "+exampleSandbox, 0, exampleUnchanged, "")
	c.expect("apply -f "+exampleSandbox+" --dry-run", 0, exampleUnchanged, "")

	// The pinned credentials are saved, and they send.
	saved, err := os.ReadFile(filepath.Join(c.savedDir(), "orders.json"))
	if err != nil || !strings.Contains(string(saved), `"clientId": "`+pinnedClientID+`"`) || !strings.Contains(string(saved), `"clientSecret": "`+pinnedSecret+`"`) {
		t.Fatalf("saved orders.json: %v\n%s", err, saved)
	}
	c.stdin = `{"strmMeta": {"eventContractRef": "example/order/1.0.0", "consentLevels": [2]}, "orderId": "ORD-1", "customerEmail": "a@example.com", "shippingAddress": "Main St 1", "status": "paid", "amountCents": 1250}` + "\n"
	c.expect("send orders --schema-ref example/order/1.0.0", 0, "", "sent 1 event to orders: 1 accepted (offset 0)\n")
	events := client.New(c.server, client.Options{}).AsStream(&v1.Credentials{ClientId: pinnedClientID, ClientSecret: pinnedSecret}).Events
	if _, err := events.SendEvent(context.Background(), connect.NewRequest(&v1.SendEventRequest{
		Stream: "orders", SchemaRef: "example/order/1.0.0", Serialization: v1.Serialization_SERIALIZATION_JSON,
		Event: []byte(`{"strmMeta": {"eventContractRef": "example/order/1.0.0", "consentLevels": [0]}, "orderId": "ORD-2", "status": "placed", "amountCents": 1}`),
	})); err != nil {
		t.Fatalf("send with the pinned credentials: %v", err)
	}

	// A changed immutable thing: exit 1, the plan on stdout, the conflict
	// named on stderr, nothing written.
	dir := t.TempDir()
	example, err := os.ReadFile(exampleSandbox)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("../../examples/schemas/order.avsc")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "schemas/order.avsc", strings.Replace(string(schema), `{"name": "amountCents", "type": "int"}`, `{"name": "amountCents", "type": "long"}`, 1))
	changed := strings.Replace(string(example), "levels: [2]", "levels: [1]", 1) + "  - name: extra\n    kind: batch-exporter\n    stream: orders\n    connector: exports\n"
	changedFile := write(t, dir, "sandbox.yaml", changed)
	c.expect("apply -f "+changedFile, 1,
		`schema          example/order/1.0.0  conflict   definition
event-contract  example/order/1.0.0  unchanged
stream          orders               unchanged
stream          orders-shipping      conflict   levels
data-connector  exports              unchanged
job             shipping-export      unchanged
job             orders-keys          unchanged
job             extra                create
1 to create, 5 unchanged, 2 conflicts
`,
		"strmlocal: schema example/order/1.0.0: definition: differs from the registered version; registered versions are immutable: register the change as a new version\n"+
			"strmlocal: stream orders-shipping: levels: differs from the existing stream's; a stream's settings are fixed when it is created: delete it (strmlocal delete stream NAME) and apply again\n"+
			"strmlocal: 2 conflicts, nothing was applied\n")
	if code, _, errs := c.run("get", "job", "extra"); code != 1 || !strings.HasPrefix(errs, `strmlocal: job "extra" not found`) {
		t.Fatalf("a conflict created job extra: exit %d, %s", code, errs)
	}

	// A mutable thing: update.
	write(t, dir, "schemas/order.avsc", string(schema))
	updated := write(t, dir, "update.yaml", strings.Replace(string(example), "pathPrefix: keys", "pathPrefix: all-keys", 1))
	c.expect("apply -f "+updated, 0, strings.Replace(strings.Replace(exampleUnchanged,
		"job             orders-keys          unchanged", "job             orders-keys          update     config", 1),
		"nothing to change", "1 updated, 6 unchanged", 1), "")
}

func TestApplyJSON(t *testing.T) {
	c := newCLI(t)
	code, out, errs := c.run("apply", "-f", exampleSandbox, "-o", "json", "--save=false")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{`"applied": true`, `"action": "PLAN_ACTION_CREATE"`, `"clientSecret": "<secret--------------------------------------base32>"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("-o json lacks %s:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(c.config, "strmlocal", "servers")); !os.IsNotExist(err) {
		t.Fatalf("--save=false saved: %v", err)
	}
}

func TestApplyBadDocuments(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, doc, stderr string }{
		{"unknown field", "streams:\n  - name: a\n    levle: [1]\n",
			"strmlocal: streams[0].levle: unknown field (fields here: name, description, tags, derivedFrom, consentType, levels, maskedFields, maskSeed, emitFilter, credentials)\n"},
		{"missing required field", "streams:\n  - name: a\n  - derivedFrom: a\n    levels: [1]\n",
			"strmlocal: streams[1].name: required\n"},
		{"derived from nowhere", "streams:\n  - name: a\n  - name: b\n    derivedFrom: x\n    levels: [2]\n",
			`strmlocal: streams[1].derivedFrom: stream "x" is not in the document or on the server` + "\n"},
		{"missing definition file", "schemas:\n  - ref: a/b/1.0.0\n    definitionFile: schemas/nope.avsc\n",
			"strmlocal: $DIR/missing definition file.yaml: schemas[0].definitionFile: cannot read schemas/nope.avsc (relative to the document's directory): no such file or directory\n"},
		{"duplicate key", "streams: []\nstreams: []\n",
			"strmlocal: $DIR/duplicate key.yaml: not YAML or JSON: line 2: key \"streams\" already set in map\n"},
		{"pinned secret", "streams:\n  - name: a\n    credentials: {clientId: " + pinnedClientID + ", clientSecret: short}\n",
			"strmlocal: streams[0].credentials.clientSecret: must be 52 characters of A-Z and 2-7 (base32, over 256 random bits), as generated secrets are\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, dir, tc.name+".yaml", tc.doc)
			code, out, errs := c.run("apply", "-f", path)
			errs = strings.ReplaceAll(errs, dir, "$DIR")
			if code != 1 || out != "" || errs != tc.stderr {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, errs, tc.stderr)
			}
		})
	}
	c.expect("list streams -o json", 0, "{}\n", "")
}

// TestExportConfigRoundTrip: the export of a server, applied to a fresh
// one, makes a server that exports the same document.
func TestExportConfigRoundTrip(t *testing.T) {
	c := newCLI(t)
	c.mustRun("apply -f " + exampleSandbox)
	const want = `schemas:
  - ref: example/order/1.0.0
    type: avro
    definition: |
`
	code, yml, errs := c.run("export-config")
	if code != 0 || errs != "" || !strings.HasPrefix(yml, want) {
		t.Fatalf("export-config: exit %d %s\n%s", code, errs, yml)
	}
	for _, want := range []string{
		"streams:\n  - name: orders\n    description: orders of the example shop\n    tags:\n      - example\n  - name: orders-shipping\n    derivedFrom: orders\n    consentType: cumulative\n    levels:\n      - 2\n    maskedFields:\n      example/order/1.0.0:\n        - customerEmail\n    emitFilter: status=paid,shipped\n",
		"dataConnectors:\n  - name: exports\n    kind: local\n    config:\n      path: /tmp/strmlocal-exports\n",
		"  - name: orders-keys\n    kind: key-exporter\n    stream: orders\n    connector: exports\n    config:\n      includeExistingEvents: false\n      interval: 1m0s\n      pathPrefix: keys\n",
	} {
		if !strings.Contains(yml, want) {
			t.Fatalf("export-config lacks\n%s\nin\n%s", want, yml)
		}
	}
	if strings.Contains(yml, pinnedSecret) || strings.Contains(yml, pinnedClientID) || strings.Contains(yml, "streammachine/") {
		t.Fatalf("export-config shows credentials or the built-in catalogue:\n%s", yml)
	}
	_, js, _ := c.run("export-config", "-o", "json")
	if !strings.HasPrefix(js, "{\n  \"schemas\": [\n    {\n      \"ref\": \"example/order/1.0.0\",\n      \"type\": \"avro\",\n") {
		t.Fatalf("export-config -o json:\n%s", js)
	}

	exported := write(t, t.TempDir(), "exported.yaml", yml)
	second := newCLI(t)
	// Jobs come out by name.
	second.expect("apply -f "+exported, 0, strings.Replace(examplePlan, "job             shipping-export      create\njob             orders-keys          create\n",
		"job             orders-keys          create\njob             shipping-export      create\n", 1), exampleSaved)
	if _, again, _ := second.run("export-config"); again != yml {
		t.Fatalf("round trip:\n%s\nwant\n%s", again, yml)
	}
	second.expect("export-config -o table", 1, "", "strmlocal: invalid --output \"table\": use yaml or json\n")
}
