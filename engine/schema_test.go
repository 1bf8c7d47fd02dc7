package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

var testRef = engine.Ref{Handle: "test", Name: "schema", Version: "1.0.0"}

// metaFields are strmMeta's Avro fields in order; a test replaces or drops
// entries to build broken variants.
var metaFields = [][2]string{
	{"eventContractRef", `"string"`},
	{"nonce", `["null","int"]`},
	{"timestamp", `["null","long"]`},
	{"keyLink", `["null","string"]`},
	{"billingId", `["null","string"]`},
	{"consentLevels", `{"type":"array","items":"int"}`},
}

// avroMeta builds a strmMeta field; overrides maps a field name to its type,
// or to "" to drop the field.
func avroMeta(overrides map[string]string) string {
	var fs []string
	for _, f := range metaFields {
		typ := f[1]
		if o, ok := overrides[f[0]]; ok {
			if o == "" {
				continue
			}
			typ = o
		}
		fs = append(fs, fmt.Sprintf(`{"name":%q,"type":%s}`, f[0], typ))
	}
	return `{"name":"strmMeta","type":{"type":"record","name":"StrmMeta","fields":[` + strings.Join(fs, ",") + `]}}`
}

// avroRecord builds a top-level record with the given fields (JSON texts).
func avroRecord(fields ...string) string {
	return `{"type":"record","name":"Event","namespace":"test","fields":[` + strings.Join(fields, ",") + `]}`
}

func compileAvro(t *testing.T, def string) *engine.Schema {
	t.Helper()
	s, err := engine.CompileSchema(testRef, engine.Avro, []byte(def))
	if err != nil {
		t.Fatalf("CompileSchema: %v", err)
	}
	return s
}

func TestCompileSchemaAvroRefusals(t *testing.T) {
	str := `{"name":"name","type":"string"}`
	cases := []struct {
		name, def, msg string
	}{
		{"not JSON", `{"type":`, "definition is not valid JSON: unexpected end of JSON input"},
		{"unknown type", avroRecord(avroMeta(nil), `{"name":"x","type":"strng"}`), "invalid Avro schema: unknown type: strng"},
		{"top level not a record", `"string"`, "the top level must be a record, got string"},
		{"top level array", `{"type":"array","items":"string"}`, "the top level must be a record, got array"},
		{"no strmMeta", avroRecord(str), "strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{"strmMeta not a record", avroRecord(`{"name":"strmMeta","type":"string"}`), "strmMeta: expected record, got string"},
		{"strmMeta nullable", avroRecord(`{"name":"strmMeta","type":["null",` + strings.TrimPrefix(strings.TrimSuffix(avroMeta(nil), "}"), `{"name":"strmMeta","type":`) + `]}`), "strmMeta: expected record, got nullable record StrmMeta"},
		{"eventContractRef missing", avroRecord(avroMeta(map[string]string{"eventContractRef": ""})), "strmMeta.eventContractRef: missing, expected string"},
		{"eventContractRef nullable", avroRecord(avroMeta(map[string]string{"eventContractRef": `["null","string"]`})), "strmMeta.eventContractRef: expected string, got nullable string"},
		{"nonce not nullable", avroRecord(avroMeta(map[string]string{"nonce": `"int"`})), "strmMeta.nonce: expected nullable int, got int"},
		{"nonce long", avroRecord(avroMeta(map[string]string{"nonce": `["null","long"]`})), "strmMeta.nonce: expected nullable int, got nullable long"},
		{"nonce missing", avroRecord(avroMeta(map[string]string{"nonce": ""})), "strmMeta.nonce: missing, expected nullable int"},
		{"timestamp int", avroRecord(avroMeta(map[string]string{"timestamp": `["null","int"]`})), "strmMeta.timestamp: expected nullable long, got nullable int"},
		{"keyLink string", avroRecord(avroMeta(map[string]string{"keyLink": `"string"`})), "strmMeta.keyLink: expected nullable string, got string"},
		{"billingId int", avroRecord(avroMeta(map[string]string{"billingId": `["null","int"]`})), "strmMeta.billingId: expected nullable string, got nullable int"},
		{"consentLevels of long", avroRecord(avroMeta(map[string]string{"consentLevels": `{"type":"array","items":"long"}`})), "strmMeta.consentLevels: expected array of int, got array of long"},
		{"consentLevels missing", avroRecord(avroMeta(map[string]string{"consentLevels": ""})), "strmMeta.consentLevels: missing, expected array of int"},
		{"three problems", avroRecord(avroMeta(map[string]string{"nonce": `"string"`, "keyLink": "", "consentLevels": `"int"`})),
			"strmMeta.nonce: expected nullable int, got string\nstrmMeta.keyLink: missing, expected nullable string\nstrmMeta.consentLevels: expected array of int, got int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.CompileSchema(testRef, engine.Avro, []byte(tc.def))
			if err == nil {
				t.Fatal("CompileSchema succeeded")
			}
			if err.Error() != tc.msg {
				t.Errorf("error:\n got %q\nwant %q", err, tc.msg)
			}
			if !errors.Is(err, engine.ErrInvalidSchema) {
				t.Errorf("error does not match ErrInvalidSchema")
			}
			var de *engine.DefinitionError
			if !errors.As(err, &de) {
				t.Errorf("error is not a *DefinitionError")
			}
		})
	}
}

