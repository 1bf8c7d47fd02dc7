package rpc_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

const (
	demoEvent   = `{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [0, 1]}, "uniqueIdentifier": "u-1", "consistentValue": "session-1", "someSensitiveValue": "s", "notSensitiveValue": "n"}`
	clickURLBad = `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0]}, "producerSessionId": "p-1", "url": "url", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": [], "customer": {"id": "c-1"}}`
	// tinySchema is an Avro schema of the smallest shape the registry takes.
	tinySchema = `{"type": "record", "name": "Tiny", "fields": [
		{"name": "strmMeta", "type": {"type": "record", "name": "StrmMeta", "fields": [
			{"name": "eventContractRef", "type": "string"},
			{"name": "nonce", "type": ["null", "int"], "default": null},
			{"name": "timestamp", "type": ["null", "long"], "default": null},
			{"name": "keyLink", "type": ["null", "string"], "default": null},
			{"name": "billingId", "type": ["null", "string"], "default": null},
			{"name": "consentLevels", "type": {"type": "array", "items": "int"}}]}},
		{"name": "session", "type": "string"},
		{"name": "count", "type": "int"},
		{"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [{"name": "email", "type": ["null", "string"], "default": null}]}}]}`
)

func TestCatalogueRegisteredAtStart(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t, strmtest.WithClock(fixedClock()))
	schemas, err := sb.Schemas.ListSchemas(ctx, connect.NewRequest(&v1.ListSchemasRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, s := range schemas.Msg.Schemas {
		refs = append(refs, s.Ref+" "+s.Type.String()+" "+s.State.String())
	}
	want := []string{
		"streammachine/clickstream/1.0.0 SCHEMA_TYPE_AVRO STATE_ACTIVE",
		"streammachine/demo/1.0.2 SCHEMA_TYPE_AVRO STATE_ACTIVE",
		"strmlocal/sensor-json/1.0.0 SCHEMA_TYPE_JSON_SCHEMA STATE_ACTIVE",
		"strmlocal/sensor/1.0.0 SCHEMA_TYPE_AVRO STATE_ACTIVE",
		"strmprivacy/clickstream/1.0.0 SCHEMA_TYPE_AVRO STATE_ACTIVE",
		"strmprivacy/demo/1.0.2 SCHEMA_TYPE_AVRO STATE_ACTIVE",
	}
	if !slices.Equal(refs, want) {
		t.Fatalf("schemas = %q, want %q", refs, want)
	}
	contracts, err := sb.EventContracts.ListEventContracts(ctx, connect.NewRequest(&v1.ListEventContractsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	refs = nil
	for _, c := range contracts.Msg.EventContracts {
		refs = append(refs, c.Ref+" -> "+c.SchemaRef)
	}
	want = []string{
		"streammachine/clickstream/1.0.0 -> streammachine/clickstream/1.0.0",
		"streammachine/example/1.3.0 -> streammachine/demo/1.0.2",
		"strmlocal/sensor-json/1.0.0 -> strmlocal/sensor-json/1.0.0",
		"strmlocal/sensor/1.0.0 -> strmlocal/sensor/1.0.0",
		"strmprivacy/clickstream/1.0.0 -> strmprivacy/clickstream/1.0.0",
		"strmprivacy/example/1.3.0 -> strmprivacy/demo/1.0.2",
	}
	if !slices.Equal(refs, want) {
		t.Fatalf("contracts = %q, want %q", refs, want)
	}
	ex, err := sb.EventContracts.GetEventContract(ctx, connect.NewRequest(&v1.GetEventContractRequest{Ref: "streammachine/example/1.3.0"}))
	if err != nil {
		t.Fatal(err)
	}
	c := ex.Msg.EventContract
	if c.KeyField != "consistentValue" || len(c.PiiFields) != 3 || c.PiiFields["someSensitiveValue"] != 3 ||
		len(c.Validations) != 1 || c.Validations[0].Value != "^.+$" || c.State != v1.State_STATE_ACTIVE || !c.CreateTime.AsTime().Equal(t0) {
		t.Fatalf("example contract = %v", c)
	}

	bare := strmtest.New(t, strmtest.WithoutCatalogue())
	schemas, err = bare.Schemas.ListSchemas(ctx, connect.NewRequest(&v1.ListSchemasRequest{}))
	if err != nil || len(schemas.Msg.Schemas) != 0 {
		t.Fatalf("--no-demo server has schemas %v (%v)", schemas.Msg.GetSchemas(), err)
	}
}

func TestSchemaAndContractLifecycleOverEveryProtocol(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			sb := strmtest.New(t, strmtest.WithClock(fixedClock()), strmtest.WithoutCatalogue())
			schemas := strmlocalv1connect.NewSchemaServiceClient(sb.HTTPClient, sb.URL, p.opts...)
			contracts := strmlocalv1connect.NewEventContractServiceClient(sb.HTTPClient, sb.URL, p.opts...)
			events := strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, p.opts...)

			created, err := schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Ref: "acme/tiny/1.0.0", Definition: tinySchema, Draft: true}))
			if err != nil {
				t.Fatal(err)
			}
			s := created.Msg.Schema
			if !created.Msg.Created || s.Type != v1.SchemaType_SCHEMA_TYPE_AVRO || s.State != v1.State_STATE_DRAFT || s.Fingerprint == "" || s.Definition != tinySchema {
				t.Fatalf("created %v", created.Msg)
			}
			// Idempotent: same definition, other whitespace.
			again, err := schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Ref: "acme/tiny/1.0.0", Definition: strings.ReplaceAll(tinySchema, "\n\t\t", " ")}))
			if err != nil || again.Msg.Created || again.Msg.Schema.Definition != tinySchema {
				t.Fatalf("re-register: %v %v", again, err)
			}
			_, err = contracts.CreateEventContract(ctx, connect.NewRequest(&v1.CreateEventContractRequest{EventContract: &v1.EventContract{
				Ref: "acme/tiny/1.0.0", SchemaRef: "acme/tiny/1.0.0", KeyField: "session",
				PiiFields:        map[string]int32{"customer/email": 1, "session": 0},
				Validations:      []*v1.Validation{{Field: "customer/email", Type: "regex", Value: "@"}},
				DataSubjectField: "customer/email",
			}}))
			if err != nil {
				t.Fatal(err)
			}
			ev := `{"strmMeta": {"eventContractRef": "acme/tiny/1.0.0", "consentLevels": [1]}, "session": "s1", "count": 3, "customer": {"email": "a@b"}}`
			_, err = events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{SchemaRef: "acme/tiny/1.0.0", Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(ev)}}))
			assertError(t, err, connect.CodeFailedPrecondition, "schema acme/tiny/1.0.0 is DRAFT and accepts no events; activate it with `strmlocal activate schema acme/tiny/1.0.0`")

			act, err := schemas.ActivateSchema(ctx, connect.NewRequest(&v1.ActivateSchemaRequest{Ref: "acme/tiny/1.0.0"}))
			if err != nil || act.Msg.Schema.State != v1.State_STATE_ACTIVE {
				t.Fatalf("activate: %v %v", act, err)
			}
			res, err := events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{SchemaRef: "acme/tiny/1.0.0", Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(ev)}}))
			if err != nil || len(res.Msg.Verdicts) != 1 || res.Msg.Verdicts[0].Error != "" {
				t.Fatalf("validate: %v %v", res, err)
			}
			arch, err := contracts.ArchiveEventContract(ctx, connect.NewRequest(&v1.ArchiveEventContractRequest{Ref: "acme/tiny/1.0.0"}))
			if err != nil || arch.Msg.EventContract.State != v1.State_STATE_ARCHIVED {
				t.Fatalf("archive: %v %v", arch, err)
			}
			res, err = events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{SchemaRef: "acme/tiny/1.0.0", Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(ev)}}))
			if err != nil {
				t.Fatal(err)
			}
			want := "Field: 'strmMeta/eventContractRef' in event with schema: 'acme/tiny/1.0.0': event contract acme/tiny/1.0.0 is ARCHIVED and accepts no events"
			if v := res.Msg.Verdicts[0]; v.Error != want || v.Field != "strmMeta/eventContractRef" || v.Rule != "eventContract" {
				t.Fatalf("verdict %v, want %q", v, want)
			}
			list, err := contracts.ListEventContracts(ctx, connect.NewRequest(&v1.ListEventContractsRequest{State: v1.State_STATE_ARCHIVED}))
			if err != nil || len(list.Msg.EventContracts) != 1 {
				t.Fatalf("list archived: %v %v", list, err)
			}
		})
	}
}

