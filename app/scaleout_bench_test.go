package app_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
)

// The ingest of the two storage modes on the same machine, in the same
// run: App.Ingest in process (no transport), so that what differs is the
// storage. Embedded: one Pebble on a data dir (b.TempDir(), durable: a
// synced group commit per append). Scale-out: the state in the shared
// pgtest PostgreSQL (a database of its own), the log in a kfake broker on
// loopback (docs/scale-out.md). Both: 8 producers, batches of 256 demo
// events (streammachine/demo/1.0.2, key field consistentValue, a 64-byte
// filler), one stream. ns/op is per batch.

const (
	benchBatch     = 256
	benchProducers = 8
	benchSessions  = 64
	benchFiller    = 64
)

// benchModes runs bench in both modes, on a fresh App each time.
func benchModes(b *testing.B, bench func(b *testing.B, a *app.App)) {
	b.Run("embedded", func(b *testing.B) {
		bench(b, openBench(b, app.Options{DataDir: b.TempDir()}))
	})
	b.Run("scale-out", func(b *testing.B) {
		srv := pgtest.Shared(b)
		master, err := keys.NewMasterKeyset()
		if err != nil {
			b.Fatal(err)
		}
		// Cleanups run last first: the App closes, then the broker, then
		// the database is dropped.
		dsn, broker := pgtest.NewDatabase(b, srv), kafkatest.Start(b)
		bench(b, openBench(b, app.Options{
			StateURL: dsn, KafkaBrokers: []string{broker.Addr}, MasterKey: master,
			KafkaTopicPrefix: fmt.Sprintf("b%d-", topics.Add(1)),
		}))
	})
}

func openBench(b *testing.B, o app.Options) *app.App {
	b.Helper()
	a, err := app.Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := a.Close(); err != nil {
			b.Error(err)
		}
	})
	return a
}

func ingestBatch(b *testing.B, a *app.App, st *catalog.Stream, bodies [][]byte) bool {
	res, err := a.Ingest(context.Background(), st, demoSchema, engine.JSON, bodies)
	if err != nil {
		b.Errorf("ingest: %v", err)
		return false
	}
	for i, r := range res {
		if r.Err != nil {
			b.Errorf("event %d rejected: %v", i, r.Err)
			return false
		}
	}
	return true
}

// runProducers runs b.N batches over benchProducers goroutines, each
// batch made by next(producer) and ingested into st, and returns the
// events ingested. The timer covers only the batches.
func runProducers(b *testing.B, a *app.App, st *catalog.Stream, next func(p int) [][]byte) int {
	var claimed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for p := range benchProducers {
		wg.Go(func() {
			for claimed.Add(1) <= int64(b.N) {
				if !ingestBatch(b, a, st, next(p)) {
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return b.N * benchBatch
}

func createBench(b *testing.B, a *app.App) *catalog.Stream {
	b.Helper()
	st, _, err := a.CreateStream(catalog.NewStream{Name: "demo"})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkIngestModes: 64 sessions, every batch holds each 4 times, so
// after the warm-up batch (before the timer) every key link exists and is
// cached: the storage's cost is the append (a synced Pebble group commit;
// a Kafka produce).
func BenchmarkIngestModes(b *testing.B) {
	benchModes(b, func(b *testing.B, a *app.App) {
		st := createBench(b, a)
		// Each producer cycles through 4 batches of its own.
		const cycle = 4
		batches := make([][][][]byte, benchProducers)
		for p := range batches {
			batches[p] = make([][][]byte, cycle)
			for c := range batches[p] {
				bodies := make([][]byte, benchBatch)
				for i := range bodies {
					bodies[i] = demo(fmt.Sprintf("session-%03d", i%benchSessions), benchFiller, 1, 2)
				}
				batches[p][c] = bodies
			}
		}
		if !ingestBatch(b, a, st, batches[0][0]) { // warm-up: the 64 links, the topic
			b.FailNow()
		}
		links := a.KeyLinkCounts().Live
		counters := make([]int, benchProducers)
		n := runProducers(b, a, st, func(p int) [][]byte {
			counters[p]++
			return batches[p][counters[p]%cycle]
		})
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		if got := a.KeyLinkCounts().Live; links != benchSessions || got != links {
			b.Errorf("key links: %d after the warm-up, %d at the end; want %d", links, got, benchSessions)
		}
	})
}

// BenchmarkIngestModesNewSessions: every event a session never seen, so
// every event creates a key link (in scale-out mode: written to
// PostgreSQL, with its race check, before the produce; embedded: in the
// append's own Pebble batch).
func BenchmarkIngestModesNewSessions(b *testing.B) {
	benchModes(b, func(b *testing.B, a *app.App) {
		st := createBench(b, a)
		// One template event; each body is a copy of it with a 12-digit
		// session number written over the placeholder (twice: the key
		// field and uniqueIdentifier), so that making bodies costs about
		// a memcpy in the timed loop.
		const placeholder = "XXXXXXXXXXXX"
		tmpl := demo("n"+placeholder, benchFiller, 1, 2)
		var at []int
		for i := 0; ; {
			j := bytes.Index(tmpl[i:], []byte(placeholder))
			if j < 0 {
				break
			}
			at = append(at, i+j)
			i += j + len(placeholder)
		}
		if len(at) != 2 {
			b.Fatalf("template %s: placeholder found %d times, want 2", tmpl, len(at))
		}
		var seq atomic.Int64
		next := func(int) [][]byte {
			first := seq.Add(benchBatch) - benchBatch
			buf := make([]byte, benchBatch*len(tmpl))
			bodies := make([][]byte, benchBatch)
			for i := range bodies {
				body := buf[i*len(tmpl) : (i+1)*len(tmpl) : (i+1)*len(tmpl)]
				copy(body, tmpl)
				digits := strconv.AppendInt(make([]byte, 0, 20), first+int64(i), 10)
				for _, o := range at {
					field := body[o : o+len(placeholder)]
					for k := range field {
						field[k] = '0'
					}
					copy(field[len(field)-len(digits):], digits)
				}
				bodies[i] = body
			}
			return bodies
		}
		if !ingestBatch(b, a, st, next(0)) { // warm-up: connections, the topic
			b.FailNow()
		}
		links := a.KeyLinkCounts().Live
		n := runProducers(b, a, st, next)
		s := b.Elapsed().Seconds()
		created := a.KeyLinkCounts().Live - links
		b.ReportMetric(float64(n)/s, "events/s")
		b.ReportMetric(float64(created)/s, "links/s")
		if links != benchBatch || created != uint64(n) {
			b.Errorf("key links: %d by the warm-up, %d by %d events; want one per event", links, created, n)
		}
	})
}