func TestCompileSchemaAvroAccepts(t *testing.T) {
	cases := map[string]string{
		"billingId optional":       avroRecord(avroMeta(map[string]string{"billingId": ""})),
		"null second":              avroRecord(avroMeta(map[string]string{"nonce": `["int","null"]`, "keyLink": `["string","null"]`})),
		"timestamp logical type":   avroRecord(avroMeta(map[string]string{"timestamp": `["null",{"type":"long","logicalType":"timestamp-millis"}]`})),
		"extra strmMeta field":     strings.Replace(avroRecord(avroMeta(nil)), `"type":"string"}`, `"type":"string"},{"name":"schemaId","type":["null","string"]}`, 1),
		"strmMeta not first":       avroRecord(`{"name":"a","type":"string"}`, avroMeta(nil)),
		"recursive type":           avroRecord(avroMeta(nil), `{"name":"node","type":{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}}`),
		"every type":               avroRecord(avroMeta(nil), everyTypeFields),
		"named type used twice":    avroRecord(avroMeta(nil), `{"name":"a","type":{"type":"record","name":"A","fields":[{"name":"x","type":"string"}]}}`, `{"name":"b","type":"A"}`, `{"name":"as","type":{"type":"array","items":"A"}}`),
		"reused StrmMeta name ok":  avroRecord(avroMeta(nil), `{"name":"m","type":"StrmMeta"}`),
		"doc and props everywhere": strings.Replace(avroRecord(avroMeta(nil)), `"fields"`, `"doc":"d","x-prop":1,"fields"`, 1),
	}
	for name, def := range cases {
		t.Run(name, func(t *testing.T) {
			compileAvro(t, def)
		})
	}
}

// everyTypeFields covers every Avro type in one record.
const everyTypeFields = `{"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},` +
	`{"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"by","type":"bytes"},{"name":"s","type":"string"},` +
	`{"name":"fx","type":{"type":"fixed","name":"F4","size":4}},{"name":"e","type":{"type":"enum","name":"Colour","symbols":["RED","GREEN"]}},` +
	`{"name":"a","type":{"type":"array","items":"long"}},{"name":"m","type":{"type":"map","values":"string"}},` +
	`{"name":"u","type":["null","int","Colour"]},{"name":"n","type":"null"},` +
	`{"name":"r","type":["null",{"type":"record","name":"Inner","fields":[{"name":"x","type":["null","string"]},{"name":"deep","type":{"type":"record","name":"Deep","fields":[{"name":"y","type":"string"}]}}]}]},` +
	`{"name":"ar","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"k","type":"string"},{"name":"tags","type":{"type":"array","items":"string"}}]}}},` +
	`{"name":"mr","type":{"type":"map","values":"Item"}}`

func TestFieldIndex(t *testing.T) {
	cat := loadCatalogue(t)
	var got []string
	for _, f := range cat.schema(t, "streammachine/clickstream/1.0.0").Fields() {
		got = append(got, f.Path+" "+f.String())
	}
	want := []string{
		"strmMeta record",
		"strmMeta/eventContractRef string",
		"strmMeta/nonce nullable int",
		"strmMeta/timestamp nullable long",
		"strmMeta/keyLink nullable string",
		"strmMeta/billingId nullable string",
		"strmMeta/consentLevels array",
		"producerSessionId string",
		"url string",
		"eventType string",
		"referrer string",
		"userAgent string",
		"conversion int",
		"abTests array",
		"customer record",
		"customer/id string",
	}
	if !slices.Equal(got, want) {
		t.Errorf("clickstream fields:\n got %q\nwant %q", got, want)
	}

	s := compileAvro(t, avroRecord(avroMeta(nil), everyTypeFields))
	got = nil
	for _, f := range s.Fields()[7:] {
		got = append(got, f.Path+" "+f.String())
	}
	want = []string{
		"b boolean", "i int", "l long", "f float", "d double", "by bytes", "s string", "fx fixed", "e enum",
		"a array", "m map", "u union", "n null",
		"r nullable record", "r/x nullable string", "r/deep record", "r/deep/y string",
		"ar array", "mr map",
	}
	if !slices.Equal(got, want) {
		t.Errorf("every type fields:\n got %q\nwant %q", got, want)
	}
	f, ok := s.Field("r/deep/y")
	if !ok || f.Kind != engine.KindString || f.Nullable || !f.IsString() {
		t.Errorf("Field(r/deep/y) = %+v, %v", f, ok)
	}
	if _, ok := s.Field("ar/k"); ok {
		t.Error("a field inside an array is indexed")
	}
	if _, ok := s.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
}

