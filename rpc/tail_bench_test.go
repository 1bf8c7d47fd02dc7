package rpc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkTailLatency measures the time from an append's acknowledgement
// to the delivery of its events to a follower of a derived stream
// (GRANULAR {0,1}: every event kept and decrypted), with a producer sending
// 10 events every millisecond (10k events/s) on a real data dir. It
// reports the 50th and 99th percentiles; an event delivered before its
// acknowledgement arrived counts as 0.
func BenchmarkTailLatency(b *testing.B) {
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
	src := sb.CreateStream("clicks")
	derived := sb.CreateDerived("clicks", 0, 1)
	const batch = 10
	events := avroClicks(b, batch*100, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tail, err := derived.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Follow: true}))
	if err != nil {
		b.Fatal(err)
	}
	n := b.N * batch
	delivered := make([]time.Time, n)
	done := make(chan error, 1)
	go func() {
		seen := 0
		for seen < n && tail.Receive() {
			now := time.Now()
			for _, r := range tail.Msg().Records {
				if int(r.Offset) < n {
					delivered[r.Offset] = now
					seen++
				}
			}
		}
		done <- tail.Err()
	}()
	acked := make([]time.Time, n)
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		j := i % 100 * batch
		res, err := src.Events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
			SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: events[j : j+batch],
		}))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, r := range res.Msg.Results {
			acked[r.Offset] = now
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	lat := make([]time.Duration, n)
	for i := range lat {
		lat[i] = max(delivered[i].Sub(acked[i]), 0)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
	cancel()
	tail.Close()
}
