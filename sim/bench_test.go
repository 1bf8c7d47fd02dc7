package sim_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/internal/benchcpu"
	"github.com/strmlocal/strmlocal/sim"
	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkSimulateConnect measures `simulate --rate 0 --via connect` end
// to end: the generator, the driver (batches of 256) and durable ingest on
// a real data dir, all on the same cores, as rpc's BenchmarkIngestConnect
// measures ingest of ready-made batches. One op is a batch of 256 events.
//
//   - demo-1000: 1000 sessions, so (like BenchmarkIngestConnect, which
//     reuses 1000) key links are made once and then reused: this is the
//     simulator's own overhead against that benchmark.
//   - clickstream: the web shop as the CLI runs it, minus erasure requests
//     (ForgetDataSubject scans the whole stream on the server, so their
//     cost grows with the stream). Every visitor is a new session, so the
//     server makes a key link (and records two data subjects) about every
//     8 events.
//   - clickstream-h2c: the same over strmtest's h2c client instead of the
//     CLI's HTTP/1.1 keep-alive pool.
func BenchmarkSimulateConnect(b *testing.B) {
	for _, tc := range []struct {
		name, gen string
		cfg       sim.Config
		h2c       bool
	}{
		{name: "demo-1000", gen: "demo", cfg: sim.Config{Seed: 1, Sessions: 1000}},
		{name: "clickstream", gen: "clickstream", cfg: sim.Config{Seed: 1, Forgets: -1}},
		{name: "clickstream-h2c", gen: "clickstream", cfg: sim.Config{Seed: 1, Forgets: -1}, h2c: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
			st := sb.CreateStream("clicks")
			hc := sim.NewHTTPClient(4)
			if tc.h2c {
				hc = sb.HTTPClient
			}
			b.Cleanup(hc.CloseIdleConnections)
			events := strmlocalv1connect.NewEventServiceClient(hc, sb.URL,
				connect.WithInterceptors(strmtest.BasicAuth(st.Credentials.ClientId, st.Credentials.ClientSecret)))
			defs, err := sim.Definitions(context.Background(), sb.Schemas, tc.gen)
			if err != nil {
				b.Fatal(err)
			}
			gen, err := sim.New(tc.gen, tc.cfg, defs)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := benchcpu.Start(b)
			sum, err := sim.Run(context.Background(), gen, &sim.ConnectSender{Events: events}, &sim.ConnectForgetter{Keys: sb.Keys},
				sim.Options{Count: b.N * 256})
			if err != nil {
				b.Fatal(err)
			}
			if sum.Accepted != int64(b.N*256) {
				b.Fatalf("accepted %d of %d", sum.Accepted, b.N*256)
			}
			b.ReportMetric(sum.Rate(), "events/s")
			cpu(b.N * 256)
		})
	}
}

// BenchmarkIngestPremade is the control for the clickstream case above:
// the same events, made before the timer starts, sent as rpc's
// BenchmarkIngestConnect sends its batches (8 producers, SendEvents of
// 256, strmtest's client). The gap between the two is the simulator's
// cost; the gap between this and BenchmarkIngestConnect is what the
// workload costs the server (new key links, data subjects).
func BenchmarkIngestPremade(b *testing.B) {
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
	st := sb.CreateStream("clicks")
	defs, err := sim.Definitions(context.Background(), sb.Schemas, "clickstream")
	if err != nil {
		b.Fatal(err)
	}
	gen, err := sim.New("clickstream", sim.Config{Seed: 1, Forgets: -1}, defs)
	if err != nil {
		b.Fatal(err)
	}
	batches := make([][][]byte, b.N)
	for i := range batches {
		for range 256 {
			var e sim.Event
			if err := gen.Next(&e); err != nil {
				b.Fatal(err)
			}
			batches[i] = append(batches[i], e.Body)
		}
	}
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				res, err := st.Events.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
					SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: batches[i]}))
				if err != nil || !res.Msg.Results[255].Accepted {
					b.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*256)/time.Since(start).Seconds(), "events/s")
}
