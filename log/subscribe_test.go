package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSubscriptionFollowsAppends(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.reopen(Options{ReadBatch: 7})
		mustAppend(t, l, 1, rec("old"))
		_, next, _ := l.Bounds(1)
		sub := l.Subscribe(1, next) // from the end: "old" is not seen

		const writers, each = 4, 50
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := l.Append(context.Background(), 1, []Record{rec(fmt.Sprintf("%d-%d", w, i))}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		seen := map[string]bool{}
		want := uint64(1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for len(seen) < writers*each {
			recs, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 || len(recs) > 7 {
				t.Fatalf("Next returned %d records", len(recs))
			}
			for _, r := range recs {
				if r.Offset != want {
					t.Fatalf("offset %d, want %d", r.Offset, want)
				}
				if seen[string(r.Value)] {
					t.Fatalf("%s delivered twice", r.Value)
				}
				seen[string(r.Value)] = true
				want++
			}
		}
		wg.Wait()
		if sub.Offset() != 1+writers*each {
			t.Fatalf("Offset = %d", sub.Offset())
		}
		// Nothing more: Next waits until ctx ends.
		short, cancelShort := context.WithCancel(context.Background())
		cancelShort()
		if _, err := sub.Next(short); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next at the end with a cancelled ctx: %v", err)
		}
	})
}

func TestSubscriptionFromBeginningAndTrim(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		for i := range 5 {
			mustAppend(t, l, 1, recAt(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Minute)))
		}
		sub := l.Subscribe(1, 0)
		recs, err := sub.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertValues(t, recs, "0:m:0:0", "1:m:1:1", "2:m:2:2", "3:m:3:3", "4:m:4:4")

		// A subscriber behind the retained range skips to the first record.
		lagging := l.Subscribe(1, 1)
		if _, err := l.Trim(1, Retention{MaxAge: 90 * time.Second}, t0.Add(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
		recs, err = lagging.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertValues(t, recs, "3:m:3:3", "4:m:4:4")
	})
}

func TestCloseWakesSubscribersAndRefusesAppends(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		sub := l.Subscribe(1, 0)
		errc := make(chan error, 1)
		go func() { _, err := sub.Next(context.Background()); errc <- err }()
		e.close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("subscriber got %v, want ErrClosed", err)
		}
		if _, err := l.Append(context.Background(), 1, []Record{rec("x")}); !errors.Is(err, ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// Reads are bounded in bytes as well as in records, so a stream of large
// events cannot make one read hold more than Options.ReadBytes; a record
// larger than the bound still comes out, on its own.
func TestReadBytesBound(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.reopen(Options{ReadBytes: 4000})
		var recs []Record
		for i := range 10 {
			recs = append(recs, Record{Meta: []byte("m"), Value: bytes.Repeat([]byte{byte('a' + i)}, 999)})
		}
		recs = append(recs, Record{Meta: []byte("m"), Value: make([]byte, 9999)})
		mustAppend(t, l, 1, recs...)

		var sizes []int
		for from := uint64(0); from < 11; {
			got, err := l.Read(1, from, 100)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(got))
			from = got[len(got)-1].Offset + 1
		}
		if want := []int{4, 4, 2, 1}; !slices.Equal(sizes, want) {
			t.Errorf("Read sizes = %v, want %v", sizes, want)
		}

		sub := l.Subscribe(1, 0)
		sizes = sizes[:0]
		for sub.Offset() < 11 {
			got, err := sub.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(got))
		}
		if want := []int{4, 4, 2, 1}; !slices.Equal(sizes, want) {
			t.Errorf("Next sizes = %v, want %v", sizes, want)
		}
	})
}