func TestValidateVerdicts(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t, strmtest.WithMaxEventBytes(1024))
	if _, err := sb.EventContracts.ArchiveEventContract(ctx, connect.NewRequest(&v1.ArchiveEventContractRequest{Ref: "strmlocal/sensor/1.0.0"})); err != nil {
		t.Fatal(err)
	}
	demo := func(edit func(string) string) string { return edit(demoEvent) }
	for _, tc := range []struct {
		name, schema, event string
		ser                 v1.Serialization
		field, rule, msg    string
	}{
		{name: "valid demo", schema: "streammachine/demo/1.0.2", event: demoEvent},
		{name: "valid demo, nullable fields omitted", schema: "streammachine/demo/1.0.2",
			event: `{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": []}, "consistentValue": "x"}`},
		{name: "empty consistentValue", schema: "streammachine/demo/1.0.2",
			event: demo(func(s string) string { return strings.Replace(s, `"session-1"`, `""`, 1) }),
			field: "consistentValue", rule: "regex",
			msg: "Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"},
		{name: "clickstream url", schema: "streammachine/clickstream/1.0.0", event: clickURLBad,
			field: "url", rule: "regex",
			msg: "Field: 'url' in event with schema: 'streammachine/clickstream/1.0.0' with value: 'url' doesn't match regex: '^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]'"},
		{name: "unknown contract", schema: "streammachine/demo/1.0.2",
			event: demo(func(s string) string { return strings.Replace(s, "example/1.3.0", "example/9.9.9", 1) }),
			field: "strmMeta/eventContractRef", rule: "eventContract",
			msg: "Field: 'strmMeta/eventContractRef' in event with schema: 'streammachine/demo/1.0.2': event contract streammachine/example/9.9.9 not found"},
		{name: "contract bound to another schema", schema: "streammachine/demo/1.0.2",
			event: demo(func(s string) string {
				return strings.Replace(s, "streammachine/example/1.3.0", "streammachine/clickstream/1.0.0", 1)
			}),
			field: "strmMeta/eventContractRef", rule: "schemaRef",
			msg: "event contract 'streammachine/clickstream/1.0.0' is for schema 'streammachine/clickstream/1.0.0', not for the event's schema 'streammachine/demo/1.0.2'"},
		{name: "archived contract", schema: "strmlocal/sensor/1.0.0",
			event: `{"strmMeta": {"eventContractRef": "strmlocal/sensor/1.0.0", "consentLevels": []}, "machineId": "MCH-00001", "siteId": "AMS-01",
				"measuredAt": 0, "temperatureCelsius": 20.5, "vibrationMmPerS": 1, "rpm": 0, "powerState": "OFF", "readingStatus": "OK"}`,
			field: "strmMeta/eventContractRef", rule: "eventContract",
			msg: "Field: 'strmMeta/eventContractRef' in event with schema: 'strmlocal/sensor/1.0.0': event contract strmlocal/sensor/1.0.0 is ARCHIVED and accepts no events"},
		{name: "wrong type", schema: "streammachine/demo/1.0.2",
			event: demo(func(s string) string { return strings.Replace(s, `"n"}`, `7}`, 1) }),
			field: "notSensitiveValue", rule: "decode",
			msg: "event does not match schema 'streammachine/demo/1.0.2': field 'notSensitiveValue': expected string, got number"},
		{name: "not JSON", schema: "streammachine/demo/1.0.2", event: `{"strmMeta": `, rule: "decode",
			msg: "event does not match schema 'streammachine/demo/1.0.2': invalid JSON at byte 13: unexpected end of input, expected a value"},
		{name: "avro binary garbage", schema: "streammachine/demo/1.0.2", event: "\x02\x00", ser: v1.Serialization_SERIALIZATION_AVRO_BINARY,
			field: "strmMeta/nonce", rule: "decode", msg: "event does not match schema 'streammachine/demo/1.0.2': field 'strmMeta/nonce': unexpected end of data"},
		{name: "over the size cap", schema: "streammachine/demo/1.0.2", event: strings.Repeat(" ", 1025) + demoEvent, rule: "size",
			msg: "event body is 1227 bytes, over the limit of 1024 bytes"},
		{name: "invalid UTF-8", schema: "streammachine/demo/1.0.2",
			event: demo(func(s string) string { return strings.Replace(s, `"n"}`, "\"\xff\"}", 1) }),
			rule:  "decode", msg: "event does not match schema 'streammachine/demo/1.0.2': invalid JSON at byte 199: invalid UTF-8 in string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ser := tc.ser
			if ser == 0 {
				ser = v1.Serialization_SERIALIZATION_JSON
			}
			res, err := sb.Events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{SchemaRef: tc.schema, Serialization: ser, Events: [][]byte{[]byte(tc.event)}}))
			if err != nil {
				t.Fatal(err)
			}
			v := res.Msg.Verdicts[0]
			if v.Error != tc.msg || v.Field != tc.field || v.Rule != tc.rule {
				t.Fatalf("verdict {%q %q %q}, want {%q %q %q}", v.Field, v.Rule, v.Error, tc.field, tc.rule, tc.msg)
			}
		})
	}
}

