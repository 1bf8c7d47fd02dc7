package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// forgetBenchEvents is the larger stream size of BenchmarkForget1M:
// STRMLOCAL_BENCH_FORGET_EVENTS, default 100,000 (the figure is for
// 1,000,000; at that size building the streams takes a minute).
func forgetBenchEvents(b *testing.B) int {
	const env = "STRMLOCAL_BENCH_FORGET_EVENTS"
	v := os.Getenv(env)
	if v == "" {
		return 100_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10_000 {
		b.Fatalf("%s=%q: want a number ≥ 10000", env, v)
	}
	return n / 10_000 * 10_000
}

// forgetStream is a source stream of clickstream events on a data dir in
// which every tenth event belongs to one of total/100 target customers, 10
// events each, spread over the whole stream; the other events belong to
// 1000 sessions of 1000 other customers.
type forgetStream struct {
	a       *App
	st      *catalog.Stream
	targets int // target customers; the next one to forget is next
	next    int
}

func forgetClick(session, customer string, i int) []byte {
	return fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0,1]}, "producerSessionId": "%s", "url": "https://shop.example/product/%d", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": ["a"], "customer": {"id": "%s"}}`,
		session, i, customer)
}

func ingestForget(b *testing.B, a *App, st *catalog.Stream, bodies [][]byte) {
	b.Helper()
	res, err := a.Ingest(context.Background(), st, "streammachine/clickstream/1.0.0", engine.JSON, bodies)
	if err != nil {
		b.Fatal(err)
	}
	for j, r := range res {
		if r.Err != nil {
			b.Fatalf("event %d rejected: %v", j, r.Err)
		}
	}
}

func newForgetStream(b *testing.B, dir string, total int) *forgetStream {
	b.Helper()
	a, err := Open(Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	st, _, err := a.CreateStream(catalog.NewStream{Name: "clicks"})
	if err != nil {
		b.Fatal(err)
	}
	fs := &forgetStream{a: a, st: st, targets: total / 100}
	const batch = 10_000
	bodies := make([][]byte, 0, batch)
	for i := range total {
		if i%10 == 0 {
			t := fmt.Sprintf("target-%06d", (i/10)%fs.targets)
			bodies = append(bodies, forgetClick(t, t, i))
		} else {
			bodies = append(bodies, forgetClick(fmt.Sprintf("session-%04d", i%1000), fmt.Sprintf("customer-%04d", i%1000), i))
		}
		if len(bodies) == batch {
			ingestForget(b, a, st, bodies)
			bodies = bodies[:0]
		}
	}
	return fs
}

// forget forgets the next target customer and checks the counts. When
// every target is forgotten it sends 10 events of a new customer first,
// with the timer stopped.
func (fs *forgetStream) forget(b *testing.B) {
	subject := fmt.Sprintf("target-%06d", fs.next)
	if fs.next >= fs.targets {
		b.StopTimer()
		subject = fmt.Sprintf("extra-%06d", fs.next)
		bodies := make([][]byte, 10)
		for i := range bodies {
			bodies[i] = forgetClick(subject, subject, i)
		}
		ingestForget(b, fs.a, fs.st, bodies)
		b.StartTimer()
	}
	fs.next++
	f, err := fs.a.Forget(subject)
	if err != nil || f != (Forgotten{KeyLinks: 1, Events: 10}) {
		b.Fatalf("Forget(%s) = %+v, %v; want 1 key link, 10 events", subject, f, err)
	}
}

// BenchmarkForget1M forgets one data subject of 10 events (one key link)
// per iteration, in a stream of forgetBenchEvents events and in one a tenth
// of its size: the cost should not grow with the stream. Both streams are
// built once per run of the benchmark, on a data dir, through Ingest in
// batches of 10,000; the metric is ms per forget.
func BenchmarkForget1M(b *testing.B) {
	total := forgetBenchEvents(b)
	for _, n := range []int{total / 10, total} {
		fs := newForgetStream(b, b.TempDir(), n)
		// The first forget after the build may do work once per stream: it
		// is timed on its own (first-ms).
		start := time.Now()
		fs.forget(b)
		first := time.Since(start)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			for range b.N {
				fs.forget(b)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/forget")
			b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
		})
	}
}
