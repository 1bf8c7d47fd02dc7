package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

func TestDecodeLenientJSONClickstream(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/clickstream/1.0.0")
	fromJSON, err := s.Decode(engine.JSON, []byte(clickstreamJSON))
	if err != nil {
		t.Fatal(err)
	}
	fromAvro, err := s.Decode(engine.AvroBinary, marshal(t, s, sampleClickstream()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromJSON.Encode(nil), fromAvro.Encode(nil)) {
		t.Error("JSON and Avro binary decode to different events")
	}
	if got := string(fromJSON.AppendJSON(nil)); got != clickstreamRendered {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, clickstreamRendered)
	}
}

// unionSchema exercises unions, defaults and the types whose JSON form is a
// string.
var unionSchema = avroRecord(avroMeta(nil),
	`{"name":"u","type":["null","int","long","double","string","boolean",{"type":"array","items":"int"},{"type":"enum","name":"Colour","symbols":["RED","GREEN"]}],"default":null}`,
	`{"name":"inner","type":["null",{"type":"record","name":"Inner","fields":[{"name":"x","type":["null","string"]}]}],"default":null}`,
	`{"name":"m","type":["null",{"type":"map","values":"string"}],"default":null}`,
	`{"name":"level","type":"int","default":3}`,
	`{"name":"tags","type":{"type":"array","items":"string"},"default":["a","b"]}`,
	`{"name":"first","type":["string","null"],"default":"x"}`,
	`{"name":"by","type":["null","bytes"],"default":null}`,
	`{"name":"fx","type":["null",{"type":"fixed","name":"Two","size":2}],"default":null}`,
	`{"name":"fl","type":["null","float"],"default":null}`,
	`{"name":"e","type":["null","Colour"],"default":null}`,
)

const metaJSON = `"strmMeta":{"eventContractRef":"t/c/1.0.0","consentLevels":[]}`

const metaRendered = `"strmMeta":{"eventContractRef":"t/c/1.0.0","nonce":null,"timestamp":null,"keyLink":null,"billingId":null,"consentLevels":[]}`

func TestDecodeLenientJSONAccepts(t *testing.T) {
	s := compileAvro(t, unionSchema)
	defaults := `"inner":null,"m":null,"level":3,"tags":["a","b"],"first":"x","by":null,"fx":null,"fl":null,"e":null`
	cases := []struct{ name, in, out string }{
		{"all omitted", `{` + metaJSON + `}`, `{` + metaRendered + `,"u":null,` + defaults + `}`},
		{"bare int", `{` + metaJSON + `,"u":5}`, `{` + metaRendered + `,"u":5,` + defaults + `}`},
		{"bare long", `{` + metaJSON + `,"u":3000000000}`, `{` + metaRendered + `,"u":3000000000,` + defaults + `}`},
		{"bare double", `{` + metaJSON + `,"u":1.5e1}`, `{` + metaRendered + `,"u":15,` + defaults + `}`},
		{"bare string", `{` + metaJSON + `,"u":"RED"}`, `{` + metaRendered + `,"u":"RED",` + defaults + `}`},
		{"bare boolean", `{` + metaJSON + `,"u":false}`, `{` + metaRendered + `,"u":false,` + defaults + `}`},
		{"bare array", `{` + metaJSON + `,"u":[1,2]}`, `{` + metaRendered + `,"u":[1,2],` + defaults + `}`},
		{"explicit null", `{` + metaJSON + `,"u":null}`, `{` + metaRendered + `,"u":null,` + defaults + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := s.Decode(engine.JSON, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(ev.AppendJSON(nil)); got != tc.out {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, tc.out)
			}
		})
	}

	// Wrapped union values decode like their bare form, branch included.
	same := []struct{ name, wrapped, bare string }{
		{"int", `"u":{"int":5}`, `"u":5`},
		{"long", `"u":{"long":5}`, ``},
		{"double", `"u":{"double":5}`, ``},
		{"string", `"u":{"string":"x"}`, `"u":"x"`},
		{"enum full name", `"u":{"test.Colour":"GREEN"}`, ``},
		{"enum short name", `"u":{"Colour":"GREEN"}`, `"u":{"test.Colour":"GREEN"}`},
		{"array", `"u":{"array":[1]}`, `"u":[1]`},
		{"record short name", `"inner":{"Inner":{"x":"y"}}`, `"inner":{"x":"y"}`},
		{"record full name", `"inner":{"test.Inner":{"x":{"string":"y"}}}`, `"inner":{"x":"y"}`},
		{"map", `"m":{"map":{"k":"v"}}`, `"m":{"k":"v"}`},
		{"map with one key that is not a branch", `"m":{"k":"v"}`, `"m":{"map":{"k":"v"}}`},
		{"null wrapped", `"u":{"null":null}`, `"u":null`},
		{"bytes", `"by":{"bytes":"\u00ff\u0000"}`, `"by":"ÿ\u0000"`},
		{"fixed", `"fx":"ab"`, `"fx":{"test.Two":"ab"}`},
		{"float", `"fl":{"float":"NaN"}`, `"fl":"NaN"`},
		{"float infinity", `"fl":"-Infinity"`, `"fl":{"float":"-Infinity"}`},
		{"enum", `"e":"RED"`, `"e":{"Colour":"RED"}`},
		{"whitespace", " {\n\t\"u\" :\r { \"int\" : 5 } , " + metaJSON + " } \n", `"u":5`},
	}
	for _, tc := range same {
		t.Run("wrapped "+tc.name, func(t *testing.T) {
			a, err := s.Decode(engine.JSON, []byte(`{`+metaJSON+`,`+tc.wrapped+`}`))
			if strings.HasPrefix(tc.wrapped, " ") {
				a, err = s.Decode(engine.JSON, []byte(tc.wrapped))
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.bare == "" {
				return
			}
			b, err := s.Decode(engine.JSON, []byte(`{`+metaJSON+`,`+tc.bare+`}`))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Encode(nil), b.Encode(nil)) {
				t.Errorf("%s and %s decode differently: %x, %x", tc.wrapped, tc.bare, a.Encode(nil), b.Encode(nil))
			}
		})
	}

	// The wrapped long must keep the long branch: int 5 and long 5 encode differently.
	a, _ := s.Decode(engine.JSON, []byte(`{`+metaJSON+`,"u":{"long":5}}`))
	b, _ := s.Decode(engine.JSON, []byte(`{`+metaJSON+`,"u":5}`))
	if bytes.Equal(a.Encode(nil), b.Encode(nil)) {
		t.Error("wrapped long decoded as int")
	}
}

