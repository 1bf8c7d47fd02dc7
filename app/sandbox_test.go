package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/internal/clock"
)

const (
	orderSchema = `{"type": "record", "name": "Order", "fields": [
  {"name": "strmMeta", "type": {"type": "record", "name": "StrmMeta", "fields": [
    {"name": "eventContractRef", "type": "string"},
    {"name": "nonce", "type": ["null", "int"], "default": null},
    {"name": "timestamp", "type": ["null", "long"], "default": null},
    {"name": "keyLink", "type": ["null", "string"], "default": null},
    {"name": "billingId", "type": ["null", "string"], "default": null},
    {"name": "consentLevels", "type": {"type": "array", "items": "int"}}]}},
  {"name": "orderId", "type": "string"},
  {"name": "email", "type": ["null", "string"], "default": null},
  {"name": "address", "type": ["null", "string"], "default": null},
  {"name": "status", "type": "string"}]}`
	orderContract = `{"keyField": "orderId", "piiFields": {"email": 1, "address": 2}}`
	pinnedID      = "6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b"
	pinnedSecret  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST"
	otherSecret   = "ZZCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST"
)

func quoted(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// baseDoc declares one of everything: a schema, a contract, a source
// stream with pinned credentials, a derived stream, a local and an s3 data
// connector, and a batch exporter.
func baseDoc(dir string) *app.Sandbox {
	return &app.Sandbox{
		Schemas:        []app.SandboxSchema{{Ref: "shop/order/1.0.0", Definition: quoted(orderSchema)}},
		EventContracts: []app.SandboxContract{{Ref: "shop/order/1.0.0", SchemaRef: "shop/order/1.0.0", Definition: json.RawMessage(orderContract)}},
		Streams: []app.SandboxStream{
			{Name: "orders-2", DerivedFrom: "orders", Levels: []int32{2}, MaskedFields: map[string][]string{"shop/order/1.0.0": {"email"}}, EmitFilter: "status=paid"},
			{Name: "orders", Description: "the orders", Tags: []string{"shop"}, Credentials: &app.SandboxCredentials{ClientID: pinnedID, ClientSecret: pinnedSecret}},
		},
		DataConnectors: []app.SandboxConnector{
			{Name: "files", Kind: "local", Config: json.RawMessage(`{"path": "` + dir + `"}`)},
			{Name: "bucket", Kind: "s3", Config: json.RawMessage(`{"endpoint": "http://127.0.0.1:1", "bucket": "shop-bucket", "accessKeyId": "k", "secretAccessKey": "s3cret"}`)},
		},
		Jobs: []app.SandboxJob{{Name: "export", Kind: "batch-exporter", Stream: "orders-2", Connector: "files", Config: json.RawMessage(`{"interval": "60s"}`)}},
	}
}

func lines(p app.Plan) string {
	var b strings.Builder
	for _, i := range p.Items {
		b.WriteString(i.String() + "\n")
	}
	return b.String() + p.Summary()
}

func exported(t *testing.T, a *app.App) string {
	t.Helper()
	doc, err := a.ExportConfig()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const unchangedPlan = `schema shop/order/1.0.0 unchanged
event-contract shop/order/1.0.0 unchanged
stream orders unchanged
stream orders-2 unchanged
data-connector files unchanged
data-connector bucket unchanged
job export unchanged
`

func TestSandboxApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fresh: apply to an empty server; else to one the base document
		// was applied to.
		fresh  bool
		dryRun bool
		edit   func(doc *app.Sandbox)
		plan   string // the plan lines and the summary
		// conflict: the error of Apply; nothing may have been written.
		conflict string
		check    func(t *testing.T, a *app.App)
	}{{
		name: "create", fresh: true,
		plan: `schema shop/order/1.0.0 create
event-contract shop/order/1.0.0 create
stream orders create
stream orders-2 create
data-connector files create
data-connector bucket create
job export create
7 created`,
		check: func(t *testing.T, a *app.App) {
			st, err := a.Streams().Authenticate(pinnedID, pinnedSecret)
			if err != nil || st.Name != "orders" {
				t.Fatalf("pinned credentials: %v, %v", st, err)
			}
			d, err := a.Streams().Get("orders-2")
			if err != nil || d.DerivedFrom != "orders" || d.EmitFilter.String() != "status=paid" || d.MaskSeed == "" {
				t.Fatalf("derived stream: %+v, %v", d, err)
			}
		},
	}, {
		name: "dry run creates nothing", fresh: true, dryRun: true,
		plan: `schema shop/order/1.0.0 create
event-contract shop/order/1.0.0 create
stream orders create
stream orders-2 create
data-connector files create
data-connector bucket create
job export create
7 to create`,
		check: func(t *testing.T, a *app.App) {
			if got := exported(t, a); got != `{}` {
				t.Fatalf("a dry run wrote: %s", got)
			}
		},
	}, {
		name: "again: unchanged",
		plan: unchangedPlan + "nothing to change",
	}, {
		name: "secret kept with ***",
		edit: func(doc *app.Sandbox) {
			doc.DataConnectors[1].Config = json.RawMessage(`{"endpoint": "http://127.0.0.1:1", "bucket": "shop-bucket", "accessKeyId": "k", "secretAccessKey": "***"}`)
		},
		plan: unchangedPlan + "nothing to change",
	}, {
		name: "connector config: update, the secret kept",
		edit: func(doc *app.Sandbox) {
			doc.DataConnectors[1].Config = json.RawMessage(`{"endpoint": "http://127.0.0.1:1", "bucket": "other-bucket", "accessKeyId": "k", "secretAccessKey": "***"}`)
		},
		plan: strings.Replace(unchangedPlan, "data-connector bucket unchanged", "data-connector bucket update (config)", 1) + "1 updated, 6 unchanged",
		check: func(t *testing.T, a *app.App) {
			// The stored secret is the old one: the config with it is unchanged.
			doc := baseDoc("")
			doc.Schemas, doc.EventContracts, doc.Streams, doc.Jobs = nil, nil, nil, nil
			doc.DataConnectors = doc.DataConnectors[1:]
			doc.DataConnectors[0].Config = json.RawMessage(`{"endpoint": "http://127.0.0.1:1", "bucket": "other-bucket", "accessKeyId": "k", "secretAccessKey": "s3cret"}`)
			p, err := a.Apply(context.Background(), doc, true)
			if err != nil || lines(p) != "data-connector bucket unchanged\nnothing to change" {
				t.Fatalf("after the update:\n%s\n%v", lines(p), err)
			}
		},
	}, {
		name: "job config: update",
		edit: func(doc *app.Sandbox) { doc.Jobs[0].Config = json.RawMessage(`{"interval": "2m"}`) },
		plan: strings.Replace(unchangedPlan, "job export unchanged", "job export update (config)", 1) + "1 updated, 6 unchanged",
		check: func(t *testing.T, a *app.App) {
			j, err := a.Job("export")
			if err != nil || string(j.Config) != `{"pathPrefix":"","interval":"2m0s","maxEventsPerFile":100000,"includeExistingEvents":false}` {
				t.Fatalf("job config %s, %v", j.Config, err)
			}
		},
	}, {
		name: "job on another connector: update",
		edit: func(doc *app.Sandbox) { doc.Jobs[0].Connector = "bucket" },
		plan: strings.Replace(unchangedPlan, "job export unchanged", "job export update (connector)", 1) + "1 updated, 6 unchanged",
	}, {
		name: "new items beside unchanged ones",
		edit: func(doc *app.Sandbox) {
			doc.Streams = append(doc.Streams, app.SandboxStream{Name: "orders-0-1", DerivedFrom: "orders", ConsentType: "granular", Levels: []int32{0, 1}})
		},
		plan: strings.Replace(unchangedPlan, "stream orders-2 unchanged\n", "stream orders-2 unchanged\nstream orders-0-1 create\n", 1) + "1 created, 7 unchanged",
	}, {
		name: "schema definition: conflict",
		edit: func(doc *app.Sandbox) {
			doc.Schemas[0].Definition = quoted(strings.Replace(orderSchema, `{"name": "status", "type": "string"}`, `{"name": "status", "type": "string"}, {"name": "note", "type": ["null", "string"], "default": null}`, 1))
			doc.Streams = append(doc.Streams, app.SandboxStream{Name: "new"})
		},
		plan: strings.Replace(strings.Replace(unchangedPlan, "schema shop/order/1.0.0 unchanged", "schema shop/order/1.0.0 conflict (definition)", 1),
			"stream orders-2 unchanged\n", "stream new create\nstream orders-2 unchanged\n", 1) + "1 to create, 6 unchanged, 1 conflict",
		conflict: "1 conflict, nothing was applied: schema shop/order/1.0.0: definition: differs from the registered version; registered versions are immutable: register the change as a new version",
	}, {
		name: "schema type: conflict",
		edit: func(doc *app.Sandbox) {
			doc.Schemas[0].Type = "json-schema"
			def, err := fs.ReadFile(catalog.BuiltinFS(), "strmlocal/sensor-json/1.0.0/schema.json")
			if err != nil {
				panic(err)
			}
			doc.Schemas[0].Definition = quoted(string(def))
			doc.EventContracts = nil
		},
		plan: strings.Replace(strings.Replace(unchangedPlan, "schema shop/order/1.0.0 unchanged", "schema shop/order/1.0.0 conflict (type)", 1),
			"event-contract shop/order/1.0.0 unchanged\n", "", 1) + "5 unchanged, 1 conflict",
		conflict: "1 conflict, nothing was applied: schema shop/order/1.0.0: type: is json-schema, registered as avro; registered versions are immutable: register the change as a new version",
	}, {
		name: "contract definition: conflict",
		edit: func(doc *app.Sandbox) {
			doc.EventContracts[0].Definition = json.RawMessage(`{"keyField": "orderId", "piiFields": {"email": 2, "address": 2}, "dataSubjectField": "email"}`)
		},
		plan:     strings.Replace(unchangedPlan, "event-contract shop/order/1.0.0 unchanged", "event-contract shop/order/1.0.0 conflict (piiFields, dataSubjectField)", 1) + "6 unchanged, 1 conflict",
		conflict: "1 conflict, nothing was applied: event-contract shop/order/1.0.0: piiFields, dataSubjectField: differs from the registered version; registered versions are immutable: register the change as a new version",
	}, {
		name: "derived settings: conflict",
		edit: func(doc *app.Sandbox) {
			doc.Streams[0].Levels = []int32{1}
			doc.Streams[0].MaskSeed = "another seed"
		},
		plan:     strings.Replace(unchangedPlan, "stream orders-2 unchanged", "stream orders-2 conflict (levels, maskSeed)", 1) + "6 unchanged, 1 conflict",
		conflict: "1 conflict, nothing was applied: stream orders-2: levels, maskSeed: differs from the existing stream's; a stream's settings are fixed when it is created: delete it (strmlocal delete stream NAME) and apply again",
	}, {
		name: "pinned credentials: conflict",
		edit: func(doc *app.Sandbox) { doc.Streams[1].Credentials.ClientSecret = otherSecret },
		plan: strings.Replace(unchangedPlan, "stream orders unchanged", "stream orders conflict (credentials)", 1) + "6 unchanged, 1 conflict",
		conflict: "1 conflict, nothing was applied: stream orders: credentials: differ from the existing stream's (compared by hash); " +
			"credentials are fixed when a stream is created: delete it (strmlocal delete stream NAME) and apply again to pin others",
	}, {
		name: "credentials left out: unchanged",
		edit: func(doc *app.Sandbox) { doc.Streams[1].Credentials = nil },
		plan: unchangedPlan + "nothing to change",
	}, {
		name: "connector kind and job stream: two conflicts",
		edit: func(doc *app.Sandbox) {
			doc.DataConnectors[1] = app.SandboxConnector{Name: "bucket", Kind: "local", Config: json.RawMessage(`{"path": "/tmp/x"}`)}
			doc.Jobs[0].Stream = "orders"
		},
		plan: strings.Replace(strings.Replace(unchangedPlan, "data-connector bucket unchanged", "data-connector bucket conflict (kind)", 1),
			"job export unchanged", "job export conflict (stream)", 1) + "5 unchanged, 2 conflicts",
		conflict: "2 conflicts, nothing was applied: " +
			"data-connector bucket: kind: is local, and the existing data connector is of kind s3; a data connector's kind is fixed: delete it (strmlocal delete data-connector NAME) and apply again; " +
			`job export: stream: the existing job is a batch-exporter of stream "orders-2"; a job's kind and stream are fixed: delete it (strmlocal delete job NAME) and apply again`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a := open(t, app.Options{Clock: clock.Func(func() time.Time { return t0 })})
			ctx := context.Background()
			if !tc.fresh {
				if _, err := a.Apply(ctx, baseDoc(dir), false); err != nil {
					t.Fatal(err)
				}
			}
			before := exported(t, a)
			doc := baseDoc(dir)
			if tc.edit != nil {
				tc.edit(doc)
			}
			p, err := a.Apply(ctx, doc, tc.dryRun)
			if got := lines(p); got != tc.plan {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.plan)
			}
			if tc.conflict != "" {
				var ce *app.ConflictError
				if !errors.Is(err, app.ErrConflict) || !errors.As(err, &ce) || err.Error() != tc.conflict {
					t.Fatalf("error %v\nwant %s", err, tc.conflict)
				}
				if after := exported(t, a); after != before {
					t.Fatalf("a conflict wrote:\nbefore %s\nafter  %s", before, after)
				}
				if len(p.Created) > 0 || p.Applied {
					t.Fatalf("a conflict applied: %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Applied == tc.dryRun {
				t.Fatalf("applied %v for a dry run %v", p.Applied, tc.dryRun)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

// TestSandboxCreatedCredentials: created streams come back with their
// secrets, pinned or generated; a second apply creates none.
func TestSandboxCreatedCredentials(t *testing.T) {
	a := open(t, app.Options{})
	doc := baseDoc(t.TempDir())
	p, err := a.Apply(context.Background(), doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Created) != 2 || p.Created[0].Stream.Name != "orders" || p.Created[0].Secret != pinnedSecret || p.Created[0].Stream.ClientID != pinnedID ||
		p.Created[1].Stream.Name != "orders-2" || len(p.Created[1].Secret) != 52 {
		t.Fatalf("created %+v", p.Created)
	}
	if p, err = a.Apply(context.Background(), doc, false); err != nil || len(p.Created) != 0 {
		t.Fatalf("again: %+v, %v", p.Created, err)
	}
}

// TestSandboxExportRoundTrip: an exported document applied to an empty
// server makes one that exports the same document.
func TestSandboxExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a := open(t, app.Options{})
	if _, err := a.Apply(context.Background(), baseDoc(dir), false); err != nil {
		t.Fatal(err)
	}
	first := exported(t, a)
	for _, want := range []string{`"secretAccessKey":"***"`, `"name":"orders","description":"the orders","tags":["shop"]}`} {
		if !strings.Contains(first, want) {
			t.Fatalf("export lacks %s:\n%s", want, first)
		}
	}
	for _, not := range []string{pinnedID, "s3cret", "maskSeed", "streammachine/"} {
		if strings.Contains(first, not) {
			t.Fatalf("export shows %s:\n%s", not, first)
		}
	}
	doc, err := app.ParseSandbox([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	// The secret shown as *** cannot make a new connector.
	b := open(t, app.Options{})
	_, err = b.Apply(context.Background(), doc, false)
	const want = `dataConnectors[0].config.secretAccessKey: "***" stands for the stored secret, and data connector "bucket" is new: give the secret`
	if !errors.Is(err, app.ErrInvalid) || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	doc.DataConnectors[0].Config = json.RawMessage(strings.Replace(string(doc.DataConnectors[0].Config), `"***"`, `"s3cret"`, 1))
	if _, err := b.Apply(context.Background(), doc, false); err != nil {
		t.Fatal(err)
	}
	if second := exported(t, b); second != first {
		t.Fatalf("round trip:\n%s\nwant\n%s", second, first)
	}
}

// TestSandboxBadDocuments: every refusal names the item by its path and
// says the rule; nothing is written.
func TestSandboxBadDocuments(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", `{"streams": [{"name": "a", "levle": [1]}]}`,
			"streams[0].levle: unknown field (fields here: name, description, tags, derivedFrom, consentType, levels, maskedFields, maskSeed, emitFilter, credentials)"},
		{"unknown top-level field", `{"stream": []}`,
			"stream: unknown field (fields here: schemas, eventContracts, streams, dataConnectors, jobs)"},
		{"wrong type", `{"streams": [{"name": "a", "derivedFrom": "b", "levels": "2"}]}`, "streams[0].levels: must be a list"},
		{"not an integer", `{"streams": [{"name": "a", "derivedFrom": "b", "levels": [1.5]}]}`, "streams[0].levels[0]: must be an integer of 32 bits"},
		{"not an object", `[]`, "sandbox document: must be an object with schemas, eventContracts, streams, dataConnectors and jobs"},
		{"file reference not inlined", `{"schemas": [{"ref": "a/b/1.0.0", "definitionFile": "x.avsc"}]}`,
			"schemas[0].definitionFile: a file reference reaches the server only inlined: send the file's content as definition (strmlocal apply and client.LoadSandbox do)"},
		{"missing ref", `{"schemas": [{"definition": "{}"}]}`, "schemas[0].ref: required: give handle/name/version"},
		{"missing definition", `{"schemas": [{"ref": "a/b/1.0.0"}]}`,
			"schemas[0].definition: required: give the schema's text (definition) or its file (definitionFile)"},
		{"bad schema", `{"schemas": [{"ref": "a/b/1.0.0", "definition": {"type": "record", "name": "X", "fields": []}}]}`,
			"schemas[0].definition: strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{"contract of a missing schema", `{"eventContracts": [{"ref": "a/b/1.0.0", "schemaRef": "a/nope/1.0.0", "definition": {"keyField": "x"}}]}`,
			"eventContracts[0].schemaRef: schema a/nope/1.0.0 is not in the document or on the server"},
		{"missing stream name", `{"streams": [{"description": "x"}]}`, "streams[0].name: required"},
		{"duplicate stream", `{"streams": [{"name": "a"}, {"name": "a"}]}`, `streams[1].name: "a" appears twice (also streams[0])`},
		{"derived from nowhere", `{"streams": [{"name": "a"}, {"name": "b", "derivedFrom": "x", "levels": [1]}]}`,
			`streams[1].derivedFrom: stream "x" is not in the document or on the server`},
		{"derived from a derived stream", `{"streams": [{"name": "a"}, {"name": "b", "derivedFrom": "a", "levels": [1]}, {"name": "c", "derivedFrom": "b", "levels": [1]}]}`,
			`streams[2].derivedFrom: stream "b" is itself derived from "a"; derive from the source stream "a" instead`},
		{"levels on a source stream", `{"streams": [{"name": "a", "levels": [1]}]}`, "streams[0].levels: is for derived streams: add derivedFrom, the source stream"},
		{"cumulative with two levels", `{"streams": [{"name": "a"}, {"name": "b", "derivedFrom": "a", "levels": [1, 2]}]}`, "streams[1].levels: a CUMULATIVE stream takes exactly one level (got 1,2); use --consent-type granular for a set of levels"},
		{"bad consent type", `{"streams": [{"name": "a"}, {"name": "b", "derivedFrom": "a", "consentType": "some", "levels": [1]}]}`,
			`streams[1].consentType: unknown consent type "some": use cumulative or granular`},
		{"masked fields of a missing contract", `{"streams": [{"name": "a"}, {"name": "b", "derivedFrom": "a", "levels": [1], "maskedFields": {"a/b/1.0.0": ["x"]}}]}`,
			"streams[1].masked: event contract a/b/1.0.0 not found"},
		{"pinned client id", `{"streams": [{"name": "a", "credentials": {"clientId": "client-1", "clientSecret": "` + pinnedSecret + `"}}]}`,
			`streams[0].credentials.clientId: "client-1" is not a UUID in canonical form (8-4-4-4-12 lower-case hex digits), as generated client ids are`},
		{"pinned secret", `{"streams": [{"name": "a", "credentials": {"clientId": "` + pinnedID + `", "clientSecret": "secret"}}]}`,
			"streams[0].credentials.clientSecret: must be 52 characters of A-Z and 2-7 (base32, over 256 random bits), as generated secrets are"},
		{"pinned client id twice", `{"streams": [{"name": "a", "credentials": {"clientId": "` + pinnedID + `", "clientSecret": "` + pinnedSecret + `"}}, {"name": "b", "credentials": {"clientId": "` + pinnedID + `", "clientSecret": "` + otherSecret + `"}}]}`,
			`streams[1].credentials.clientId: "` + pinnedID + `" appears twice (also streams[0])`},
		{"connector kind", `{"dataConnectors": [{"name": "c", "kind": "ftp"}]}`,
			`dataConnectors[0].kind: unknown data connector kind "ftp" (kinds: http, kafka, local, s3)`},
		{"connector config", `{"dataConnectors": [{"name": "c", "kind": "local", "config": {"path": "relative"}}]}`,
			`dataConnectors[0].config.path: want an absolute directory, got "relative"`},
		{"job of a missing stream", `{"jobs": [{"kind": "batch-exporter", "stream": "s", "connector": "c"}]}`,
			`jobs[0].stream: stream "s" is not in the document or on the server`},
		{"job of a missing connector", `{"streams": [{"name": "s"}], "jobs": [{"kind": "batch-exporter", "stream": "s", "connector": "c"}]}`,
			`jobs[0].connector: data connector "c" is not in the document or on the server`},
		{"job config", `{"streams": [{"name": "s"}], "dataConnectors": [{"name": "c", "kind": "local", "config": {"path": "/x"}}], "jobs": [{"kind": "batch-exporter", "stream": "s", "connector": "c", "config": {"interval": "1s"}}]}`,
			"jobs[0].config.interval: 1s is out of bounds: give 30s to 1h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t, app.Options{NoDemo: true})
			doc, err := app.ParseSandbox([]byte(tc.doc))
			if err == nil {
				_, err = a.Apply(context.Background(), doc, false)
			}
			if !errors.Is(err, app.ErrInvalid) || err == nil || err.Error() != tc.want {
				t.Fatalf("error %v\nwant %s", err, tc.want)
			}
			if got := exported(t, a); got != `{}` {
				t.Fatalf("a refused document wrote: %s", got)
			}
		})
	}
}