func TestRegistryRefusals(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	schema := func(ref, def string, typ v1.SchemaType) func() error {
		return func() error {
			_, err := sb.Schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Ref: ref, Definition: def, Type: typ}))
			return err
		}
	}
	contract := func(c *v1.EventContract) func() error {
		return func() error {
			_, err := sb.EventContracts.CreateEventContract(ctx, connect.NewRequest(&v1.CreateEventContractRequest{EventContract: c}))
			return err
		}
	}
	tiny := func(edit func(*v1.EventContract)) *v1.EventContract {
		c := &v1.EventContract{Ref: "acme/tiny/1.0.0", SchemaRef: "acme/tiny/1.0.0", KeyField: "session", PiiFields: map[string]int32{"customer/email": 1}}
		edit(c)
		return c
	}
	if err := schema("acme/tiny/1.0.0", tinySchema, 0)(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"bad ref", schema("acme/tiny", tinySchema, 0), connect.CodeInvalidArgument, "invalid ref 'acme/tiny': must have the form handle/name/version"},
		{"bad version", schema("acme/tiny/1.0", tinySchema, 0), connect.CodeInvalidArgument, "invalid ref 'acme/tiny/1.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"changed definition", schema("streammachine/demo/1.0.2", tinySchema, 0), connect.CodeAlreadyExists,
			"schema streammachine/demo/1.0.2 is already registered with another definition; registered versions are immutable, so register the change as a new version"},
		{"malformed avro", schema("acme/bad/1.0.0", `{"type": "record"`, 0), connect.CodeInvalidArgument, "definition is not valid JSON: unexpected end of JSON input"},
		{"unknown avro type", schema("acme/bad/1.0.0", strings.Replace(tinySchema, `"type": "int"`, `"type": "integer"`, 1), 0), connect.CodeInvalidArgument, "invalid Avro schema: unknown type: integer"},
		{"no strmMeta", schema("acme/bad/1.0.0", `{"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}`, 0), connect.CodeInvalidArgument,
			"strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{"malformed json schema", schema("acme/bad/1.0.0", `{"type": "object", "properties": {"a": {"type": 5}}}`, v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA), connect.CodeInvalidArgument,
			"invalid JSON Schema: at '/properties/a/type': got number, want array; value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'"},
		{"unknown type", schema("acme/bad/1.0.0", tinySchema, 9), connect.CodeInvalidArgument, "type: unknown schema type 9 (want AVRO or JSON_SCHEMA)"},
		{"contract without schema", contract(tiny(func(c *v1.EventContract) { c.SchemaRef = "acme/none/1.0.0" })), connect.CodeNotFound,
			"schemaRef: schema acme/none/1.0.0 not found; register it first with `strmlocal create schema`"},
		{"missing pii field", contract(tiny(func(c *v1.EventContract) { c.PiiFields["customer/name"] = 1 })), connect.CodeInvalidArgument, "piiFields: 'customer/name' does not exist in schema 'acme/tiny/1.0.0'"},
		{"non-string key field", contract(tiny(func(c *v1.EventContract) { c.KeyField = "count" })), connect.CodeInvalidArgument, "keyField: 'count' must be a string or nullable string, but is int"},
		{"negative level", contract(tiny(func(c *v1.EventContract) { c.PiiFields["session"] = -1 })), connect.CodeInvalidArgument, "piiFields: 'session' has consent level -1, but levels must be >= 0"},
		{"bad regex", contract(tiny(func(c *v1.EventContract) {
			c.Validations = []*v1.Validation{{Field: "session", Type: "regex", Value: "(("}}
		})), connect.CodeInvalidArgument, "validations[0]: regex '((' for field 'session' does not compile: error parsing regexp: missing closing ): `((`"},
		{"unknown validation type", contract(tiny(func(c *v1.EventContract) {
			c.Validations = []*v1.Validation{{Field: "session", Type: "length", Value: "3"}}
		})), connect.CodeInvalidArgument, "validations[0]: unknown type 'length' for field 'session' (known types: regex)"},
		{"several problems", contract(tiny(func(c *v1.EventContract) { c.KeyField = ""; c.DataSubjectField = "count" })), connect.CodeInvalidArgument,
			"keyField: is required\ndataSubjectField: 'count' must be a string or nullable string, but is int"},
		{"changed contract", contract(&v1.EventContract{Ref: "streammachine/example/1.3.0", SchemaRef: "streammachine/demo/1.0.2", KeyField: "consistentValue"}), connect.CodeAlreadyExists,
			"event contract streammachine/example/1.3.0 is already registered with another definition; registered versions are immutable, so register the change as a new version"},
		{"activate unknown", func() error {
			_, err := sb.Schemas.ActivateSchema(ctx, connect.NewRequest(&v1.ActivateSchemaRequest{Ref: "acme/none/1.0.0"}))
			return err
		}, connect.CodeNotFound, "schema acme/none/1.0.0 not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertError(t, tc.call(), tc.code, tc.msg)
		})
	}
	// Nothing refused was stored.
	list, err := sb.Schemas.ListSchemas(ctx, connect.NewRequest(&v1.ListSchemasRequest{Handle: "acme"}))
	if err != nil || len(list.Msg.Schemas) != 1 {
		t.Fatalf("acme schemas: %v %v", list.Msg.GetSchemas(), err)
	}
	cl, err := sb.EventContracts.ListEventContracts(ctx, connect.NewRequest(&v1.ListEventContractsRequest{Handle: "acme"}))
	if err != nil || len(cl.Msg.EventContracts) != 0 {
		t.Fatalf("acme contracts: %v %v", cl.Msg.GetEventContracts(), err)
	}
}

func TestRegistrySurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := rpc.New(rpc.Options{DataDir: dir, Clock: clock.Func(fixedClock())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Registry().SetSchemaState("streammachine/demo/1.0.2", 3); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	got, err := sb.Schemas.GetSchema(ctx, connect.NewRequest(&v1.GetSchemaRequest{Ref: "streammachine/demo/1.0.2"}))
	if err != nil {
		t.Fatal(err)
	}
	// Archived by the user, so not re-registered or re-activated at start.
	if s := got.Msg.Schema; s.State != v1.State_STATE_ARCHIVED || !s.CreateTime.AsTime().Equal(t0) {
		t.Fatalf("after restart: %v", s)
	}
}
