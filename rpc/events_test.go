package rpc_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/rpc"
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
					Error: "event does not match schema 'streammachine/demo/1.0.2': invalid JSON at byte 1: unexpected end of input, expected a property name in double quotes", Rule: "decode"}}},
				Rejected: 1,
				Batches:  2,
				Offsets:  []*v1.OffsetRange{{First: 0, Count: 3}},
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

// A batch of empty events made an answer 50 times its size: a batch holds
// at most DefaultMaxBatchEvents events, and after 10 events with the same
// verdict the report points at the first.
func TestRejectionReportIsBounded(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	st := sb.CreateStream("demo")
	empty := func(n int) [][]byte { return make([][]byte, n) }
	const why = "event does not match schema 'streammachine/demo/1.0.2': invalid JSON at byte 0: unexpected end of input, expected a value (the body is empty)"
	full := &v1.Verdict{Error: why, Rule: "decode"}
	same := &v1.Verdict{Error: "same as event 0 of the batch", Rule: "decode", SameAs: proto.Uint64(0)}

	_, err := st.Events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
		SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: empty(rpc.DefaultMaxBatchEvents + 1)}))
	assertError(t, err, connect.CodeInvalidArgument, "a batch holds at most 10000 events, this one 10001: send them in smaller batches")
	_, err = sb.Events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{
		SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: empty(rpc.DefaultMaxBatchEvents + 1)}))
	assertError(t, err, connect.CodeInvalidArgument, "a batch holds at most 10000 events, this one 10001: send them in smaller batches")

	const n = rpc.DefaultMaxBatchEvents
	req := &v1.SendEventsRequest{SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: empty(n)}
	sent, err := st.Events.SendEvents(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.Msg.Results) != n {
		t.Fatalf("%d results for %d events", len(sent.Msg.Results), n)
	}
	for i, r := range sent.Msg.Results {
		want := &v1.EventResult{Rejection: full}
		if i >= 10 {
			want = &v1.EventResult{Rejection: same}
		}
		if !proto.Equal(r, want) {
			t.Fatalf("result %d: %v, want %v", i, r, want)
		}
	}
	if in, out := proto.Size(req), proto.Size(sent.Msg); out > 25*in {
		t.Errorf("SendEvents: %d bytes of events answered with %d bytes", in, out)
	}

	valid, err := sb.Events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{
		SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: append(empty(n-1), []byte(demo("s", 1)))}))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range valid.Msg.Verdicts {
		want := full
		switch {
		case i == n-1:
			want = &v1.Verdict{}
		case i >= 10:
			want = same
		}
		if !proto.Equal(v, want) {
			t.Fatalf("verdict %d: %v, want %v", i, v, want)
		}
	}

	// A stream lists the first 10 rejections with a verdict and counts
	// them all.
	cs := st.Events.SendEventStream(ctx)
	for range 3 {
		if err := cs.Send(&v1.SendEventStreamRequest{SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: empty(5000)}); err != nil {
			break
		}
	}
	res, err := cs.CloseAndReceive()
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Msg; m.Rejected != 15000 || m.Accepted != 0 || m.Batches != 3 || len(m.Rejections) != 10 ||
		m.Rejections[9].Index != 9 || !proto.Equal(m.Rejections[9].Verdict, full) {
		t.Errorf("stream report: rejected %d, accepted %d, batches %d, %d listed", m.Rejected, m.Accepted, m.Batches, len(m.Rejections))
	}
}
