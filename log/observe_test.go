package log

import (
	"errors"
	"sync"
	"testing"
)

// OnCommit sees every synced group with its records and size; Size is the
// stored size of the records held.
func TestOnCommitAndSize(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var seen []CommitStats
		l := e.reopen(Options{OnCommit: func(c CommitStats) {
			mu.Lock()
			seen = append(seen, c)
			mu.Unlock()
		}})
		mustAppend(t, l, 1, rec("a"), rec("bb"))
		mustAppend(t, l, 1, rec("ccc"))
		mustAppend(t, l, 2, rec("d"))
		mu.Lock()
		got := append([]CommitStats(nil), seen...)
		mu.Unlock()
		if len(got) != 3 {
			t.Fatalf("OnCommit called %d times, want 3: %+v", len(got), got)
		}
		for i, want := range []int{2, 1, 1} {
			if got[i].Records != want || got[i].Bytes <= 0 || got[i].Sync < 0 {
				t.Errorf("commit %d: %+v, want %d records, bytes and a sync time", i, got[i], want)
			}
		}
		recs, err := l.Read(1, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var want uint64
		for i := range recs {
			want += uint64(len(appendRecordValue(nil, &recs[i])))
		}
		if size, err := l.Size(1); size != want || err != nil {
			t.Fatalf("Size(1) = %d, %v; want %d", size, err, want)
		}
		if err := l.Drop(1, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Size(1); !errors.Is(err, ErrDropped) {
			t.Fatalf("Size of a dropped stream: %v, want ErrDropped", err)
		}
		if size, err := l.Size(3); size != 0 || err != nil {
			t.Fatalf("Size of a stream never appended to = %d, %v; want 0", size, err)
		}
	})
}
