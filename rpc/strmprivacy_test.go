package rpc_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// Today's STRM drivers name the built-in demo and clickstream schemas and
// contracts under the strmprivacy handle; the catalogue has them as copies
// of the streammachine entries, so such events are accepted and encrypted
// alike.
func TestPostEventStrmPrivacyRefs(t *testing.T) {
	sb := strmtest.New(t)
	st := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	token := st.Token()
	send := func(schema, body string, ser string) httpReply {
		return postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
			"Authorization": "Bearer " + token, "Strm-Schema-Ref": schema, "Strm-Serialization-Type": ser,
		}, []byte(body))
	}
	sm := demo("s-1", 2)
	sp := strings.Replace(sm, "streammachine/example/1.3.0", "strmprivacy/example/1.3.0", 1)
	spAvro := avroDemo("strmprivacy/example/1.3.0", []int64{2}, ptr("unique-s-1"), ptr("s-1"), ptr("sensitive-s-1"), ptr("plain-s-1"))
	ok := httpReply{204, "", ""}
	for _, tc := range []struct {
		name, schema, body, ser string
		want                    httpReply
	}{
		{"streammachine", demoSchema, sm, "application/json", ok},
		{"strmprivacy JSON", "strmprivacy/demo/1.0.2", sp, "application/json", ok},
		{"strmprivacy Avro", "strmprivacy/demo/1.0.2", string(spAvro), "application/x-avro-binary", ok},
		{"strmprivacy clickstream", "strmprivacy/clickstream/1.0.0",
			strings.Replace(click("s-2", "c-2", "https://shop.example/a", 0), "streammachine/clickstream/1.0.0", "strmprivacy/clickstream/1.0.0", 1), "application/json", ok},
		// A contract belongs to its own schema: the copies do not mix.
		{"streammachine contract, strmprivacy schema", "strmprivacy/demo/1.0.2", sm, "application/json",
			httpReply{400, "text/plain; charset=utf-8", "event contract 'streammachine/example/1.3.0' is for schema 'streammachine/demo/1.0.2', not for the event's schema 'strmprivacy/demo/1.0.2'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(tc.schema, tc.body, tc.ser); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}

	recs := st.Read()
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	wantRefs := [][2]string{
		{"streammachine/demo/1.0.2", "streammachine/example/1.3.0"},
		{"strmprivacy/demo/1.0.2", "strmprivacy/example/1.3.0"},
		{"strmprivacy/demo/1.0.2", "strmprivacy/example/1.3.0"},
		{"strmprivacy/clickstream/1.0.0", "strmprivacy/clickstream/1.0.0"},
	}
	for i, r := range recs {
		if got := [2]string{r.SchemaRef, r.EventContractRef}; got != wantRefs[i] {
			t.Errorf("offset %d: refs %v, want %v", r.Offset, got, wantRefs[i])
		}
	}
	// The same PII fields are encrypted, with the same key (same key field
	// value, same stream, same period), to the same ciphertext.
	a, b, c := fields(t, recs[0].Json), fields(t, recs[1].Json), fields(t, recs[2].Json)
	for _, f := range []string{"uniqueIdentifier", "consistentValue", "someSensitiveValue"} {
		if !isCiphertext(a[f]) || a[f] != b[f] || b[f] != c[f] {
			t.Errorf("%s: %v, %v, %v", f, a[f], b[f], c[f])
		}
	}
	if a["notSensitiveValue"] != "plain-s-1" || b["notSensitiveValue"] != "plain-s-1" || recs[0].KeyLink != recs[1].KeyLink {
		t.Errorf("not PII or key link differ: %s\n%s", recs[0].Json, recs[1].Json)
	}
	click := fields(t, recs[3].Json)
	if !isCiphertext(click["producerSessionId"]) || !isCiphertext(click["customer"].(map[string]any)["id"]) {
		t.Errorf("clickstream PII not encrypted: %s", recs[3].Json)
	}
	// A derived stream decrypts the strmprivacy events by their contract.
	for _, r := range derived.Read()[:3] {
		if f := fields(t, r.Json); f["consistentValue"] != "s-1" || f["uniqueIdentifier"] != "unique-s-1" || !isCiphertext(f["someSensitiveValue"]) {
			t.Errorf("derived offset %d: %s", r.Offset, r.Json)
		}
	}
}
