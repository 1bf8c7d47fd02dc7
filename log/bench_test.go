package log

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/benchcpu"
)

// Benchmarks run on a real directory: durability is the point.

const benchRecordSize = 300

func benchValues() [][]byte {
	vals := make([][]byte, 64)
	for i := range vals {
		vals[i] = make([]byte, benchRecordSize)
		rand.Read(vals[i])
	}
	return vals
}

// BenchmarkAppend64 measures 64 concurrent appenders of 300-byte records,
// each Append carrying perAppend records, every Append durable, spread over
// a number of streams. One stream writes one sequential key range, as the
// raw Pebble yardstick does; several streams interleave ranges, which costs
// Pebble real compactions instead of trivial moves.
func BenchmarkAppend64(b *testing.B) {
	for _, c := range []struct{ streams, perAppend int }{{1, 1}, {1, 16}, {1, 64}, {4, 16}} {
		b.Run(fmt.Sprintf("streams=%d/records=%d", c.streams, c.perAppend), func(b *testing.B) {
			perAppend := c.perAppend
			e := newEnv(b, vfs.Default, b.TempDir())
			l := e.log
			vals := benchValues()
			var next atomic.Int64
			b.SetBytes(int64(benchRecordSize * perAppend))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range 64 {
				wg.Go(func() {
					recs := make([]Record, perAppend)
					for next.Add(1) <= int64(b.N) {
						for i := range recs {
							recs[i] = Record{Value: vals[(w+i)%len(vals)]}
						}
						if _, err := l.Append(context.Background(), StreamID(1+w%c.streams), recs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Records)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(st.Records)/float64(st.Commits), "records/commit")
		})
	}
}

// BenchmarkRawPebbleBatch256 is the yardstick: one writer committing synced
// Pebble batches of 256 300-byte values, no log on top.
func BenchmarkRawPebbleBatch256(b *testing.B) {
	e := newEnv(b, vfs.Default, b.TempDir())
	db := e.st.DB
	vals := benchValues()
	key := make([]byte, 0, 32)
	seq := uint64(0)
	b.SetBytes(benchRecordSize * 256)
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	for range b.N {
		batch := db.NewBatch()
		for i := range 256 {
			key = binary.BigEndian.AppendUint64(append(key[:0], "stream/raw/"...), seq)
			seq++
			_ = batch.Set(key, vals[i%len(vals)], nil)
		}
		if err := batch.Commit(pebble.Sync); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "records/s")
	cpu(b.N * 256)
}
