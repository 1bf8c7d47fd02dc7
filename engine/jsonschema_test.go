package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

var jsonMetaProps = [][2]string{
	{"eventContractRef", `{"type":"string"}`},
	{"nonce", `{"type":["integer","null"]}`},
	{"timestamp", `{"type":["integer","null"]}`},
	{"keyLink", `{"type":["string","null"]}`},
	{"billingId", `{"type":["string","null"]}`},
	{"consentLevels", `{"type":"array","items":{"type":"integer"}}`},
}

// jsonSchemaDef builds a JSON Schema with strmMeta and a nested customer
// object; overrides replace strmMeta properties ("" drops one). The special
// keys "$schema", "required" and "metaRequired" replace those parts.
func jsonSchemaDef(overrides map[string]string) string {
	var props []string
	for _, p := range jsonMetaProps {
		v := p[1]
		if o, ok := overrides[p[0]]; ok {
			if o == "" {
				continue
			}
			v = o
		}
		props = append(props, fmt.Sprintf("%q:%s", p[0], v))
	}
	get := func(key, def string) string {
		if o, ok := overrides[key]; ok {
			return o
		}
		return def
	}
	return `{` + get("$schema", `"$schema":"https://json-schema.org/draft/2020-12/schema",`) +
		`"type":"object",` +
		`"required":` + get("required", `["strmMeta","id"]`) + `,` +
		`"properties":{` +
		`"strmMeta":{"type":"object","required":` + get("metaRequired", `["eventContractRef","consentLevels"]`) + `,"properties":{` + strings.Join(props, ",") + `}},` +
		`"id":{"type":"string"},` +
		`"note":{"type":["string","null"]},` +
		`"count":{"type":"integer"},` +
		`"customer":{"type":"object","properties":{"email":{"type":"string"},"tier":{"type":"integer"}}}` +
		`}}`
}

func TestCompileSchemaJSONRefusals(t *testing.T) {
	cases := []struct {
		name, def, msg string
	}{
		{"not JSON", `{"type":`, "definition is not valid JSON: unexpected EOF"},
		{"top level array", `{"type":"array"}`, "the top level must be an object, got array"},
		{"top level untyped", `{}`, "the top level must be an object, got any"},
		{"no strmMeta", `{"type":"object","properties":{"id":{"type":"string"}}}`, "strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels"},
		{"strmMeta not object", `{"type":"object","required":["strmMeta"],"properties":{"strmMeta":{"type":"string"}}}`, "strmMeta: expected object, got string"},
		{"strmMeta not required", jsonSchemaDef(map[string]string{"required": `["id"]`}), "strmMeta: must be listed in the top-level required properties"},
		{"eventContractRef not required", jsonSchemaDef(map[string]string{"metaRequired": `["consentLevels"]`}), "strmMeta.eventContractRef: must be listed in strmMeta's required properties"},
		{"nonce not nullable", jsonSchemaDef(map[string]string{"nonce": `{"type":"integer"}`}), "strmMeta.nonce: expected nullable integer, got integer"},
		{"timestamp string", jsonSchemaDef(map[string]string{"timestamp": `{"type":["string","null"]}`}), "strmMeta.timestamp: expected nullable integer, got nullable string"},
		{"keyLink missing", jsonSchemaDef(map[string]string{"keyLink": ""}), "strmMeta.keyLink: missing, expected nullable string"},
		{"consentLevels of strings", jsonSchemaDef(map[string]string{"consentLevels": `{"type":"array","items":{"type":"string"}}`}), "strmMeta.consentLevels: expected array of integer, got array of string"},
		{"eventContractRef untyped", jsonSchemaDef(map[string]string{"eventContractRef": `{}`}), "strmMeta.eventContractRef: expected string, got any"},
		{"external ref", jsonSchemaDef(map[string]string{"id": "", "eventContractRef": `{"$ref":"file:///etc/passwd"}`}), ""},
		{"unknown draft", jsonSchemaDef(map[string]string{"$schema": `"$schema":"https://example.com/my-draft",`}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(tc.def))
			if err == nil {
				t.Fatal("CompileSchema succeeded")
			}
			if !errors.Is(err, engine.ErrInvalidSchema) {
				t.Errorf("error does not match ErrInvalidSchema: %v", err)
			}
			if tc.msg == "" {
				if !strings.HasPrefix(err.Error(), "invalid JSON Schema: ") {
					t.Errorf("error %q", err)
				}
				return
			}
			if err.Error() != tc.msg {
				t.Errorf("error:\n got %q\nwant %q", err, tc.msg)
			}
		})
	}
}

