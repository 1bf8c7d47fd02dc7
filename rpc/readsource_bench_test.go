package rpc_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkReadSource measures reading a source stream through the Connect
// API: 10,000 clickstream events over 1000 key links, PII as stored. Each
// record with PII ciphertext has its key looked up (a cache hit in keys) to
// say whether it is shredded.
func BenchmarkReadSource(b *testing.B) {
	sb := strmtest.New(b)
	src := sb.CreateStream("clicks")
	events := avroClicks(b, 10000, 1000)
	for i := 0; i < len(events); i += 1000 {
		if _, err := src.Events.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
			SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: events[i : i+1000],
		})); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		n := 0
		for from := uint64(0); from < 10000; {
			res, err := src.Egress.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
			if err != nil {
				b.Fatalf("read: %v", err)
			}
			n += len(res.Msg.Records)
			from = res.Msg.NextOffset
		}
		if n != 10000 {
			b.Fatalf("read %d events, want 10000", n)
		}
	}
	b.ReportMetric(float64(b.N*10000)/time.Since(start).Seconds(), "events/s")
}
