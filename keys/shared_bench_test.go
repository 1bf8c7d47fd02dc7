package keys_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/store/pgkv"
	"github.com/strmlocal/strmlocal/keys"
)

// BenchmarkSharedLinkCreate creates a key link per call (For with a value
// never seen, and a subject) on Keys with Options.Shared, as a scale-out
// gateway does: each link is written at once, synced, with the race check
// of sharedLink (store.Batch.Expect). 8 goroutines. postgres: over pgkv on
// a fresh database of the shared pgtest server (loopback; fsync off, as
// pgtest runs it), with pgkv's default pool; pebble: over an on-disk
// Pebble, for comparison. ns/op is per link.
func BenchmarkSharedLinkCreate(b *testing.B) {
	b.Run("postgres", func(b *testing.B) {
		dsn := pgtest.NewDatabase(b, pgtest.Shared(b))
		kv, err := pgkv.Open(context.Background(), dsn, pgkv.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(kv.Close)
		benchLinkCreate(b, kv)
	})
	b.Run("pebble", func(b *testing.B) {
		db := openDB(b, location{fs: vfs.Default, dir: filepath.Join(b.TempDir(), "data")})
		b.Cleanup(func() {
			if err := db.Close(); err != nil {
				b.Error(err)
			}
		})
		benchLinkCreate(b, store.PebbleKV(db))
	})
}

func benchLinkCreate(b *testing.B, kv store.KV) {
	ks, err := keys.Open(kv, keys.Options{Shared: true, Master: newMaster(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := ks.Close(); err != nil {
			b.Error(err)
		}
	})
	// Warm up the connections (and the hash key's path) before the timer.
	if _, err := ks.For(1, "warm-up", "subject"); err != nil {
		b.Fatal(err)
	}
	before := ks.Counts().Live
	const goroutines = 8
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((goroutines + procs - 1) / procs)
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ks.For(1, "session-"+strconv.FormatInt(seq.Add(1), 10), "subject"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	created := ks.Counts().Live - before
	b.ReportMetric(float64(created)/b.Elapsed().Seconds(), "links/s")
	if created != uint64(b.N) {
		b.Errorf("%d links created by %d calls, want one per call", created, b.N)
	}
}
