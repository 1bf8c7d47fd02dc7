package engine_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

func TestCompileContractRefusals(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	ref := engine.Ref{Handle: "streammachine", Name: "clickstream", Version: "1.0.0"}
	base := func() engine.Contract {
		return engine.Contract{
			Ref: ref, SchemaRef: click.Ref(), KeyField: "producerSessionId",
			PIIFields: map[string]int{"customer/id": 0, "producerSessionId": 1},
			Validations: []engine.Validation{
				{Field: "customer/id", Type: "regex", Value: "^.+$"},
			},
			DataSubjectField: "customer/id",
		}
	}
	cases := []struct {
		name   string
		mutate func(*engine.Contract)
		msg    string
	}{
		{"schemaRef missing", func(c *engine.Contract) { c.SchemaRef = engine.Ref{} }, "schemaRef: is required"},
		{"schemaRef mismatch", func(c *engine.Contract) {
			c.SchemaRef = engine.Ref{Handle: "streammachine", Name: "demo", Version: "1.0.2"}
		},
			"schemaRef: contract names schema 'streammachine/demo/1.0.2' but is compiled against schema 'streammachine/clickstream/1.0.0'"},
		{"keyField missing", func(c *engine.Contract) { c.KeyField = "" }, "keyField: is required"},
		{"keyField unknown", func(c *engine.Contract) { c.KeyField = "sessionId" }, "keyField: 'sessionId' does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{"keyField int", func(c *engine.Contract) { c.KeyField = "conversion" }, "keyField: 'conversion' must be a string or nullable string, but is int"},
		{"keyField record", func(c *engine.Contract) { c.KeyField = "customer" }, "keyField: 'customer' must be a string or nullable string, but is record"},
		{"PII field unknown", func(c *engine.Contract) { c.PIIFields["customer/name"] = 1 }, "piiFields: 'customer/name' does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{"PII field int", func(c *engine.Contract) { c.PIIFields["conversion"] = 1 }, "piiFields: 'conversion' must be a string or nullable string, but is int"},
		{"PII field array", func(c *engine.Contract) { c.PIIFields["abTests"] = 1 }, "piiFields: 'abTests' must be a string or nullable string, but is array"},
		{"PII level negative", func(c *engine.Contract) { c.PIIFields["url"] = -1 }, "piiFields: 'url' has consent level -1, but levels must be >= 0"},
		{"PII in strmMeta", func(c *engine.Contract) { c.PIIFields["strmMeta/keyLink"] = 1 }, "piiFields: 'strmMeta/keyLink' is part of strmMeta, which is never encrypted"},
		{"validation without field", func(c *engine.Contract) { c.Validations[0].Field = "" }, "validations[0]: field is required"},
		{"validation field unknown", func(c *engine.Contract) { c.Validations[0].Field = "customer/name" }, "validations[0]: field 'customer/name' does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{"validation type unknown", func(c *engine.Contract) { c.Validations[0].Type = "length" }, "validations[0]: unknown type 'length' for field 'customer/id' (known types: regex)"},
		{"validation type empty", func(c *engine.Contract) { c.Validations[0].Type = "" }, "validations[0]: unknown type '' for field 'customer/id' (known types: regex)"},
		{"validation value empty", func(c *engine.Contract) { c.Validations[0].Value = "" }, "validations[0]: value is required for field 'customer/id'"},
		{"regex does not compile", func(c *engine.Contract) { c.Validations[0].Value = "^(.+$" },
			"validations[0]: regex '^(.+$' for field 'customer/id' does not compile: error parsing regexp: missing closing ): `^(.+$`"},
		{"regex is not RE2", func(c *engine.Contract) { c.Validations[0].Value = `^(?=a).*$` },
			"validations[0]: regex '^(?=a).*$' for field 'customer/id' does not compile: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
		{"regex on int", func(c *engine.Contract) { c.Validations[0].Field = "conversion" },
			"validations[0]: field 'conversion' must be a string or nullable string to be matched by a regex, but is int"},
		{"dataSubjectField unknown", func(c *engine.Contract) { c.DataSubjectField = "customer/email" }, "dataSubjectField: 'customer/email' does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{"dataSubjectField array", func(c *engine.Contract) { c.DataSubjectField = "abTests" }, "dataSubjectField: 'abTests' must be a string or nullable string, but is array"},
		{"every problem reported", func(c *engine.Contract) {
			c.KeyField = "conversion"
			c.PIIFields = map[string]int{"b": 1, "a": -1}
			c.Validations = append(c.Validations, engine.Validation{Field: "url", Type: "regex", Value: "("})
		}, "keyField: 'conversion' must be a string or nullable string, but is int\n" +
			"piiFields: 'a' does not exist in schema 'streammachine/clickstream/1.0.0'\n" +
			"piiFields: 'a' has consent level -1, but levels must be >= 0\n" +
			"piiFields: 'b' does not exist in schema 'streammachine/clickstream/1.0.0'\n" +
			"validations[1]: regex '(' for field 'url' does not compile: error parsing regexp: missing closing ): `(`"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			_, err := engine.CompileContract(c, click)
			if err == nil {
				t.Fatal("CompileContract succeeded")
			}
			if err.Error() != tc.msg {
				t.Errorf("error:\n got %q\nwant %q", err, tc.msg)
			}
			if !errors.Is(err, engine.ErrInvalidContract) {
				t.Error("error does not match ErrInvalidContract")
			}
		})
	}

	if _, err := engine.CompileContract(engine.Contract{Ref: engine.Ref{Handle: "x"}}, click); !errors.Is(err, engine.ErrInvalidRef) {
		t.Errorf("invalid contract ref: %v", err)
	}
	if _, err := engine.CompileContract(base(), nil); err == nil || err.Error() != "schemaRef: no schema given for contract 'streammachine/clickstream/1.0.0'" {
		t.Errorf("nil schema: %v", err)
	}
}

func TestCompiledContractAccessors(t *testing.T) {
	cat := loadCatalogue(t)
	cc := cat.contract(t, "streammachine/clickstream/1.0.0")
	if cc.Ref().String() != "streammachine/clickstream/1.0.0" || cc.Schema() != cat.schema(t, "streammachine/clickstream/1.0.0") {
		t.Errorf("Ref, Schema = %v, %v", cc.Ref(), cc.Schema().Ref())
	}
	if cc.KeyField().Path != "producerSessionId" {
		t.Errorf("KeyField = %q", cc.KeyField().Path)
	}
	var pii []string
	for _, p := range cc.PIIFields() {
		pii = append(pii, p.Field.Path+":"+string(rune('0'+p.Level)))
	}
	if strings.Join(pii, ",") != "customer/id:0,producerSessionId:1" {
		t.Errorf("PIIFields = %v", pii)
	}
	if f, ok := cc.DataSubjectField(); !ok || f.Path != "customer/id" {
		t.Errorf("DataSubjectField = %v, %v", f.Path, ok)
	}
	c := cc.Contract()
	c.PIIFields["x"] = 1
	c.Validations[0].Value = "changed"
	if _, ok := cc.Contract().PIIFields["x"]; ok || cc.Contract().Validations[0].Value == "changed" {
		t.Error("Contract() shares maps or slices with the compiled contract")
	}
	if _, ok := cat.contract(t, "streammachine/example/1.3.0").DataSubjectField(); ok {
		t.Error("demo contract has a data-subject field")
	}
	if got := engine.ValidationTypes(); !reflect.DeepEqual(got, []string{"regex"}) {
		t.Errorf("ValidationTypes = %v", got)
	}
}

func TestParseContractDefinition(t *testing.T) {
	c, err := engine.ParseContractDefinition([]byte(`{
		"keyField": "producerSessionId",
		"piiFields": {"customer/id": 0, "producerSessionId": 1},
		"validations": [{"field": "url", "type": "regex", "value": "^https://"}],
		"dataSubjectField": "customer/id"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Contract{
		KeyField:         "producerSessionId",
		PIIFields:        map[string]int{"customer/id": 0, "producerSessionId": 1},
		Validations:      []engine.Validation{{Field: "url", Type: "regex", Value: "^https://"}},
		DataSubjectField: "customer/id",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if c, err := engine.ParseContractDefinition([]byte(`{"keyField":"k","piiFields":null,"validations":null,"dataSubjectField":null}`)); err != nil || c.KeyField != "k" {
		t.Errorf("nulls: %+v, %v", c, err)
	}

	cases := []struct{ in, msg string }{
		{`{"keyField":"k","piiField":{}}`, "contract definition: unknown field 'piiField' (known fields: keyField, piiFields, validations, dataSubjectField)"},
		{`{"schemaRef":"a/b/1.0.0"}`, "contract definition: unknown field 'schemaRef' (known fields: keyField, piiFields, validations, dataSubjectField)"},
		{`{"validations":[{"field":"f","type":"regex","regex":"x"}]}`, "contract definition: validations[0]: unknown field 'regex' (known fields: field, type, value)"},
		{`{"validations":[1]}`, "contract definition: validations[0]: must be a JSON object"},
		{`{"validations":[{"field":"f","type":"regex","value":5}]}`, "contract definition: validations[0]: value must be a string"},
		{`{"validations":{}}`, "contract definition: validations: must be an array"},
		{`{"piiFields":{"a":1.5}}`, "contract definition: piiFields: 'a' level must be an integer, got 1.5"},
		{`{"piiFields":[]}`, "contract definition: piiFields: must be an object mapping field paths to consent levels"},
		{`{"piiFields":{"a":"1"}}`, `contract definition: piiFields: 'a' level must be an integer, got "1"`},
		{`{"keyField":5}`, "contract definition: keyField: must be a string"},
		{`[]`, "contract definition: must be a JSON object"},
		{`null`, "contract definition: must be a JSON object"},
		{`{`, "contract definition: invalid JSON: unexpected EOF"},
		{`{} {}`, "contract definition: invalid JSON: unexpected data after the object"},
		{``, "contract definition: invalid JSON: EOF"},
	}
	for _, tc := range cases {
		_, err := engine.ParseContractDefinition([]byte(tc.in))
		if err == nil {
			t.Errorf("%s: parsed", tc.in)
			continue
		}
		if err.Error() != tc.msg || !errors.Is(err, engine.ErrInvalidContract) {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, err, tc.msg)
		}
	}
}
