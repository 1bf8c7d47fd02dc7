package rpc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/s3test"
	"github.com/strmlocal/strmlocal/strmtest"
)

// benchEvents is the number of events the environment variable env asks
// for (rounded down to thousands), or def.
func benchEvents(b *testing.B, env string, def int) int {
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		b.Fatalf("%s=%q: want a number ≥ 1000", env, v)
	}
	return n / 1000 * 1000
}

// seedClicks sends total clickstream events (Avro binary, 100 sessions, in
// batches of 1,000) to a new source stream "clicks" of sb.
func seedClicks(b *testing.B, sb *strmtest.Sandbox, total int) *strmtest.Stream {
	b.Helper()
	src := sb.CreateStream("clicks")
	events := avroClicks(b, 1000, 100)
	for i := 0; i < total; i += 1000 {
		sendBatch(b, src, events)
	}
	return src
}

// sendClicks sends n distinct clickstream events over sessions sessions
// (one key link each), in batches of 1,000, to a new source stream
// "clicks" of sb.
func sendClicks(b *testing.B, sb *strmtest.Sandbox, n, sessions int) *strmtest.Stream {
	b.Helper()
	src := sb.CreateStream("clicks")
	events := avroClicks(b, n, sessions)
	for i := 0; i < n; i += 1000 {
		sendBatch(b, src, events[i:min(i+1000, n)])
	}
	return src
}

func sendBatch(b *testing.B, src *strmtest.Stream, events [][]byte) {
	b.Helper()
	if _, err := src.Events.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
		SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: events,
	})); err != nil {
		b.Fatal(err)
	}
}

// readStream reads st to offset end in ReadEvents pages of 10,000, as
// BenchmarkReadDerived does, passing each page's records to each; it fails
// unless want records were read.
func readStream(b *testing.B, st *strmtest.Stream, end uint64, want int, each func([]*v1.Record)) {
	b.Helper()
	n := 0
	for from := uint64(0); from < end; {
		res, err := st.Egress.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		if each != nil {
			each(res.Msg.Records)
		}
		n += len(res.Msg.Records)
		from = res.Msg.NextOffset
	}
	if n != want {
		b.Fatalf("read %d events, want %d", n, want)
	}
}

// reportEvents reports events/s for b.N rounds of total events each.
func reportEvents(b *testing.B, total int) {
	b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkExport measures a batch exporter's export of a whole stream of
// clickstream events (STRMLOCAL_BENCH_EXPORT_EVENTS, default 200,000; the
// issue's figure is for 1,000,000) on a real data dir, against its
// baseline in the same run:
//
//   - egress-to-file: what `strmlocal egress STREAM --follow=false > file`
//     does, ReadEvents pages written to a file as lines;
//   - local: a batch exporter to a local connector (100,000 events per
//     file, each file synced);
//   - s3: the same to a real versitygw on loopback.
//
// Each iteration exports every event once; the metric is events/s.
func BenchmarkExport(b *testing.B) {
	total := benchEvents(b, "STRMLOCAL_BENCH_EXPORT_EVENTS", 200_000)
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()), strmtest.WithVirtualClock(t0))
	src := seedClicks(b, sb, total)
	out := b.TempDir()
	report := func(b *testing.B) { reportEvents(b, total) }

	b.Run("egress-to-file", func(b *testing.B) {
		for i := range b.N {
			f, err := os.Create(filepath.Join(out, fmt.Sprintf("egress-%d.jsonl", i)))
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriterSize(f, 64<<10)
			readStream(b, src, uint64(total), total, func(recs []*v1.Record) {
				for _, r := range recs {
					_, _ = w.WriteString(r.Json)
					_ = w.WriteByte('\n')
				}
			})
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})

	export := func(b *testing.B, connector string) {
		for i := range b.N {
			b.StopTimer()
			name := fmt.Sprintf("%s-%d-%d", connector, b.N, i)
			createJob(b, sb, &v1.Job{Name: name, Kind: "batch-exporter", Stream: "clicks", DataConnector: connector,
				Config: config(b, map[string]any{"pathPrefix": name, "includeExistingEvents": true})})
			b.StartTimer()
			advance(b, sb, time.Minute)
			b.StopTimer()
			if st := getJob(b, sb, name).Status; st.EventsExported != uint64(total) || st.LastError != "" {
				b.Fatalf("job %s: %v", name, st)
			}
			if _, err := sb.Client.Jobs.DeleteJob(context.Background(), connect.NewRequest(&v1.DeleteJobRequest{Name: name})); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b)
	}
	createConnector(b, sb, "local", "local", map[string]any{"path": out})
	b.Run("local", func(b *testing.B) { export(b, "local") })

	s3 := s3test.Start(b)
	s3.MakeBucket(b, "exports")
	createConnector(b, sb, "s3", "s3", s3Config(s3, "exports", s3.SecretKey))
	b.Run("s3", func(b *testing.B) { export(b, "s3") })
}
