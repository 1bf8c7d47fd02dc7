package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// clickOf is a clickstream event of an event type.
func clickOf(session, eventType string, consent ...int) string {
	return strings.Replace(click(session, "c-"+session, "https://shop.example/p", consent...), `"eventType": "view"`, `"eventType": "`+eventType+`"`, 1)
}

// A derived stream with an emit filter shows only the events whose field
// has one of the values, wherever it is read; filters on fields it cannot
// read are refused at creation with the reason.
func TestEmitFilter(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	src := sb.CreateStream("clicks")
	checkout := sb.CreateStreamWith(&v1.CreateStreamRequest{Name: "clicks-checkout", DerivedFrom: "clicks", Levels: []int32{1}, EmitFilter: "eventType=checkout,purchase"})
	if checkout.EmitFilter != "eventType=checkout,purchase" {
		t.Errorf("emit filter returned as %q", checkout.EmitFilter)
	}
	var events []string
	for i, typ := range []string{"view", "checkout", "view", "purchase", "checkout"} {
		events = append(events, clickOf(fmt.Sprint("s", i), typ, 0, 1))
	}
	events = append(events, clickOf("s5", "checkout", 0)) // consent drops it first
	mustAccept(t, src.Send("streammachine/clickstream/1.0.0", events...))
	var got []string
	for _, r := range checkout.Read() {
		f := fields(t, r.Json)
		got = append(got, fmt.Sprintf("%d %s %s", r.Offset, f["eventType"], f["producerSessionId"]))
	}
	if want := "1 checkout s1|3 purchase s3|4 checkout s4"; strings.Join(got, "|") != want {
		t.Errorf("derived stream shows %q, want %q", strings.Join(got, "|"), want)
	}
	// A PII field the stream decrypts may be filtered on, with its
	// plaintext.
	bySession := sb.CreateStreamWith(&v1.CreateStreamRequest{Name: "s2-only", DerivedFrom: "clicks", Levels: []int32{1}, EmitFilter: "producerSessionId=s2"})
	if recs := bySession.Read(); len(recs) != 1 || recs[0].Offset != 2 {
		t.Errorf("filter on a decrypted PII field: %v", recs)
	}

	for _, c := range []struct{ filter, msg string }{
		{"nope=1", "emitFilter: field 'nope' is in the schema of no registered event contract; filter on a field of the events the stream receives"},
		{"producerSessionId=s1", "emitFilter: field 'producerSessionId' is PII of consent level 1 in contract 'streammachine/clickstream/1.0.0', which this stream (CUMULATIVE 0) does not decrypt: it could only compare ciphertext; filter on a field it can read"},
		{"eventType=", `emitFilter: "eventType=" has no values: give field=value[,value...]`},
		{"abTests=a", "emitFilter: field 'abTests' of contract 'streammachine/clickstream/1.0.0' is array; filter on a field with one value (a string, number, boolean or enum)"},
	} {
		_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "x", DerivedFrom: "clicks", Levels: []int32{0}, EmitFilter: c.filter}))
		assertError(t, err, connect.CodeInvalidArgument, c.msg)
	}
	_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "x", EmitFilter: "eventType=checkout"}))
	assertError(t, err, connect.CodeInvalidArgument, "derivedFrom: consent type, levels, masked fields and emit filters are for derived streams; name the source stream to derive from")
}
