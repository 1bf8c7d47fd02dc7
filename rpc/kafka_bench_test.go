package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkKafkaExport measures a kafka-exporter's export of a whole
// derived stream of clickstream events (STRMLOCAL_BENCH_KAFKA_EVENTS,
// default 200,000; decrypted by the view, as BenchmarkReadDerived reads)
// to an in-memory broker (kfake) on loopback, on a real data dir, against
// its baseline in the same run:
//
//   - read-derived: the stream read through egress in pages of 10,000, as
//     BenchmarkReadDerived reads;
//   - kafka: a kafka-exporter from the stream's first event until it has
//     no lag: every event produced with acks from all replicas, the cursor
//     saved after each acknowledged step.
//
// Each iteration exports (reads) every event once; the metric is
// events/s. The broker shares the machine's cores with the server.
func BenchmarkKafkaExport(b *testing.B) {
	total := benchEvents(b, "STRMLOCAL_BENCH_KAFKA_EVENTS", 200_000)
	ctx := context.Background()
	sb := strmtest.New(b, strmtest.WithDataDir(b.TempDir()))
	seedClicks(b, sb, total)
	derived := sb.CreateDerived("clicks", 0, 1)
	report := func(b *testing.B) { reportEvents(b, total) }

	b.Run("read-derived", func(b *testing.B) {
		for range b.N {
			readStream(b, derived, uint64(total), total, nil)
		}
		report(b)
	})

	broker := kafkatest.Start(b)
	createConnector(b, sb, "kafka", "kafka", map[string]any{"bootstrapServers": []any{broker.Addr}})
	kc, err := kgo.NewClient(kgo.SeedBrokers(broker.Addr))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	b.Run("kafka", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			name := fmt.Sprintf("kafka-%d-%d", b.N, i)
			b.StartTimer()
			createJob(b, sb, &v1.Job{Name: name, Kind: "kafka-exporter", Stream: derived.Name, DataConnector: "kafka",
				Config: config(b, map[string]any{"topic": name, "includeExistingEvents": true})})
			for {
				st := getJob(b, sb, name).Status
				if st.EventsExported == uint64(total) && st.Lag == 0 {
					break
				}
				if st.LastError != "" {
					b.Fatalf("job %s: %v", name, st)
				}
				time.Sleep(2 * time.Millisecond)
			}
			b.StopTimer()
			if _, err := sb.Client.Jobs.DeleteJob(ctx, connect.NewRequest(&v1.DeleteJobRequest{Name: name})); err != nil {
				b.Fatal(err)
			}
			ends, err := adm.ListEndOffsets(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			if o, _ := ends.Lookup(name, 0); o.Offset != int64(total) {
				b.Fatalf("topic %s ends at %d, want %d", name, o.Offset, total)
			}
			if _, err := adm.DeleteTopic(ctx, name); err != nil { // the broker's memory
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b)
	})
}
