package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strmlocal/strmlocal/engine"
)

// syntaxOf decodes body as JSON and reports whether it was refused as
// invalid JSON (rather than accepted, or refused by the schema).
func syntaxOf(t *testing.T, s *engine.Schema, body []byte) (refused bool, msg string) {
	t.Helper()
	_, err := s.Decode(engine.JSON, body)
	if err == nil {
		return false, ""
	}
	return strings.Contains(err.Error(), "': invalid JSON at byte "), err.Error()
}

// comparable reports whether encoding/json's verdict on body is the one
// the engine must give: the engine also refuses invalid UTF-8 and unpaired
// surrogate escapes, which encoding/json lets through.
func comparable(body []byte) bool {
	return utf8.Valid(body) && !strings.Contains(string(body), `\u`)
}

// TestSyntaxAgreesWithEncodingJSON: every body is judged on its syntax
// first, so a body is refused as invalid JSON exactly when encoding/json
// finds it not valid, whatever its schema would say. Each sample is cut at
// every byte and has every byte replaced by a few others.
func TestSyntaxAgreesWithEncodingJSON(t *testing.T) {
	cat := loadCatalogue(t)
	demo := cat.schema(t, "streammachine/demo/1.0.2")
	sensor := cat.schema(t, "strmlocal/sensor-json/1.0.0")
	samples := []string{
		clickstreamJSON,
		sensorJSON,
		`{"a":[1,-2.5e3,true,false,null,"x\"y",{}],"b":{"c":[]}}`,
		` [ 0 , 1E+2 , "" ] `,
	}
	for _, s := range []*engine.Schema{demo, sensor} {
		for _, sample := range samples {
			check := func(body []byte) {
				if !comparable(body) {
					return
				}
				refused, msg := syntaxOf(t, s, body)
				if valid := json.Valid(body); refused == valid {
					t.Fatalf("%s: %q: json.Valid = %v, but the engine said %q", s.Ref(), body, valid, msg)
				}
			}
			for i := range len(sample) + 1 {
				check([]byte(sample[:i]))
			}
			for i := range len(sample) {
				for _, c := range []byte(`x"{}[],: 0-.e\`) {
					b := []byte(sample)
					b[i] = c
					check(b)
				}
			}
		}
	}
}

// FuzzSyntax: as TestSyntaxAgreesWithEncodingJSON, on any input.
func FuzzSyntax(f *testing.F) {
	for _, seed := range []string{clickstreamJSON, sensorJSON, `not json`, `tru`, `{"a":`, `{} x`, `[[[[`, `{"a":1}`} {
		f.Add([]byte(seed))
	}
	cat := loadCatalogue(f)
	schemas := []*engine.Schema{cat.schema(f, "streammachine/demo/1.0.2"), cat.schema(f, "strmlocal/sensor-json/1.0.0")}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !comparable(body) {
			return
		}
		for _, s := range schemas {
			refused, msg := syntaxOf(t, s, body)
			if valid := json.Valid(body); refused == valid {
				t.Fatalf("%s: %q: json.Valid = %v, but the engine said %q", s.Ref(), body, valid, msg)
			}
		}
	})
}
