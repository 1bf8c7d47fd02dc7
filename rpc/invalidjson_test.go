package rpc_test

import (
	"net/http"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// A JSON body that is not well-formed JSON is refused as invalid JSON, at
// the byte where it breaks, before anything its schema would say about it:
// "not json" used to be "expected record DemoEvent, got null", "tru" a
// boolean, and `{"a":` a field not in the schema.
func TestPostEventInvalidJSON(t *testing.T) {
	sb := strmtest.New(t)
	st := sb.CreateStream("demo")
	token := st.Token()
	const plain = "text/plain; charset=utf-8"
	for _, schema := range []string{demoSchema, "strmlocal/sensor-json/1.0.0"} {
		for _, tc := range []struct{ body, want string }{
			{`not json`, "invalid JSON at byte 1: invalid character 'o' in literal null (expected 'u')"},
			{`tru`, "invalid JSON at byte 3: unexpected end of input in literal true (expected 'e')"},
			{`{"a":`, "invalid JSON at byte 5: unexpected end of input, expected a value"},
			{`{} x`, "invalid JSON at byte 3: invalid character 'x' after the event (a body holds one JSON value)"},
			{`{`, "invalid JSON at byte 1: unexpected end of input, expected a property name in double quotes"},
		} {
			t.Run(schema+"/"+tc.body, func(t *testing.T) {
				got := postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
					"Authorization": "Bearer " + token, "Strm-Schema-Ref": schema, "Strm-Serialization-Type": "application/json",
				}, []byte(tc.body))
				want := httpReply{400, plain, "event does not match schema '" + schema + "': " + tc.want}
				if got != want {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
			})
		}
	}
	if recs := st.Read(); len(recs) != 0 {
		t.Errorf("%d records appended", len(recs))
	}
}