func TestDecodeLenientJSONStrings(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, "streammachine/demo/1.0.2")
	cases := map[string]string{
		`"plain"`:                "plain",
		`"\u00e9t\u00E9"`:        "été",
		`"\ud83d\ude00!"`:        "😀!",
		`"a\"b\\c\/d\b\f\n\r\t"`: "a\"b\\c/d\b\f\n\r\t",
		`"é直接"`:                  "é直接",
		`""`:                     "",
	}
	for in, want := range cases {
		ev, err := s.Decode(engine.JSON, []byte(`{"strmMeta":{"eventContractRef":"x","consentLevels":[]},"consistentValue":`+in+`}`))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got, _, _ := ev.GetStringPath("consistentValue"); got != want {
			t.Errorf("%s decoded as %q, want %q", in, got, want)
		}
	}
}

func TestDecodeLenientJSONRejects(t *testing.T) {
	cat := loadCatalogue(t)
	click := cat.schema(t, "streammachine/clickstream/1.0.0")
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	union := compileAvro(t, unionSchema)
	recursive := compileAvro(t, avroRecord(avroMeta(nil), `{"name":"node","type":["null",{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}]}`))

	cs := func(old, new string) string {
		if !strings.Contains(clickstreamJSON, old) {
			t.Fatalf("%q not in clickstreamJSON", old)
		}
		return strings.Replace(clickstreamJSON, old, new, 1)
	}
	dm := func(fields string) string {
		return `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":[1]},` + fields + `}`
	}
	un := func(fields string) string { return `{` + metaJSON + `,` + fields + `}` }
	off := func(s, at string) int { return strings.Index(s, at) }

	deep := `{` + metaJSON + `,"node":` + strings.Repeat(`{"next":`, 70) + `null` + strings.Repeat(`}`, 70) + `}`
	deepPath := strings.TrimSuffix("node/"+strings.Repeat("next/", 63), "/")

	cases := []struct {
		name  string
		s     *engine.Schema
		body  string
		field string
		msg   string
	}{
		{"wrong type", click, cs(`"conversion":0`, `"conversion":"1"`), "conversion", "field 'conversion': expected int, got string"},
		{"fraction for int", click, cs(`"conversion":0`, `"conversion":1.5`), "conversion", "field 'conversion': expected int, got a number with a fraction or exponent"},
		{"exponent for int", click, cs(`"conversion":0`, `"conversion":1e2`), "conversion", "field 'conversion': expected int, got a number with a fraction or exponent"},
		{"int out of range", click, cs(`"conversion":0`, `"conversion":3000000000`), "conversion", "field 'conversion': expected int, got a number out of range"},
		{"null for string", click, cs(`"url":"https://shop.example.com/products/hiking-boots?size=43&colour=brown"`, `"url":null`), "url", "field 'url': expected string, got null"},
		{"object for string", click, cs(`"eventType":"product_view"`, `"eventType":{}`), "eventType", "field 'eventType': expected string, got object"},
		{"string for array", click, cs(`"abTests":["checkout-v2","banner-b"]`, `"abTests":"checkout-v2"`), "abTests", "field 'abTests': expected array of string, got string"},
		{"wrong item type", click, cs(`"consentLevels":[0,1]`, `"consentLevels":[0,"1"]`), "strmMeta/consentLevels[1]", "field 'strmMeta/consentLevels[1]': expected int, got string"},
		{"unknown field", click, cs(`"conversion":0`, `"conversion":0,"colour":"red"`), "colour", "field 'colour' is not in the schema"},
		{"unknown nested field", click, cs(`{"id":"customer-0042"}`, `{"id":"customer-0042","name":"Ann"}`), "customer/name", "field 'customer/name' is not in the schema"},
		{"duplicate field", click, cs(`"conversion":0`, `"conversion":0,"conversion":1`), "conversion", "field 'conversion' appears more than once"},
		{"missing field", click, cs(`"eventType":"product_view",`, ``), "eventType", "field 'eventType' is missing (it is not nullable and has no default)"},
		{"missing nested field", click, cs(`{"id":"customer-0042"}`, `{}`), "customer/id", "field 'customer/id' is missing (it is not nullable and has no default)"},
		{"missing consentLevels", click, cs(`,"consentLevels":[0,1]`, ``), "strmMeta/consentLevels", "field 'strmMeta/consentLevels' is missing (it is not nullable and has no default)"},
		{"nullable given a number", demo, dm(`"consistentValue":"s","uniqueIdentifier":5`), "uniqueIdentifier", "field 'uniqueIdentifier': expected string, got number"},
		{"wrapped given wrong type", demo, dm(`"consistentValue":"s","uniqueIdentifier":{"string":5}`), "uniqueIdentifier", "field 'uniqueIdentifier': expected string, got number"},
		{"wrapped with unknown branch", demo, dm(`"consistentValue":"s","uniqueIdentifier":{"int":5}`), "uniqueIdentifier", "field 'uniqueIdentifier': expected string, got object"},
		{"union without the type", union, un(`"u":{"a":1}`), "u", "field 'u': expected one of [null, int, long, double, string, boolean, array of int, enum Colour], got object"},
		{"nullable record wrong field", union, un(`"inner":{"y":1}`), "inner/y", "field 'inner/y' is not in the schema"},
		{"unknown enum symbol", union, un(`"e":"BLUE"`), "e", "field 'e': expected enum Colour (one of RED, GREEN), got 'BLUE'"},
		{"fixed wrong size", union, un(`"fx":"abc"`), "fx", "field 'fx': expected fixed Two of 2 bytes, got 3"},
		{"bytes above U+00FF", union, un(`"by":"\u0100"`), "by", "field 'by': expected bytes, got a string with characters above U+00FF"},
		{"float string", union, un(`"fl":"fast"`), "fl", "field 'fl': expected float, got string"},
		{"float out of range", union, un(`"fl":1e40`), "fl", "field 'fl': expected float, got a number out of range"},
		// Syntax errors name no field: the body is refused as a whole, at the
		// byte where it stops being JSON.
		{"invalid UTF-8", demo, dm("\"consistentValue\":\"a\xffb\""), "", fmt.Sprintf("invalid JSON at byte %d: invalid UTF-8 in string", off(dm("\"consistentValue\":\"a\xffb\""), "\xff"))},
		{"invalid UTF-8 in key", demo, dm("\"consistentValue\":\"s\",\"\xff\":1"), "", fmt.Sprintf("invalid JSON at byte %d: invalid UTF-8 in string", off(dm("\"consistentValue\":\"s\",\"\xff\":1"), "\xff"))},
		{"lone surrogate", demo, dm(`"consistentValue":"a\ud800b"`), "", fmt.Sprintf("invalid JSON at byte %d: invalid \\u escape in string: unpaired surrogate", off(dm(`"consistentValue":"a\ud800b"`), `\ud800`))},
		{"low surrogate first", demo, dm(`"consistentValue":"\udc00\ud800"`), "", fmt.Sprintf("invalid JSON at byte %d: invalid \\u escape in string: unpaired surrogate", off(dm(`"consistentValue":"\udc00\ud800"`), `\udc00`))},
		{"bad hex escape", demo, dm(`"consistentValue":"\u12g4"`), "", fmt.Sprintf("invalid JSON at byte %d: invalid \\u escape in string (expected 4 hex digits)", off(dm(`"consistentValue":"\u12g4"`), `\u12g4`))},
		{"bad escape", demo, dm(`"consistentValue":"\x"`), "", fmt.Sprintf("invalid JSON at byte %d: invalid escape character 'x' in string", off(dm(`"consistentValue":"\x"`), `\x`))},
		{"control character", demo, dm("\"consistentValue\":\"a\nb\""), "", fmt.Sprintf("invalid JSON at byte %d: invalid character '\\n' in string (control characters must be escaped)", off(dm("\"consistentValue\":\"a\nb\""), "\n"))},
		{"trailing garbage", click, clickstreamJSON + "x", "", fmt.Sprintf("invalid JSON at byte %d: invalid character 'x' after the event (a body holds one JSON value)", len(clickstreamJSON))},
		{"NUL after the event", click, clickstreamJSON + "\x00", "", fmt.Sprintf("invalid JSON at byte %d: invalid character '\\x00' after the event (a body holds one JSON value)", len(clickstreamJSON))},
		{"only NUL", click, "\x00", "", "invalid JSON at byte 0: invalid character '\\x00', expected a value"},
		{"two events", click, clickstreamJSON + "\n" + clickstreamJSON, "", fmt.Sprintf("invalid JSON at byte %d: invalid character '{' after the event (a body holds one JSON value)", len(clickstreamJSON)+1)},
		{"truncated", click, clickstreamJSON[:len(clickstreamJSON)-1], "", fmt.Sprintf("invalid JSON at byte %d: unexpected end of input, expected ',' or '}' after a property value", len(clickstreamJSON)-1)},
		{"truncated in string", click, clickstreamJSON[:off(clickstreamJSON, "product_view")], "", fmt.Sprintf("invalid JSON at byte %d: unexpected end of input in string (expected '\"')", off(clickstreamJSON, "product_view"))},
		{"empty", click, "", "", "invalid JSON at byte 0: unexpected end of input, expected a value (the body is empty)"},
		{"only whitespace", click, " \n\t", "", "invalid JSON at byte 3: unexpected end of input, expected a value (the body is only whitespace)"},
		{"not an object", click, `[1]`, "", "expected record ClickstreamEvent, got array"},
		{"bare string", click, `"x"`, "", "expected record ClickstreamEvent, got string"},
		{"not JSON", click, `<xml/>`, "", "invalid JSON at byte 0: invalid character '<', expected a value"},
		{"bad literal", demo, dm(`"consistentValue":"s","uniqueIdentifier":nul`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character '}' in literal null (expected 'l')", off(dm(`"consistentValue":"s","uniqueIdentifier":nul`), "nul")+3)},
		{"bad number", click, cs(`"conversion":0`, `"conversion":-`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character ',' in number (expected a digit)", off(clickstreamJSON, `:0,"abTests"`)+2)},
		{"leading zero", click, cs(`"conversion":0`, `"conversion":01`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character '1', expected ',' or '}' after a property value", off(clickstreamJSON, `:0,"abTests"`)+2)},
		{"missing colon", click, cs(`"conversion":0`, `"conversion" 0`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character '0', expected ':' after a property name", off(clickstreamJSON, `:0,"abTests"`)+1)},
		{"unquoted key", click, cs(`"conversion":0`, `conversion:0`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character 'c', expected a property name in double quotes", off(clickstreamJSON, `"conversion"`))},
		{"trailing comma", click, cs(`"banner-b"]`, `"banner-b",]`), "", fmt.Sprintf("invalid JSON at byte %d: invalid character ']', expected a value", off(clickstreamJSON, `"banner-b"]`)+11)},
		// Syntax comes first: what the schema would refuse before the
		// decoder reaches the broken byte is not reported.
		{"unknown field then truncated", demo, `{"a":`, "", "invalid JSON at byte 5: unexpected end of input, expected a value"},
		{"missing fields then garbage", demo, `{} x`, "", "invalid JSON at byte 3: invalid character 'x' after the event (a body holds one JSON value)"},
		{"word for record", demo, `not json`, "", "invalid JSON at byte 1: invalid character 'o' in literal null (expected 'u')"},
		{"truncated literal", demo, `tru`, "", "invalid JSON at byte 3: unexpected end of input in literal true (expected 'e')"},
		{"too deep then broken", recursive, deep[:len(deep)-1] + "]", "", fmt.Sprintf("invalid JSON at byte %d: invalid character ']', expected ',' or '}' after a property value", len(deep)-1)},
		{"too deep, well-formed", recursive, deep, deepPath, "field '" + deepPath + "': nesting exceeds 64 levels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Decode(engine.JSON, []byte(tc.body))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			want := "event does not match schema '" + tc.s.Ref().String() + "': " + tc.msg
			if msg := rejectMsg(t, err, engine.ErrInvalidEvent); msg != want {
				t.Errorf("error:\n got %q\nwant %q", msg, want)
			}
			var re *engine.RejectError
			if errors.As(err, &re); re.Field != tc.field || re.Rule != engine.RuleDecode {
				t.Errorf("Field, Rule = %q, %q; want %q", re.Field, re.Rule, tc.field)
			}
		})
	}
}
