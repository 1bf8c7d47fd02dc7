package rpc_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/benchcpu"
	"github.com/strmlocal/strmlocal/strmtest"
)

// avroClicks returns n clickstream events as Avro binary, over sessions
// sessions (one key link each), encoded from JSON by the engine.
func avroClicks(b *testing.B, n, sessions int) [][]byte {
	schemas, _, err := engine.LoadCatalogue(catalog.BuiltinFS())
	if err != nil {
		b.Fatal(err)
	}
	var s *engine.Schema
	for _, sc := range schemas {
		if sc.Ref().String() == "streammachine/clickstream/1.0.0" {
			s = sc
		}
	}
	out := make([][]byte, n)
	for i := range out {
		js := click(fmt.Sprintf("session-%06d", i%sessions), fmt.Sprintf("customer-%06d", i%sessions), fmt.Sprintf("https://shop.example/product/%d", i), 0, 1)
		ev, err := s.Decode(engine.JSON, []byte(js))
		if err != nil {
			b.Fatal(err)
		}
		out[i] = ev.Encode(nil)
	}
	return out
}

// BenchmarkIngestConnect measures durable ingest through the Connect API
// on loopback, on a real data dir: batches of 256 clickstream events (Avro
// binary; 2 validations, PII encrypted), from 8 concurrent producers.
func BenchmarkIngestConnect(b *testing.B) {
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
	src := sb.CreateStream("clicks")
	const batch, producers = 256, 8
	events := avroClicks(b, batch*16, 1000)
	var next atomic.Int64
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	start := time.Now()
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				j := int(i) % 16 * batch
				res, err := src.Events.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
					SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: events[j : j+batch],
				}))
				if err != nil || !res.Msg.Results[batch-1].Accepted {
					b.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
	cpu(b.N * batch)
}

// BenchmarkReadDerived measures reading a derived stream (GRANULAR {0,1}:
// every event kept, 2 PII fields decrypted) through the Connect API.
func BenchmarkReadDerived(b *testing.B) {
	sb := strmtest.New(b)
	sendClicks(b, sb, 10000, 1000)
	derived := sb.CreateDerived("clicks", 0, 1)
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	for range b.N {
		// Pages stop at 4 MiB as well as at the limit: read on to the end.
		readStream(b, derived, 10000, 10000, nil)
	}
	reportEvents(b, 10000)
	cpu(b.N * 10000)
}

// BenchmarkPostEvent measures POST /event as the STRM drivers use it: 64
// concurrent producers, each on its own HTTP/1.1 keep-alive connection,
// one JSON demo event per request, each answered 204 only once durable
// (real data dir). It reports events/s and the 99th percentile of request
// latency.
//
// The producers write prepared requests on raw connections and read the
// responses with http.ReadResponse, as a load generator such as wrk does:
// client and server share the 2 cores, and net/http's Transport (two
// goroutines and several channel hand-offs per request) would spend more
// CPU than the server it measures.
func BenchmarkPostEvent(b *testing.B) {
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
	src := sb.CreateStream("demo")
	postEvents(b, sb.Server.Addr().String(), src.Token())
}

// BenchmarkPostEventFloor is BenchmarkPostEvent's baseline: the same
// producers and requests against a bare net/http server whose handler reads
// the body and answers 204. It is what HTTP costs on this machine.
func BenchmarkPostEventFloor(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	postEvents(b, ln.Addr().String(), strings.Repeat("t", 200)) // about a real token's length
}

// postEvents sends b.N demo events with 64 keep-alive producers, one JSON
// event per POST /event, and reports events/s and the p99 latency.
func postEvents(b *testing.B, addr, token string) {
	const producers = 64
	reqs := make([][]byte, 1000)
	for i := range reqs {
		body := demo(fmt.Sprintf("session-%d", i), i%4)
		reqs[i] = fmt.Appendf(nil, "POST /event HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nStrm-Schema-Ref: %s\r\n"+
			"Strm-Serialization-Type: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s",
			addr, token, demoSchema, len(body), body)
	}
	lat := make([][]time.Duration, producers)
	var next atomic.Int64
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	start := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				if _, err := conn.Write(reqs[i%1000]); err != nil {
					b.Error(err)
					return
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[p] = append(lat[p], time.Since(t))
				if res.StatusCode != http.StatusNoContent {
					b.Errorf("status %d", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	cpu(b.N)
}
