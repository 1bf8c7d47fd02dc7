package rpc_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkCloudEventsSink measures a cloudevents-sink delivering a whole
// derived stream (GRANULAR {0,1}: every event kept, 2 PII fields
// decrypted) of 200,000 clickstream events to receivers of the CloudEvents
// SDK on loopback, against its baseline in the same run:
//
//   - read-derived: reading the same stream as BenchmarkReadDerived does,
//     ReadEvents pages of 10,000 through the Connect API;
//   - binary-batch-1: one event per request, binary mode, to the SDK's
//     HTTP client receiver;
//   - batch-100: 100 events per request in the JSON batch format, parsed
//     with the SDK's batch parsing.
//
// Each iteration delivers every event once (a new job with
// includeExistingEvents); the metric is events/s.
func BenchmarkCloudEventsSink(b *testing.B) {
	const total = 200_000
	sb := strmtest.New(b)
	seedClicks(b, sb, total)
	derived := sb.CreateDerived("clicks", 0, 1)
	report := func(b *testing.B) { reportEvents(b, total) }

	b.Run("read-derived", func(b *testing.B) {
		for range b.N {
			readStream(b, derived, total, total, nil)
		}
		report(b)
	})

	// The receivers count what they get.
	var got atomic.Int64
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c, err := cloudevents.NewClientHTTP(cehttp.WithListener(lis))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.StartReceiver(ctx, func(event.Event) { got.Add(1) }) }()
	b.Cleanup(func() { cancel(); <-done })
	batches := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evs, err := cehttp.NewEventsFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.Add(int64(len(evs)))
	}))
	b.Cleanup(batches.Close)
	createConnector(b, sb, "sdk", "http", map[string]any{"url": "http://" + lis.Addr().String() + "/"})
	createConnector(b, sb, "batches", "http", map[string]any{"url": batches.URL})

	deliver := func(b *testing.B, connector string, batch int) {
		for i := range b.N {
			b.StopTimer()
			got.Store(0)
			name := fmt.Sprintf("%s-%d-%d", connector, b.N, i)
			b.StartTimer()
			createJob(b, sb, &v1.Job{Name: name, Kind: "cloudevents-sink", Stream: derived.Name, DataConnector: connector,
				Config: config(b, map[string]any{"batch": batch, "includeExistingEvents": true})})
			for got.Load() < total {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			if n := got.Load(); n != total {
				b.Fatalf("received %d events, want %d", n, total)
			}
			if st := getJob(b, sb, name).Status; st.LastError != "" {
				b.Fatalf("job %s: %v", name, st)
			}
			if _, err := sb.Client.Jobs.DeleteJob(context.Background(), connect.NewRequest(&v1.DeleteJobRequest{Name: name})); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b)
	}
	b.Run("binary-batch-1", func(b *testing.B) { deliver(b, "sdk", 1) })
	b.Run("batch-100", func(b *testing.B) { deliver(b, "batches", 100) })
}
