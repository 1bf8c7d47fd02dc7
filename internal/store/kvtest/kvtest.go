package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Open returns a new, empty KV for the test; it closes it when the test
// ends (t.Cleanup).
type Open func(t *testing.T) store.KV

// Run runs every case of the suite as a subtest of t, each on a KV of its
// own from open.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, kv store.KV)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"EmptyValue", testEmptyValue},
		{"BatchCopiesItsArguments", testBatchCopies},
		{"ScanOrder", testScanOrder},
		{"ScanBounds", testScanBounds},
		{"ScanStopsAtError", testScanStops},
		{"DeleteRange", testDeleteRange},
		{"BatchOrder", testBatchOrder},
		{"BatchAtomicity", testBatchAtomicity},
		{"Expect", testExpect},
		{"EmptyAndClose", testEmptyAndClose},
		{"Snapshot", testSnapshot},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentExpect", testConcurrentExpect},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// Pair is one key and its value.
type Pair struct{ K, V string }

func (p Pair) String() string { return fmt.Sprintf("%q=%q", p.K, p.V) }

// commit applies fn's writes in one batch and fails the test if Commit
// does.
func commit(t *testing.T, kv store.KV, fn func(b store.Batch)) {
	t.Helper()
	b := kv.NewBatch()
	defer b.Close()
	fn(b)
	if err := b.Commit(true); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func set(t *testing.T, kv store.KV, pairs ...Pair) {
	t.Helper()
	commit(t, kv, func(b store.Batch) {
		for _, p := range pairs {
			b.Set([]byte(p.K), []byte(p.V))
		}
	})
}

// scan returns every pair of r in [lo, hi), copied.
func scan(t *testing.T, r store.Reader, lo, hi []byte) []Pair {
	t.Helper()
	got := []Pair{}
	if err := r.Scan(lo, hi, func(k, v []byte) error {
		got = append(got, Pair{string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatalf("Scan(%q, %q): %v", lo, hi, err)
	}
	return got
}

func wantScan(t *testing.T, r store.Reader, lo, hi []byte, want ...Pair) {
	t.Helper()
	if want == nil {
		want = []Pair{}
	}
	if got := scan(t, r, lo, hi); !slices.Equal(got, want) {
		t.Errorf("Scan(%q, %q) = %v, want %v", lo, hi, got, want)
	}
}

func wantValue(t *testing.T, r store.Reader, k, want string) {
	t.Helper()
	v, err := r.Get([]byte(k))
	if err != nil {
		t.Errorf("Get(%q): %v, want %q", k, err, want)
		return
	}
	if v == nil || string(v) != want {
		t.Errorf("Get(%q) = %#v, want %q", k, v, want)
	}
}

func wantAbsent(t *testing.T, r store.Reader, k string) {
	t.Helper()
	v, err := r.Get([]byte(k))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(%q) = %q, %v, want store.ErrNotFound", k, v, err)
	}
	if v != nil {
		t.Errorf("Get(%q) of an absent key returned a value %#v", k, v)
	}
}

func testGetSetDelete(t *testing.T, kv store.KV) {
	wantAbsent(t, kv, "a")
	set(t, kv, Pair{"a", "1"}, Pair{"b", "2"})
	wantValue(t, kv, "a", "1")
	wantValue(t, kv, "b", "2")

	// Get returns a copy.
	v, err := kv.Get([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'x'
	wantValue(t, kv, "a", "1")

	set(t, kv, Pair{"a", "one"})
	wantValue(t, kv, "a", "one")
	commit(t, kv, func(b store.Batch) {
		b.Delete([]byte("a"))
		b.Delete([]byte("never set")) // deleting an absent key is no error
	})
	wantAbsent(t, kv, "a")
	wantAbsent(t, kv, "never set")
	wantValue(t, kv, "b", "2")
	wantScan(t, kv, nil, nil, Pair{"b", "2"})
}

func testEmptyValue(t *testing.T, kv store.KV) {
	commit(t, kv, func(b store.Batch) {
		b.Set([]byte("empty"), []byte{})
		b.Set([]byte("nil"), nil)
	})
	for _, k := range []string{"empty", "nil"} {
		v, err := kv.Get([]byte(k))
		if err != nil || v == nil || len(v) != 0 {
			t.Errorf("Get(%q) = %#v, %v, want []byte{}, nil", k, v, err)
		}
	}
	wantScan(t, kv, nil, nil, Pair{"empty", ""}, Pair{"nil", ""})

	// An empty value is a value: expecting it holds, expecting the key to
	// be absent does not.
	b := kv.NewBatch()
	b.Expect([]byte("empty"), []byte{})
	b.Set([]byte("after"), []byte("x"))
	if err := b.Commit(true); err != nil {
		t.Errorf("Commit with Expect(empty, []byte{}) of a key set to an empty value: %v", err)
	}
	b.Close()
	b = kv.NewBatch()
	b.Expect([]byte("empty"), nil)
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Commit with Expect(empty, nil) of a key set to an empty value: %v, want store.ErrConflict", err)
	}
	b.Close()
	b = kv.NewBatch()
	b.Expect([]byte("absent"), []byte{})
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Commit with Expect(absent, []byte{}): %v, want store.ErrConflict", err)
	}
	b.Close()
	wantValue(t, kv, "after", "x")
}

func testBatchCopies(t *testing.T, kv store.KV) {
	k, v := []byte("key"), []byte("value")
	lo, hi := []byte("r0"), []byte("r9")
	set(t, kv, Pair{"r5", "x"}, Pair{"gone", "x"})
	gone := []byte("gone")
	b := kv.NewBatch()
	b.Set(k, v)
	b.DeleteRange(lo, hi)
	b.Delete(gone)
	b.Expect(k, nil)
	// The caller reuses its buffers before the commit.
	copy(k, "kex")
	copy(v, "VALUE")
	copy(lo, "zz")
	copy(hi, "zz")
	copy(gone, "xxxx")
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	wantScan(t, kv, nil, nil, Pair{"key", "value"})
}

// orderKeys hold the bytes that order differently as signed chars, as
// UTF-8 or under a collation: 0x00, 0x7f, 0x80, 0xff, and prefixes.
var orderKeys = [][]byte{
	{0x00},
	{0x00, 0x00},
	{0x00, 0x00, 0x00},
	{0x00, 0x01},
	{0x00, 0xff},
	{0x01},
	{'A'},
	{'B'},
	{'a'},
	{'a', 0x00},
	{'a', 0xff},
	{'b'},
	{0x7f},
	{0x7f, 0xff},
	{0x80},
	{0x80, 0x00},
	{0xc3, 0xa9}, // é in UTF-8
	{0xfe, 0xff, 0xff},
	{0xff},
	{0xff, 0x00},
	{0xff, 0xff},
	{0xff, 0xff, 0xff},
}

func testScanOrder(t *testing.T, kv store.KV) {
	want := make([]Pair, len(orderKeys))
	for i, k := range orderKeys {
		want[i] = Pair{string(k), fmt.Sprint(i)}
	}
	if !slices.IsSortedFunc(want, func(a, b Pair) int { return bytes.Compare([]byte(a.K), []byte(b.K)) }) {
		t.Fatal("orderKeys are not in byte order")
	}
	shuffled := slices.Clone(want)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	set(t, kv, shuffled...)
	wantScan(t, kv, nil, nil, want...)
	for i, p := range want {
		wantValue(t, kv, p.K, p.V)
		// From each key on, and up to each key.
		wantScan(t, kv, []byte(p.K), nil, want[i:]...)
		wantScan(t, kv, nil, []byte(p.K), want[:i]...)
	}
	wantScan(t, kv, []byte{0x00, 0x00}, []byte{0x00, 0xff, 0x00}, want[1:5]...)
	wantScan(t, kv, []byte{0x7f}, []byte{0xff}, want[12:18]...)
	wantScan(t, kv, []byte{0xff}, store.PrefixEnd([]byte{0xff}), want[18:]...)
}

func testScanBounds(t *testing.T, kv store.KV) {
	all := []Pair{{"a", "1"}, {"b", "2"}, {"b\x00", "3"}, {"ba", "4"}, {"c", "5"}, {"d", "6"}}
	set(t, kv, all...)
	for _, tt := range []struct {
		lo, hi string
		nilLo  bool
		nilHi  bool
		want   []Pair
	}{
		{nilLo: true, nilHi: true, want: all},
		{lo: "b", nilHi: true, want: all[1:]},
		{nilLo: true, hi: "c", want: all[:4]},
		{lo: "b", hi: "c", want: all[1:4]},         // lo inclusive, hi exclusive
		{lo: "a\x00", hi: "b\x00", want: all[1:2]}, // bounds between keys
		{lo: "b", hi: "b", want: nil},              // empty range
		{lo: "bb", hi: "bc", want: nil},            // nothing in range
		{lo: "e", nilHi: true, want: nil},          // past the last key
		{lo: "b", hi: string(store.PrefixEnd([]byte("b"))), want: all[1:4]},
	} {
		var lo, hi []byte
		if !tt.nilLo {
			lo = []byte(tt.lo)
		}
		if !tt.nilHi {
			hi = []byte(tt.hi)
		}
		wantScan(t, kv, lo, hi, tt.want...)
	}
}

func testScanStops(t *testing.T, kv store.KV) {
	var pairs []Pair
	for i := range 50 {
		pairs = append(pairs, Pair{fmt.Sprintf("k%02d", i), "v"})
	}
	set(t, kv, pairs...)
	stop := errors.New("stop here")
	for _, n := range []int{1, 2, 7, 50} {
		var seen []string
		err := kv.Scan(nil, nil, func(k, _ []byte) error {
			seen = append(seen, string(k))
			if len(seen) == n {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("Scan whose fn fails at key %d: %v, want fn's error", n, err)
		}
		if len(seen) != n || seen[n-1] != pairs[n-1].K {
			t.Errorf("Scan whose fn fails at key %d called it for %q", n, seen)
		}
	}
}

func testDeleteRange(t *testing.T, kv store.KV) {
	set(t, kv, Pair{"a", "1"}, Pair{"b", "2"}, Pair{"b\x00", "3"}, Pair{"c", "4"}, Pair{"c\xff", "5"}, Pair{"d", "6"}, Pair{"d\x00", "7"})
	commit(t, kv, func(b store.Batch) { b.DeleteRange([]byte("b"), []byte("d")) })
	wantScan(t, kv, nil, nil, Pair{"a", "1"}, Pair{"d", "6"}, Pair{"d\x00", "7"})
	commit(t, kv, func(b store.Batch) { b.DeleteRange([]byte("x"), []byte("z")) }) // nothing there
	wantScan(t, kv, nil, nil, Pair{"a", "1"}, Pair{"d", "6"}, Pair{"d\x00", "7"})
	commit(t, kv, func(b store.Batch) { b.DeleteRange([]byte("d"), store.PrefixEnd([]byte("d"))) })
	wantScan(t, kv, nil, nil, Pair{"a", "1"})
	wantAbsent(t, kv, "b")
	wantAbsent(t, kv, "d\x00")
}

func testBatchOrder(t *testing.T, kv store.KV) {
	set(t, kv, Pair{"e1", "old"}, Pair{"e2", "old"}, Pair{"g", "old"})
	commit(t, kv, func(b store.Batch) {
		b.Set([]byte("a"), []byte("1")) // set, then deleted
		b.Delete([]byte("a"))
		b.Delete([]byte("b")) // deleted, then set
		b.Set([]byte("b"), []byte("2"))
		b.Set([]byte("c"), []byte("1")) // the last of several values
		b.Set([]byte("x"), []byte("1"))
		b.Set([]byte("c"), []byte("2"))
		b.Set([]byte("c"), []byte("3"))
		b.Set([]byte("d1"), []byte("1")) // set, then its range deleted
		b.DeleteRange([]byte("d"), []byte("e"))
		b.DeleteRange([]byte("e"), []byte("f")) // range deleted, then set
		b.Set([]byte("e2"), []byte("new"))
		b.Delete([]byte("g")) // deleted, set, deleted, set
		b.Set([]byte("g"), []byte("1"))
		b.Delete([]byte("g"))
		b.Set([]byte("g"), []byte("2"))
		b.Set([]byte("x"), []byte("2"))
	})
	wantScan(t, kv, nil, nil, Pair{"b", "2"}, Pair{"c", "3"}, Pair{"e2", "new"}, Pair{"g", "2"}, Pair{"x", "2"})
}

func testBatchAtomicity(t *testing.T, kv store.KV) {
	before := []Pair{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"expected", "this"}}
	set(t, kv, before...)
	b := kv.NewBatch()
	b.Set([]byte("a"), []byte("changed"))
	b.Set([]byte("new"), []byte("x"))
	b.Delete([]byte("b"))
	b.DeleteRange([]byte("c"), []byte("d"))
	b.Expect([]byte("expected"), []byte("that"))
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit with a failing Expect: %v, want store.ErrConflict", err)
	}
	b.Close()
	wantScan(t, kv, nil, nil, before...)

	// Only the failing one of several expectations.
	b = kv.NewBatch()
	b.Expect([]byte("a"), []byte("1"))
	b.Expect([]byte("absent"), nil)
	b.Set([]byte("a"), []byte("changed"))
	b.Expect([]byte("b"), nil)
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit with one failing Expect of three: %v, want store.ErrConflict", err)
	}
	b.Close()
	wantScan(t, kv, nil, nil, before...)
}

func testExpect(t *testing.T, kv store.KV) {
	set(t, kv, Pair{"present", "v"})
	for _, tt := range []struct {
		name   string
		k      string
		v      []byte
		holds  bool
		writes string // the key the batch sets when it holds
	}{
		{"absent, expected absent", "absent", nil, true, "w1"},
		{"absent, expected a value", "absent", []byte("v"), false, "w2"},
		{"present, expected absent", "present", nil, false, "w3"},
		{"present, expected its value", "present", []byte("v"), true, "w4"},
		{"present, expected another value", "present", []byte("w"), false, "w5"},
		{"present, expected a longer value", "present", []byte("vv"), false, "w6"},
	} {
		b := kv.NewBatch()
		b.Expect([]byte(tt.k), tt.v)
		b.Set([]byte(tt.writes), []byte("x"))
		err := b.Commit(true)
		b.Close()
		switch {
		case tt.holds && err != nil:
			t.Errorf("%s: Commit: %v, want nil", tt.name, err)
		case !tt.holds && !errors.Is(err, store.ErrConflict):
			t.Errorf("%s: Commit: %v, want store.ErrConflict", tt.name, err)
		}
		if tt.holds {
			wantValue(t, kv, tt.writes, "x")
		} else {
			wantAbsent(t, kv, tt.writes)
		}
	}

	// An expectation is checked against the state before the batch, not
	// against the batch's own writes; and a batch of expectations alone
	// is checked too.
	b := kv.NewBatch()
	b.Set([]byte("later"), []byte("1"))
	b.Expect([]byte("later"), nil)
	if err := b.Commit(true); err != nil {
		t.Errorf("Commit expecting a key absent that the batch sets: %v", err)
	}
	b.Close()
	wantValue(t, kv, "later", "1")
	b = kv.NewBatch()
	b.Expect([]byte("later"), []byte("2"))
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Commit of a batch of one failing Expect: %v, want store.ErrConflict", err)
	}
	b.Close()

	// A key written after an expectation was taken, before the commit.
	b = kv.NewBatch()
	b.Expect([]byte("raced"), nil)
	b.Set([]byte("raced"), []byte("mine"))
	set(t, kv, Pair{"raced", "theirs"})
	if err := b.Commit(true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Commit expecting absent a key set since: %v, want store.ErrConflict", err)
	}
	b.Close()
	wantValue(t, kv, "raced", "theirs")
}

func testEmptyAndClose(t *testing.T, kv store.KV) {
	b := kv.NewBatch()
	if !b.Empty() {
		t.Error("a new batch is not Empty")
	}
	b.Expect([]byte("k"), nil)
	if !b.Empty() {
		t.Error("a batch of an Expect alone is not Empty")
	}
	b.Set([]byte("k"), []byte("v"))
	if b.Empty() {
		t.Error("a batch with a Set is Empty")
	}
	b.Close() // not committed: writes nothing
	wantAbsent(t, kv, "k")

	for name, write := range map[string]func(b store.Batch){
		"Delete":      func(b store.Batch) { b.Delete([]byte("k")) },
		"DeleteRange": func(b store.Batch) { b.DeleteRange([]byte("a"), []byte("z")) },
	} {
		b := kv.NewBatch()
		write(b)
		if b.Empty() {
			t.Errorf("a batch with a %s is Empty", name)
		}
		b.Close()
	}

	b = kv.NewBatch()
	if err := b.Commit(true); err != nil {
		t.Errorf("Commit of an empty batch: %v", err)
	}
	b.Close()
	b = kv.NewBatch()
	b.Set([]byte("nosync"), []byte("v"))
	if err := b.Commit(false); err != nil {
		t.Errorf("Commit(false): %v", err)
	}
	b.Close()
	wantScan(t, kv, nil, nil, Pair{"nosync", "v"})
}

func testSnapshot(t *testing.T, kv store.KV) {
	set(t, kv, Pair{"a", "1"}, Pair{"b", "1"}, Pair{"c", "1"}, Pair{"c1", "1"})
	snap := kv.NewSnapshot()
	commit(t, kv, func(b store.Batch) {
		b.Set([]byte("a"), []byte("2"))
		b.Delete([]byte("b"))
		b.DeleteRange([]byte("c"), []byte("d"))
		b.Set([]byte("d"), []byte("2"))
	})
	// The snapshot keeps the state as of its creation...
	wantValue(t, snap, "a", "1")
	wantValue(t, snap, "b", "1")
	wantAbsent(t, snap, "d")
	wantScan(t, snap, nil, nil, Pair{"a", "1"}, Pair{"b", "1"}, Pair{"c", "1"}, Pair{"c1", "1"})
	wantScan(t, snap, []byte("b"), []byte("c1"), Pair{"b", "1"}, Pair{"c", "1"})
	// ...while the KV has moved on.
	wantScan(t, kv, nil, nil, Pair{"a", "2"}, Pair{"d", "2"})
	// Its Get returns copies too.
	v, err := snap.Get([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'x'
	wantValue(t, snap, "a", "1")
	// A Scan's fn may read the snapshot.
	if err := snap.Scan(nil, nil, func(k, _ []byte) error {
		_, err := snap.Get(k)
		return err
	}); err != nil {
		t.Errorf("Get inside a Scan of the snapshot: %v", err)
	}
	if err := snap.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	later := kv.NewSnapshot()
	wantScan(t, later, nil, nil, Pair{"a", "2"}, Pair{"d", "2"})
	if err := later.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func testLargeBatch(t *testing.T, kv store.KV) {
	const n = 10_000
	want := make([]Pair, n)
	b := kv.NewBatch()
	for i := range want {
		want[i] = Pair{fmt.Sprintf("big/%05d", i), fmt.Sprintf("value of %d, %x", i, i*7919)}
	}
	// Set in an order that is not the keys'.
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		b.Set([]byte(want[i].K), []byte(want[i].V))
	}
	start := time.Now()
	if err := b.Commit(true); err != nil {
		t.Fatalf("Commit of %d Sets: %v", n, err)
	}
	t.Logf("Commit of a batch of %d Sets: %v", n, time.Since(start))
	b.Close()
	got := scan(t, kv, []byte("big/"), store.PrefixEnd([]byte("big/")))
	if len(got) != n {
		t.Fatalf("Scan after a batch of %d Sets: %d pairs", n, len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Scan after a batch of %d Sets: pair %d = %v, want %v", n, i, got[i], want[i])
		}
	}
	wantValue(t, kv, want[4321].K, want[4321].V)
	commit(t, kv, func(b store.Batch) { b.DeleteRange([]byte("big/"), store.PrefixEnd([]byte("big/"))) })
	wantScan(t, kv, nil, nil)
}

func testConcurrentExpect(t *testing.T, kv store.KV) {
	const rounds = 20
	for r := range rounds {
		k := []byte(fmt.Sprintf("link/%02d", r))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [2]error
		)
		for i := range errs {
			b := kv.NewBatch()
			b.Expect(k, nil)
			b.Set(k, []byte(fmt.Sprint("writer ", i)))
			b.Set([]byte(fmt.Sprintf("side/%02d/%d", r, i)), []byte("x"))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer b.Close()
				<-start
				errs[i] = b.Commit(true)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner == -1:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both batches expecting %q absent committed", r, k)
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: writer %d: %v, want nil or store.ErrConflict", r, i, err)
			}
		}
		if winner == -1 {
			t.Fatalf("round %d: neither batch committed: %v", r, errs)
		}
		wantValue(t, kv, string(k), fmt.Sprint("writer ", winner))
		wantScan(t, kv, []byte(fmt.Sprintf("side/%02d/", r)), store.PrefixEnd([]byte(fmt.Sprintf("side/%02d/", r))),
			Pair{fmt.Sprintf("side/%02d/%d", r, winner), "x"})
	}
}
