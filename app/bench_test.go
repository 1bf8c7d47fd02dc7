package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/benchcpu"
)

// openClicks opens an App with opts, closed when the test ends, and
// creates its source stream "clicks".
func openClicks(tb testing.TB, opts Options) (*App, *catalog.Stream) {
	tb.Helper()
	a, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	src, _, err := a.CreateStream(catalog.NewStream{Name: "clicks"})
	if err != nil {
		tb.Fatal(err)
	}
	return a, src
}

// benchClicks opens an in-memory App holding what rpc's BenchmarkReadDerived
// reads: 10,000 clickstream events over 1000 key links (consent 0 and 1),
// sent in batches of 1,000, in a source stream "clicks", and a derived
// stream of it, GRANULAR {0,1}. It returns the derived stream and the pages
// a Reader of it reads from offset 0 with limit MaxPageRecords, as offset
// ranges.
func benchClicks(b *testing.B) (*App, *catalog.Stream, [][2]uint64) {
	b.Helper()
	a, src := openClicks(b, Options{})
	derived, _, err := a.CreateStream(catalog.NewStream{DerivedFrom: "clicks", View: engine.View{Type: engine.Granular, Levels: []int32{0, 1}}})
	if err != nil {
		b.Fatal(err)
	}
	const n, sessions = 10000, 1000
	for i := 0; i < n; i += 1000 {
		bodies := make([][]byte, 1000)
		for j := range bodies {
			k := i + j
			bodies[j] = fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0,1]}, "producerSessionId": "session-%06d", "url": "https://shop.example/product/%d", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": ["a"], "customer": {"id": "customer-%06d"}}`,
				k%sessions, k, k%sessions)
		}
		res, err := a.Ingest(context.Background(), src, "streammachine/clickstream/1.0.0", engine.JSON, bodies)
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res {
			if r.Err != nil {
				b.Fatalf("event %d rejected: %v", i+j, r.Err)
			}
		}
	}
	r, err := a.Reader(derived)
	if err != nil {
		b.Fatal(err)
	}
	var pages [][2]uint64
	for from := uint64(0); from < n; {
		page, err := r.Read(context.Background(), from, MaxPageRecords)
		if err != nil {
			b.Fatal(err)
		}
		pages = append(pages, [2]uint64{from, page.Next})
		from = page.Next
	}
	return a, derived, pages
}

// BenchmarkReadRaw is BenchmarkReadDerived's baseline (rpc/bench_test.go):
// the log scan of the same 10,000 records in the same pages as the derived
// stream's Reader reads them, without decoding anything.
func BenchmarkReadRaw(b *testing.B) {
	a, derived, pages := benchClicks(b)
	src, err := a.streams.Get(derived.DerivedFrom)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	for range b.N {
		n := 0
		for _, p := range pages {
			for from := p[0]; from < p[1]; {
				recs, err := a.log.Read(src.ID, from, int(p[1]-from))
				if err != nil || len(recs) == 0 {
					b.Fatalf("read %d: %d records, %v", from, len(recs), err)
				}
				n += len(recs)
				from = recs[len(recs)-1].Offset + 1
			}
		}
		if n != 10000 {
			b.Fatalf("read %d records, want 10000", n)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "events/s")
	cpu(b.N * 10000)
}

// BenchmarkReaderDerived is the Reader's own part of BenchmarkReadDerived:
// the same pages of the derived stream, each by a new Reader as each
// ReadEvents request opens one, without a transport.
func BenchmarkReaderDerived(b *testing.B) {
	a, derived, pages := benchClicks(b)
	b.ResetTimer()
	for range b.N {
		n := 0
		for _, p := range pages {
			r, err := a.Reader(derived)
			if err != nil {
				b.Fatal(err)
			}
			page, err := r.Read(context.Background(), p[0], MaxPageRecords)
			if err != nil || page.Next != p[1] {
				b.Fatalf("read %d: next %d, want %d (%v)", p[0], page.Next, p[1], err)
			}
			n += len(page.Records)
		}
		if n != 10000 {
			b.Fatalf("read %d records, want 10000", n)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReaderSourceManyLinks reads a source stream whose key links do
// not fit in the key cache: 160,000 clickstream events, 8 a session (20,000
// links), on a data dir, each page by a new Reader. A record with PII says
// whether its key is shredded, which the Reader asks keys for each link a
// page meets (docs/performance.md, "Derived reads").
func BenchmarkReaderSourceManyLinks(b *testing.B) {
	a, src := openClicks(b, Options{DataDir: b.TempDir()})
	const n = 160_000
	for i := 0; i < n; i += 1000 {
		bodies := make([][]byte, 1000)
		for j := range bodies {
			k := i + j
			bodies[j] = fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0,1]}, "producerSessionId": "session-%06d", "url": "https://shop.example/product/%d", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": ["a"], "customer": {"id": "customer-%06d"}}`,
				k/8, k, k/8)
		}
		if _, err := a.Ingest(context.Background(), src, "streammachine/clickstream/1.0.0", engine.JSON, bodies); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu := benchcpu.Start(b)
	for range b.N {
		got := 0
		for from := uint64(0); from < n; {
			r, err := a.Reader(src)
			if err != nil {
				b.Fatal(err)
			}
			page, err := r.Read(context.Background(), from, MaxPageRecords)
			if err != nil {
				b.Fatal(err)
			}
			got += len(page.Records)
			from = page.Next
		}
		if got != n {
			b.Fatalf("read %d records, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	cpu(b.N * n)
}