func TestCompileSchemaJSONExternalRefNotLoaded(t *testing.T) {
	_, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(map[string]string{"eventContractRef": `{"$ref":"file:///etc/hostname"}`})))
	if err == nil || !strings.Contains(err.Error(), "external references are not supported (file:///etc/hostname)") {
		t.Errorf("external $ref: %v", err)
	}
}

func TestCompileSchemaJSONAccepts(t *testing.T) {
	cases := map[string]string{
		"2020-12":         jsonSchemaDef(nil),
		"default draft":   jsonSchemaDef(map[string]string{"$schema": ""}),
		"billingId gone":  jsonSchemaDef(map[string]string{"billingId": ""}),
		"anyOf nullable":  jsonSchemaDef(map[string]string{"nonce": `{"anyOf":[{"type":"integer"},{"type":"null"}]}`}),
		"oneOf nullable":  jsonSchemaDef(map[string]string{"keyLink": `{"oneOf":[{"type":"null"},{"type":"string","format":"uuid"}]}`}),
		"draft-07 tuple":  jsonSchemaDef(map[string]string{"$schema": `"$schema":"http://json-schema.org/draft-07/schema#",`}),
		"local $ref":      `{"$defs":{"meta":` + metaObject() + `},"type":"object","required":["strmMeta"],"properties":{"strmMeta":{"$ref":"#/$defs/meta"}}}`,
		"draft-04 $ref":   `{"$schema":"http://json-schema.org/draft-04/schema#","definitions":{"meta":` + metaObject() + `},"type":"object","required":["strmMeta"],"properties":{"strmMeta":{"$ref":"#/definitions/meta"}}}`,
		"allOf composite": `{"type":"object","required":["strmMeta"],"allOf":[{"properties":{"strmMeta":` + metaObject() + `}}]}`,
	}
	for name, def := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(def)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func metaObject() string {
	var props []string
	for _, p := range jsonMetaProps {
		props = append(props, fmt.Sprintf("%q:%s", p[0], p[1]))
	}
	return `{"type":"object","required":["eventContractRef","consentLevels"],"properties":{` + strings.Join(props, ",") + `}}`
}

func TestJSONSchemaFieldIndex(t *testing.T) {
	s, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(jsonSchemaDef(nil)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range s.Fields() {
		got = append(got, f.Path+" "+f.String())
	}
	want := "count integer|customer object|customer/email string|customer/tier integer|id string|note nullable string|" +
		"strmMeta object|strmMeta/billingId nullable string|strmMeta/consentLevels array|strmMeta/eventContractRef string|" +
		"strmMeta/keyLink nullable string|strmMeta/nonce nullable integer|strmMeta/timestamp nullable integer"
	if strings.Join(got, "|") != want {
		t.Errorf("fields:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

const sensorJSON = `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1]},` +
	`"machineId":"MCH-00042","siteId":"AMS-01","operatorBadge":"B004217","measuredAt":1767225600000,` +
	`"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`

func TestDecodeJSONSchema(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	ev, err := s.Decode(engine.JSON, []byte(sensorJSON))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ev.AppendJSON(nil)); got != sensorJSON {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, sensorJSON)
	}
	if got := string(ev.Encode(nil)); got != sensorJSON {
		t.Errorf("Encode:\n got %s", got)
	}
	if ev.ContractRef() != "strmlocal/sensor-json/1.0.0" || fmt.Sprint(ev.ConsentLevels()) != "[1]" {
		t.Errorf("strmMeta: %q %v", ev.ContractRef(), ev.ConsentLevels())
	}
	if _, ok := ev.Nonce(); ok {
		t.Error("nonce present")
	}
	if err := cat.contract(t, "strmlocal/sensor-json/1.0.0").Check(ev); err != nil {
		t.Error(err)
	}
	ev.SetNonce(-7)
	ev.SetTimestamp(1767225600123)
	if err := ev.SetKeyLink("6f1c2a8e-0000-4000-8000-000000000001"); err != nil {
		t.Fatal(err)
	}
	if err := ev.SetStringPath("operatorBadge", "ATuasjJ30S4u"); err != nil {
		t.Fatal(err)
	}
	want := `{"strmMeta":{"eventContractRef":"strmlocal/sensor-json/1.0.0","consentLevels":[1],"nonce":-7,"timestamp":1767225600123,"keyLink":"6f1c2a8e-0000-4000-8000-000000000001"},` +
		`"machineId":"MCH-00042","siteId":"AMS-01","operatorBadge":"ATuasjJ30S4u","measuredAt":1767225600000,` +
		`"temperatureCelsius":61.5,"vibrationMmPerS":2.25,"rpm":1450,"powerState":"RUNNING","readingStatus":"OK"}`
	out := ev.Encode(nil)
	if string(out) != want {
		t.Errorf("after setters:\n got %s\nwant %s", out, want)
	}
	// The result is valid against the schema and reads back the same.
	ev2, err := s.Decode(engine.JSON, out)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := ev2.Nonce()
	ts, tok := ev2.Timestamp()
	kl, kok := ev2.KeyLink()
	badge, bok, err := ev2.GetStringPath("operatorBadge")
	if n != -7 || !ok || ts != 1767225600123 || !tok || kl != "6f1c2a8e-0000-4000-8000-000000000001" || !kok || badge != "ATuasjJ30S4u" || !bok || err != nil {
		t.Errorf("read back: %d %v %d %v %q %v %q %v %v", n, ok, ts, tok, kl, kok, badge, bok, err)
	}
	// Setting twice replaces in place.
	ev2.SetNonce(9)
	if n, _ := ev2.Nonce(); n != 9 || strings.Count(string(ev2.Encode(nil)), `"nonce"`) != 1 {
		t.Errorf("second SetNonce: %s", ev2.Encode(nil))
	}
}

func TestDecodeJSONSchemaRejects(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	const prefix = "event does not match schema 'strmlocal/sensor-json/1.0.0': "
	replace := func(old, new string) string {
		if !strings.Contains(sensorJSON, old) {
			t.Fatalf("%q not in sensorJSON", old)
		}
		return strings.Replace(sensorJSON, old, new, 1)
	}
	cases := []struct {
		name, body, field, msg string
	}{
		{"wrong type", replace(`"rpm":1450`, `"rpm":"fast"`), "rpm", "field 'rpm': got string, want integer"},
		{"nested wrong type", replace(`"consentLevels":[1]`, `"consentLevels":[1,"x"]`), "strmMeta/consentLevels/1", "field 'strmMeta/consentLevels/1': got string, want integer"},
		{"missing required", replace(`"siteId":"AMS-01",`, ``), "", "missing property 'siteId'"},
		{"additional property", replace(`"rpm":1450`, `"rpm":1450,"colour":"red"`), "", "additional properties 'colour' not allowed"},
		{"enum", replace(`"RUNNING"`, `"SPINNING"`), "powerState", "field 'powerState': value must be one of 'OFF', 'STANDBY', 'RUNNING', 'FAULT'"},
		{"minimum", replace(`"rpm":1450`, `"rpm":-1`), "rpm", "field 'rpm': minimum: got -1, want 0"},
		{"duplicate key", replace(`"rpm":1450`, `"rpm":1450,"rpm":1`), "rpm", "field 'rpm' appears more than once"},
		{"invalid UTF-8", replace(`"AMS-01"`, "\"AMS-\xff1\""), "", fmt.Sprintf("invalid JSON at byte %d: invalid UTF-8 in string", strings.Index(sensorJSON, `"AMS-01"`)+5)},
		{"trailing garbage", sensorJSON + `}`, "", fmt.Sprintf("invalid JSON at byte %d: invalid character '}' after the event (a body holds one JSON value)", len(sensorJSON))},
		{"second value", sensorJSON + ` {}`, "", fmt.Sprintf("invalid JSON at byte %d: invalid character '{' after the event (a body holds one JSON value)", len(sensorJSON)+1)},
		{"truncated", sensorJSON[:strings.Index(sensorJSON, "B004217")], "", fmt.Sprintf("invalid JSON at byte %d: unexpected end of input in string (expected '\"')", strings.Index(sensorJSON, "B004217"))},
		{"empty", ``, "", "invalid JSON at byte 0: unexpected end of input, expected a value (the body is empty)"},
		{"not JSON", `not json`, "", "invalid JSON at byte 1: invalid character 'o' in literal null (expected 'u')"},
		{"truncated literal", `tru`, "", "invalid JSON at byte 3: unexpected end of input in literal true (expected 'e')"},
		{"truncated after a key", `{"a":`, "", "invalid JSON at byte 5: unexpected end of input, expected a value"},
		{"garbage after an object", `{} x`, "", "invalid JSON at byte 3: invalid character 'x' after the event (a body holds one JSON value)"},
		{"not an object", `[1,2]`, "", "got array, want object"},
		{"too deep", strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70), strings.TrimSuffix(strings.Repeat("a/", 64), "/"), "field '" + strings.TrimSuffix(strings.Repeat("a/", 64), "/") + "': nesting exceeds 64 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Decode(engine.JSON, []byte(tc.body))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != prefix+tc.msg {
				t.Errorf("error:\n got %q\nwant %q", msg, prefix+tc.msg)
			}
			var re *engine.RejectError
			errors.As(err, &re)
			if re.Field != tc.field || re.Rule != engine.RuleDecode {
				t.Errorf("Field, Rule = %q, %q", re.Field, re.Rule)
			}
		})
	}
	_, err := s.Decode(engine.AvroBinary, []byte{0})
	if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != "serialization application/x-avro-binary is not supported for JSON_SCHEMA schema 'strmlocal/sensor-json/1.0.0'" {
		t.Errorf("Avro binary for JSON Schema: %q", msg)
	}
}

