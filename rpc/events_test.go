package rpc_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// storedDetail is the SendEventStreamResponse an error carries.
func storedDetail(t *testing.T, err error) *v1.SendEventStreamResponse {
	t.Helper()
	ce, ok := err.(*connect.Error)
	if !ok {
		t.Fatalf("error %v is not a connect error", err)
	}
	for _, d := range ce.Details() {
		m, derr := d.Value()
		if derr != nil {
			t.Fatal(derr)
		}
		if r, ok := m.(*v1.SendEventStreamResponse); ok {
			return r
		}
	}
	t.Fatalf("error %v carries no SendEventStreamResponse", err)
	return nil
}

// A SendEventStream whose third batch fails has stored the first two: the
// error says why, and its detail says what was stored.
func TestSendEventStreamReportsStoredBatches(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			sb := strmtest.New(t)
			st := sb.CreateStream("demo")
			events := strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL,
				append(p.opts, connect.WithInterceptors(client.BasicAuth(st.Credentials.ClientId, st.Credentials.ClientSecret)))...)
			cs := events.SendEventStream(context.Background())
			ev := []byte(demo("s", 1))
			for _, m := range []*v1.SendEventStreamRequest{
				{Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{ev, ev}},
				{Events: [][]byte{ev, []byte("{")}},
				{SchemaRef: "acme/nope/1.0.0", Events: [][]byte{ev}},
				{SchemaRef: demoSchema, Events: [][]byte{ev}},
			} {
				if err := cs.Send(m); err != nil {
					break // the server has answered: CloseAndReceive tells
				}
			}
			_, err := cs.CloseAndReceive()
			assertError(t, err, connect.CodeNotFound, "schema acme/nope/1.0.0 not found")
			want := &v1.SendEventStreamResponse{
				Accepted: 3,
				Rejections: []*v1.IndexedVerdict{{Index: 3, Verdict: &v1.Verdict{
					Error: "event does not match schema 'streammachine/demo/1.0.2': invalid JSON: unexpected end of input", Rule: "decode"}}},
				Batches: 2,
				Offsets: []*v1.OffsetRange{{First: 0, Count: 3}},
			}
			if got := storedDetail(t, err); !proto.Equal(got, want) {
				t.Errorf("stored %v\nwant   %v", got, want)
			}
			if recs := st.Read(); len(recs) != 3 {
				t.Errorf("%d records stored, want 3", len(recs))
			}
		})
	}
}