func TestFingerprint(t *testing.T) {
	cat := loadCatalogue(t)
	// CRC-64-AVRO of the Parsing Canonical Form. The platform showed
	// 4415394156950015060 for strmprivacy/clickstream/1.0.0; no namespace or
	// field variant of the documented definition reproduces it (hamba's
	// CRC-64-AVRO matches the Avro specification's test vectors), so this pins
	// our own value.
	if got := cat.schema(t, "streammachine/clickstream/1.0.0").Fingerprint(); got != "4435787407832850357" {
		t.Errorf("clickstream fingerprint = %s", got)
	}
	// The canonical form ignores docs, properties, defaults and layout.
	a := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"x","type":"string"}`))
	b := compileAvro(t, strings.ReplaceAll(avroRecord(avroMeta(nil), `{"name":"x","type":"string","doc":"a field"}`), ",", ",\n  "))
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("fingerprint depends on formatting: %s != %s", a.Fingerprint(), b.Fingerprint())
	}
	c := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"y","type":"string"}`))
	if a.Fingerprint() == c.Fingerprint() {
		t.Error("different schemas share a fingerprint")
	}
	// The Avro specification's own vector: "null" has fingerprint 7195948357588979594.
	// It cannot be compiled (the top level must be a record), so the
	// record case is checked against a value computed independently above.

	j1, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(nil)))
	if err != nil {
		t.Fatal(err)
	}
	j2, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(strings.ReplaceAll(jsonSchemaDef(nil), ",", ",\n\t")))
	if err != nil {
		t.Fatal(err)
	}
	if j1.Fingerprint() != j2.Fingerprint() || len(j1.Fingerprint()) != 64 {
		t.Errorf("JSON Schema fingerprints %s, %s", j1.Fingerprint(), j2.Fingerprint())
	}
}

func TestSchemaAccessors(t *testing.T) {
	def := avroRecord(avroMeta(nil))
	s := compileAvro(t, def)
	if s.Ref() != testRef || s.Type() != engine.Avro || s.Definition() != def || s.DefaultSerialization() != engine.AvroBinary {
		t.Errorf("accessors: %v %v %v", s.Ref(), s.Type(), s.DefaultSerialization())
	}
	j, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if j.Type() != engine.JSONSchema || j.DefaultSerialization() != engine.JSON {
		t.Errorf("JSON Schema accessors: %v %v", j.Type(), j.DefaultSerialization())
	}
	if _, err := engine.CompileSchema(engine.Ref{Handle: "x"}, engine.Avro, []byte(def)); !errors.Is(err, engine.ErrInvalidRef) {
		t.Errorf("bad ref: %v", err)
	}
	if _, err := engine.CompileSchema(testRef, 9, []byte(def)); err == nil || err.Error() != "unknown schema type 9" {
		t.Errorf("bad type: %v", err)
	}
}

func TestParseSchemaType(t *testing.T) {
	for in, want := range map[string]engine.SchemaType{
		"avro": engine.Avro, "AVRO": engine.Avro, "json-schema": engine.JSONSchema, "JSON_SCHEMA": engine.JSONSchema, "jsonschema": engine.JSONSchema,
	} {
		if got, err := engine.ParseSchemaType(in); err != nil || got != want {
			t.Errorf("ParseSchemaType(%q) = %v, %v", in, got, err)
		}
	}
	_, err := engine.ParseSchemaType("protobuf")
	if err == nil || err.Error() != "unknown schema type 'protobuf' (want avro or json-schema)" || !errors.Is(err, engine.ErrInvalidSchema) {
		t.Errorf("ParseSchemaType(protobuf): %v", err)
	}
	if engine.Avro.String() != "AVRO" || engine.JSONSchema.String() != "JSON_SCHEMA" {
		t.Error("SchemaType.String")
	}
}

func TestParseSerialization(t *testing.T) {
	cases := []struct {
		in   string
		want engine.Serialization
		ok   bool
	}{
		{"application/x-avro-binary", engine.AvroBinary, true},
		{"application/json", engine.JSON, true},
		{"Application/JSON; charset=utf-8", engine.JSON, true},
		{"text/plain", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		got, ok := engine.ParseSerialization(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseSerialization(%q) = %v, %v", tc.in, got, ok)
		}
	}
	if engine.AvroBinary.String() != engine.ContentTypeAvroBinary || engine.JSON.String() != engine.ContentTypeJSON {
		t.Error("Serialization.String")
	}
}
