package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

// openBenchEvents is the size of the stream BenchmarkOpen/datadir reopens:
// STRMLOCAL_BENCH_OPEN_EVENTS, default 100,000 (the figure is for
// 1,000,000).
func openBenchEvents(b *testing.B) int {
	const env = "STRMLOCAL_BENCH_OPEN_EVENTS"
	v := os.Getenv(env)
	if v == "" {
		return 100_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		b.Fatalf("%s=%q: want a number ≥ 1000", env, v)
	}
	return n / 1000 * 1000
}

// BenchmarkOpen measures what a server does before it is ready: Open (the
// store, the log states, the catalogue, the key links, the built-in
// catalogue, the jobs) and Close, in memory and on a data dir holding one
// stream of demo events over 1000 key links.
func BenchmarkOpen(b *testing.B) {
	b.Run("ephemeral", func(b *testing.B) {
		for b.Loop() {
			a, err := Open(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("datadir", func(b *testing.B) {
		dir := b.TempDir()
		fillDemo(b, dir, openBenchEvents(b))
		for b.Loop() {
			a, err := Open(Options{DataDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fillDemo opens dir, ingests n demo events over 1000 sessions into a
// stream "demo" in batches of 1000, and closes it again.
func fillDemo(b *testing.B, dir string, n int) {
	b.Helper()
	a, err := Open(Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
	}()
	st, _, err := a.CreateStream(catalog.NewStream{Name: "demo"})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	bodies := make([][]byte, batch)
	for i := 0; i < n; i += batch {
		for j := range bodies {
			k := i + j
			bodies[j] = fmt.Appendf(bodies[j][:0], `{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [0,1]}, "uniqueIdentifier": "u-%d", "consistentValue": "session-%03d", "someSensitiveValue": "s-%d", "notSensitiveValue": "n-%d"}`,
				k, k%1000, k, k)
		}
		res, err := a.Ingest(context.Background(), st, "streammachine/demo/1.0.2", engine.JSON, bodies)
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res {
			if r.Err != nil {
				b.Fatalf("event %d rejected: %v", i+j, r.Err)
			}
		}
	}
}
