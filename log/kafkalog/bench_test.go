package kafkalog

import (
	"context"
	"testing"

	"github.com/strmlocal/strmlocal/log"
)

// The costs against kfake on loopback: round trips to an in-memory
// broker, so the client's costs plus kfake's, without disk, network or
// replication.

func benchRecords(n, size int) []log.Record {
	rs := make([]log.Record, n)
	for i := range rs {
		rs[i] = log.Record{Meta: make([]byte, 40), Value: make([]byte, size)}
	}
	return rs
}

func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, size int
	}{{"1x200B", 1, 200}, {"100x200B", 100, 200}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			l := e.open(b, func(o *Options) { o.Logger = nil })
			rs := benchRecords(c.n, c.size)
			ctx := context.Background()
			b.SetBytes(int64(c.n * (c.size + 40)))
			for b.Loop() {
				if _, err := l.AppendAlso(ctx, 1, rs, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendParallel: appends of many goroutines to one stream,
// combined into shared batches.
func BenchmarkAppendParallel(b *testing.B) {
	e := newEnv(b)
	l := e.open(b, func(o *Options) { o.Logger = nil })
	ctx := context.Background()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		rs := benchRecords(1, 200)
		for pb.Next() {
			if _, err := l.AppendAlso(ctx, 1, rs, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	for _, c := range []struct {
		name  string
		fresh bool // a new client per read, no pool
	}{{"pooled", false}, {"fresh-client", true}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			l := e.open(b, func(o *Options) { o.Logger = nil })
			if _, err := l.AppendAlso(context.Background(), 1, benchRecords(100, 200), nil); err != nil {
				b.Fatal(err)
			}
			if c.fresh {
				l.opts.MaxIdleFetchers = 0 // put closes every client
			}
			for b.Loop() {
				rs, err := l.Read(1, 0, 100)
				if err != nil || len(rs) != 100 {
					b.Fatal(len(rs), err)
				}
			}
		})
	}
}

func BenchmarkBounds(b *testing.B) {
	e := newEnv(b)
	l := e.open(b, func(o *Options) { o.Logger = nil })
	if _, err := l.AppendAlso(context.Background(), 1, benchRecords(10, 200), nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := l.Bounds(1); err != nil {
			b.Fatal(err)
		}
	}
}
