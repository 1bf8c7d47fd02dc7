package rpc_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// stuckTail starts a Connect tail of stream demo that takes its first
// message and then reads nothing, and sends more events than the HTTP/2
// flow-control windows hold.
func stuckTail(t *testing.T, sb *strmtest.Sandbox) {
	t.Helper()
	st := sb.CreateStream("demo")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tail, err := st.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Stream: "demo", Follow: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !tail.Receive() {
		t.Fatalf("tail: %v", tail.Err())
	}
	// From here on the client reads nothing.
	big := strings.Replace(demo("s", 1), `"plain-s"`, `"`+strings.Repeat("x", 200<<10)+`"`, 1)
	events := make([][]byte, 50) // 10 MB: more than the flow-control windows hold
	for i := range events {
		events[i] = []byte(big)
	}
	sent, err := st.Events.SendEvents(context.Background(), connectReq(&v1.SendEventsRequest{
		Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: events,
	}))
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, sent.Msg.Results)
}

// A Connect tail whose client stops reading is dropped after the write
// timeout, as /ws drops one (it was kept forever).
func TestTailThatStopsReadingIsDropped(t *testing.T) {
	sig := &signal{msg: "tail client not reading: disconnected", ch: make(chan struct{}, 1)}
	sb := strmtest.New(t, strmtest.WithLogger(slog.New(sig)), func(o *rpc.Options) { o.WriteTimeout = 100 * time.Millisecond })
	stuckTail(t, sb)
	select {
	case <-sig.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never gave up on the client")
	}
}

// Close ends a tail whose client stopped reading at once and succeeds (it
// waited out the shutdown grace and failed with "context deadline
// exceeded", which made `strmlocal serve` exit 1 on SIGTERM).
func TestCloseEndsStuckTails(t *testing.T) {
	sig := &signal{msg: "requests still running at shutdown: connections closed", ch: make(chan struct{}, 1)}
	sb := strmtest.New(t, strmtest.WithLogger(slog.New(sig)))
	stuckTail(t, sb)
	sb.HTTPClient.CloseIdleConnections()
	if err := sb.Server.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-sig.ch:
		t.Fatal("Close waited out the shutdown grace")
	default:
	}
}
