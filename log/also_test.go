package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/strmlocal/strmlocal/internal/store"
)

// recordingAlso writes one key of the keys space per append and records
// what the committer told it.
type recordingAlso struct {
	key         []byte
	err         error // returned by Add
	first       uint64
	n           int
	adds, dones int
	ok          bool
}

func (r *recordingAlso) Add(b store.Batch, first uint64, n int) error {
	r.adds++
	r.first, r.n = first, n
	if r.err != nil {
		return r.err
	}
	b.Set(r.key, nil)
	return nil
}

func (r *recordingAlso) Done(ok bool) { r.dones, r.ok = r.dones+1, ok }

func alsoKey(s string) []byte { return append([]byte{store.SpaceKeys}, s...) }

// Add learns the offsets its append's records take, also when several
// appends of one stream share a group, and its writes are stored with
// them.
func TestAppendAlsoOffsets(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		const writers, appends = 16, 30
		alsos := make([][]*recordingAlso, writers)
		firsts := make([][]uint64, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range appends {
					a := &recordingAlso{key: alsoKey(fmt.Sprintf("w%d-%d", w, i))}
					first, err := l.AppendAlso(context.Background(), StreamID(1+w%2), make([]Record, 1+(w+i)%3), a)
					if err != nil {
						t.Error(err)
						return
					}
					alsos[w], firsts[w] = append(alsos[w], a), append(firsts[w], first)
				}
			})
		}
		wg.Wait()
		for w := range writers {
			for i, a := range alsos[w] {
				if a.first != firsts[w][i] || a.n != 1+(w+i)%3 || a.adds != 1 || a.dones != 1 || !a.ok {
					t.Fatalf("writer %d append %d at %d of %d records: Also told %+v", w, i, firsts[w][i], 1+(w+i)%3, *a)
				}
				if _, closer, err := e.st.DB.Get(a.key); err != nil {
					t.Fatalf("writer %d append %d: Also's write: %v", w, i, err)
				} else {
					closer.Close()
				}
			}
		}
		if st := l.Stats(); st.Commits >= st.Appends {
			t.Errorf("no group commit happened: %+v", st)
		}
	})
}

// An Add that fails fails its append alone, whose offsets go to the next
// append; an append to a dropped stream calls no Add.
func TestAppendAlsoRefused(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		mustAppend(t, l, 1, rec("a"))
		refused := &recordingAlso{key: alsoKey("refused"), err: errors.New("refused")}
		if _, err := l.AppendAlso(context.Background(), 1, []Record{rec("b")}, refused); err != refused.err {
			t.Fatalf("append = %v, want %v", err, refused.err)
		}
		if refused.adds != 1 || refused.dones != 1 || refused.first != 1 || refused.n != 1 {
			t.Fatalf("refusing Also told %+v", *refused)
		}
		next := &recordingAlso{key: alsoKey("next")}
		if first, err := l.AppendAlso(context.Background(), 1, []Record{rec("c"), rec("d")}, next); first != 1 || err != nil {
			t.Fatalf("append after the refusal = %d, %v; want 1", first, err)
		}
		if next.first != 1 || next.n != 2 || !next.ok {
			t.Fatalf("Also after the refusal told %+v", *next)
		}
		if err := l.Drop(2, nil); err != nil {
			t.Fatal(err)
		}
		dropped := &recordingAlso{key: alsoKey("dropped")}
		if _, err := l.AppendAlso(context.Background(), 2, []Record{rec("e")}, dropped); !errors.Is(err, ErrDropped) {
			t.Fatalf("append to a dropped stream = %v", err)
		}
		if dropped.adds != 0 || dropped.dones != 0 {
			t.Fatalf("Also of an append to a dropped stream told %+v", *dropped)
		}
	})
}