// TestDecodeStored: ciphertext in a PII field may break the schema's string
// constraints; events read back from the log must still decode.
func TestDecodeStored(t *testing.T) {
	def := strings.Replace(jsonSchemaDef(nil), `"customer":{"type":"object","properties":{"email":{"type":"string"}`,
		`"customer":{"type":"object","properties":{"email":{"type":"string","format":"email","pattern":"@","maxLength":20}`, 1)
	s, err := engine.CompileSchema(testRef, engine.JSONSchema, []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[1]},"id":"x","customer":{"email":"a@example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.SetStringPath("customer/email", "ATuasjJ30S4uRB64APNKNze/TH6V5NbA6gRLGjM="); err != nil {
		t.Fatal(err)
	}
	stored := ev.Encode(nil)
	if _, err := s.Decode(engine.JSON, stored); err == nil {
		t.Fatal("the encrypted event still validates; the test does not exercise DecodeStored")
	}
	back, err := s.DecodeStored(stored)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := back.GetStringPath("customer/email"); v != "ATuasjJ30S4uRB64APNKNze/TH6V5NbA6gRLGjM=" || !ok {
		t.Errorf("customer/email = %q, %v", v, ok)
	}
	if _, err := s.DecodeStored([]byte(`{"a":`)); err == nil {
		t.Error("DecodeStored accepted broken JSON")
	}
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	if _, err := click.DecodeStored(marshal(t, click, sampleClickstream())); err != nil {
		t.Errorf("DecodeStored of Avro: %v", err)
	}
}
