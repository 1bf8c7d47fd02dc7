package log

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/strmlocal/strmlocal/internal/store"
)

// recordingAlso writes one key of the keys space per append and records
// what the committer told it; with calls set, it also appends each call to
// it (the committer makes them all from its goroutine).
type recordingAlso struct {
	key               []byte
	err               error // returned by Add
	endGroupErr       error // returned by EndGroup
	first             uint64
	n                 int
	adds, ends, dones int
	ok                bool
	calls             *[]string
}

func (r *recordingAlso) Add(b store.Batch, first uint64, n int) error {
	r.adds++
	r.first, r.n = first, n
	r.record("add")
	if r.err != nil {
		return r.err
	}
	b.Set(r.key, nil)
	return nil
}

func (r *recordingAlso) EndGroup(b store.Batch) error {
	r.ends++
	r.record("end")
	return r.endGroupErr
}

func (r *recordingAlso) Done(ok bool) {
	r.dones, r.ok = r.dones+1, ok
	r.record("done")
}

func (r *recordingAlso) record(call string) {
	if r.calls != nil {
		*r.calls = append(*r.calls, call+" "+string(r.key[1:]))
	}
}

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
				if a.first != firsts[w][i] || a.n != 1+(w+i)%3 || a.adds != 1 || a.ends != 1 || a.dones != 1 || !a.ok {
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
		if refused.adds != 1 || refused.ends != 0 || refused.dones != 1 || refused.first != 1 || refused.n != 1 {
			t.Fatalf("refusing Also told %+v", *refused)
		}
		next := &recordingAlso{key: alsoKey("next")}
		if first, err := l.AppendAlso(context.Background(), 1, []Record{rec("c"), rec("d")}, next); first != 1 || err != nil {
			t.Fatalf("append after the refusal = %d, %v; want 1", first, err)
		}
		if next.first != 1 || next.n != 2 || next.ends != 1 || !next.ok {
			t.Fatalf("Also after the refusal told %+v", *next)
		}
		if err := l.Drop(2, nil); err != nil {
			t.Fatal(err)
		}
		dropped := &recordingAlso{key: alsoKey("dropped")}
		if _, err := l.AppendAlso(context.Background(), 2, []Record{rec("e")}, dropped); !errors.Is(err, ErrDropped) {
			t.Fatalf("append to a dropped stream = %v", err)
		}
		if dropped.adds != 0 || dropped.ends != 0 || dropped.dones != 0 {
			t.Fatalf("Also of an append to a dropped stream told %+v", *dropped)
		}
	})
}

// In every group the committer calls each Add, then EndGroup for each Also
// whose Add succeeded, then each Done (Alsos whose Add failed included),
// in the order of the Adds; one group's calls all come before the next
// group's.
func TestAppendAlsoEndGroupOrder(t *testing.T) {
	e := newEnv(t, vfs.NewMem(), "db")
	l := e.log
	var calls []string // appended by the committer goroutine only
	const writers, appends = 8, 40
	var wg sync.WaitGroup
	alsos := make([][]*recordingAlso, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				a := &recordingAlso{key: alsoKey(fmt.Sprintf("w%d-%d", w, i)), calls: &calls}
				if i%5 == 4 {
					a.err = errors.New("refused")
				}
				alsos[w] = append(alsos[w], a)
				_, err := l.AppendAlso(context.Background(), StreamID(1+w%3), []Record{rec("x")}, a)
				if err != a.err {
					t.Errorf("writer %d append %d = %v, want %v", w, i, err, a.err)
				}
			}
		})
	}
	wg.Wait()
	for w := range writers {
		for i, a := range alsos[w] {
			// A refused append's Done tells whether its group was
			// written, which the others of its group decide.
			wantEnds, ok := 1, a.ok || a.err != nil
			if a.err != nil {
				wantEnds = 0
			}
			if a.adds != 1 || a.ends != wantEnds || a.dones != 1 || !ok {
				t.Fatalf("writer %d append %d: Also told %+v", w, i, *a)
			}
		}
	}
	// Cut the calls into groups: a run of adds, their ends, their dones.
	groups := 0
	for rest := calls; len(rest) > 0; groups++ {
		var added, ended, done []string
		refused := map[string]bool{}
		for len(rest) > 0 && strings.HasPrefix(rest[0], "add ") {
			key := strings.TrimPrefix(rest[0], "add ")
			added = append(added, key)
			var w, i int
			fmt.Sscanf(key, "w%d-%d", &w, &i)
			refused[key] = i%5 == 4
			rest = rest[1:]
		}
		for len(rest) > 0 && strings.HasPrefix(rest[0], "end ") {
			ended, rest = append(ended, strings.TrimPrefix(rest[0], "end ")), rest[1:]
		}
		for len(rest) > 0 && strings.HasPrefix(rest[0], "done ") && len(done) < len(added) {
			done, rest = append(done, strings.TrimPrefix(rest[0], "done ")), rest[1:]
		}
		var wantEnded []string
		for _, k := range added {
			if !refused[k] {
				wantEnded = append(wantEnded, k)
			}
		}
		if len(added) == 0 || !slices.Equal(ended, wantEnded) || !slices.Equal(done, added) {
			t.Fatalf("group %d: adds %q, ends %q, dones %q; want ends %q and dones in the order of the adds", groups, added, ended, done, wantEnded)
		}
	}
	if st := l.Stats(); st.Commits >= st.Appends || groups >= writers*appends {
		t.Errorf("no group commit happened: %+v, %d groups", st, groups)
	}
}

// A EndGroup that fails abandons its group: the append fails, its Also gets
// Done(false), nothing of it is stored, and its offsets go to the next
// append.
func TestAppendAlsoEndGroupFails(t *testing.T) {
	eachFS(t, func(t *testing.T, e *env) {
		l := e.log
		mustAppend(t, l, 1, rec("a"))
		endGroupErr := errors.New("end of group refused")
		failing := &recordingAlso{key: alsoKey("failing"), endGroupErr: endGroupErr}
		_, err := l.AppendAlso(context.Background(), 1, []Record{rec("b")}, failing)
		if !errors.Is(err, endGroupErr) || err.Error() != "log: write: end of group refused" {
			t.Fatalf("append with a failing EndGroup = %v, want log: write: end of group refused", err)
		}
		if failing.adds != 1 || failing.ends != 1 || failing.dones != 1 || failing.ok || failing.first != 1 {
			t.Fatalf("Also whose EndGroup failed told %+v", *failing)
		}
		if _, closer, err := e.st.DB.Get(failing.key); err == nil {
			closer.Close()
			t.Fatal("the abandoned group's Also write is stored")
		}
		if _, next, err := l.Bounds(1); next != 1 || err != nil {
			t.Fatalf("Bounds after the abandoned group: next %d, %v; want 1", next, err)
		}
		next := &recordingAlso{key: alsoKey("next")}
		if first, err := l.AppendAlso(context.Background(), 1, []Record{rec("c")}, next); first != 1 || err != nil {
			t.Fatalf("append after the abandoned group = %d, %v; want 1", first, err)
		}
		if next.first != 1 || next.ends != 1 || next.dones != 1 || !next.ok {
			t.Fatalf("Also after the abandoned group told %+v", *next)
		}
	})
}
