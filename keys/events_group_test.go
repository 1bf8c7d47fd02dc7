package keys_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
)

// groupAppend is one append of a group, driven through its Pending as the
// log's committer drives it: its stream, the offset of its first record,
// and per record the link Event tells ('a' and 'b' of stream 1, 'c' of
// stream 2), or '.' for records whose events are not told (an append
// that keeps no index). refused makes Add get one record more than the
// events told, so that it fails.
type groupAppend struct {
	stream  uint64
	first   uint64
	links   string
	refused bool
}

// How a group ends.
const (
	written      = iota
	abandoned    // the batch is not written, after the EndGroups (a failed WAL write)
	abandonEarly // the batch is not written, before any EndGroup (another Also's EndGroup failed)
)

// groupStep is one step of a table case: a group commit, a catch-up
// (IndexEvents) or a reopen; then what the index holds. A nil want field
// keeps the previous step's.
type groupStep struct {
	group []groupAppend
	end   int // written, abandoned, abandonEarly

	index    bool // IndexEvents(indexStream, from, to, indexSpans) instead
	from, to uint64
	spans    map[byte]keys.EventSpan

	reopen bool

	cursors map[uint64]keys.EventCursor // streams 1 and 2
	links   map[byte][]keys.EventSpan   // EventSpans of a, b and c
	entries map[uint64][]uint64         // the offsets of the appends entries of streams 1 and 2
}

// groupEnv drives Pendings directly on an env.
type groupEnv struct {
	*env
	links map[byte]*keys.Key
}

func newGroupEnv(t *testing.T) *groupEnv {
	e := newEnv(t, location{fs: vfs.NewMem(), dir: "data"})
	g := &groupEnv{env: e}
	g.loadLinks()
	return g
}

func (g *groupEnv) loadLinks() {
	g.links = map[byte]*keys.Key{
		'a': g.mustFor(1, "s1", "alice"),
		'b': g.mustFor(1, "s2", "bob"),
		'c': g.mustFor(2, "s1", "carol"),
	}
}

// commit runs one group: every Add, every EndGroup of an Add that succeeded,
// the batch's commit (unless abandoned), every Done. It fails the test
// only once every Done is called: a group holds the Keys' locks.
func (g *groupEnv) commit(group []groupAppend, end int) {
	g.t.Helper()
	b := store.PebbleKV(g.db).NewBatch()
	defer b.Close()
	var errs []error
	ps := make([]*keys.Pending, len(group))
	added := make([]bool, len(group))
	for i, a := range group {
		p := g.ks.Pending()
		for _, l := range []byte(a.links) {
			if l != '.' {
				p.Event(g.links[l])
			}
		}
		n := len(a.links)
		if a.refused {
			n++
		}
		ps[i] = p
		err := p.Add(b, a.first, n)
		added[i] = err == nil
		if a.refused != (err != nil) {
			errs = append(errs, err, errors.New("unexpected verdict of Add"))
		}
	}
	if end != abandonEarly {
		for i, p := range ps {
			if added[i] {
				if err := p.EndGroup(b); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if end == written {
		if err := b.Commit(true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range ps {
		p.Done(end == written)
		p.Release()
	}
	if err := errors.Join(errs...); err != nil {
		g.t.Fatal(err)
	}
}

// want asserts exactly what the index holds: the cursor of streams 1 and
// 2, the spans of links a, b and c (none when absent), and the offsets
// of the appends entries stored for streams 1 and 2.
func (g *groupEnv) want(step int, cursors map[uint64]keys.EventCursor, links map[byte][]keys.EventSpan, entries map[uint64][]uint64) {
	g.t.Helper()
	for _, s := range []uint64{1, 2} {
		if got, err := g.ks.EventsIndexed(streamID(s)); got != cursors[s] || err != nil {
			g.t.Errorf("step %d: EventsIndexed(%d) = %+v, %v; want %+v", step, s, got, err, cursors[s])
		}
		stored, err := keys.AppendsEntries(g.ks, streamID(s))
		if err != nil {
			g.t.Fatal(err)
		}
		var firsts []uint64
		for _, e := range stored {
			firsts = append(firsts, e.First)
		}
		if !slices.Equal(firsts, entries[s]) {
			g.t.Errorf("step %d: appends entries of stream %d at %v; want %v", step, s, firsts, entries[s])
		}
	}
	for _, l := range []byte("abc") {
		if got, err := g.ks.EventSpans(g.links[l].ID); !slices.Equal(got, links[l]) || err != nil {
			g.t.Errorf("step %d: EventSpans(%c) = %+v, %v; want %+v", step, l, got, err, links[l])
		}
	}
	g.check()
}

// The appends of a group keep the event index with one appends entry per
// stream, keyed by the group's first append to it, and one cursor write:
// EventSpans and the cursors are exact after each group, after folds
// inside a group (a chunk boundary, a gap), abandoned groups and their
// retries, and after a reopen (state read back from Pebble).
func TestEventIndexGroups(t *testing.T) {
	type cursors = map[uint64]keys.EventCursor
	type links = map[byte][]keys.EventSpan
	type entries = map[uint64][]uint64
	for _, tc := range []struct {
		name  string
		steps []groupStep
	}{
		{"one stream, several appends a group", []groupStep{
			{group: []groupAppend{{1, 0, "aba", false}, {1, 3, "a", false}, {1, 4, "bb", false}},
				cursors: cursors{1: {Next: 6}},
				links:   links{'a': {{0, 3, 3}}, 'b': {{1, 5, 3}}},
				entries: entries{1: {0}}},
			{group: []groupAppend{{1, 6, "a", false}, {1, 7, "b", false}, {1, 8, "ab", false}},
				cursors: cursors{1: {Next: 10}},
				links:   links{'a': {{0, 8, 5}}, 'b': {{1, 9, 5}}},
				entries: entries{1: {0, 6}}},
			{reopen: true},
			{group: []groupAppend{{1, 10, "b", false}},
				cursors: cursors{1: {Next: 11}},
				links:   links{'a': {{0, 8, 5}}, 'b': {{1, 10, 6}}},
				entries: entries{1: {0, 6, 10}}},
		}},
		{"two streams in one group", []groupStep{
			{group: []groupAppend{{1, 0, "a", false}, {2, 0, "cc", false}, {1, 1, "ba", false}, {2, 2, "c", false}, {1, 3, "b", false}},
				cursors: cursors{1: {Next: 4}, 2: {Next: 3}},
				links:   links{'a': {{0, 2, 2}}, 'b': {{1, 3, 2}}, 'c': {{0, 2, 3}}},
				entries: entries{1: {0}, 2: {0}}},
			{reopen: true},
			{group: []groupAppend{{2, 3, "c", false}, {1, 4, "a", false}},
				cursors: cursors{1: {Next: 5}, 2: {Next: 4}},
				links:   links{'a': {{0, 4, 3}}, 'b': {{1, 3, 2}}, 'c': {{0, 3, 4}}},
				entries: entries{1: {0, 4}, 2: {0, 3}}},
		}},
		{"a group crossing a chunk boundary folds inside it", []groupStep{
			{index: true, from: 0, to: 65528,
				cursors: cursors{1: {Next: 65528}}},
			{group: []groupAppend{{1, 65528, "ba", false}},
				cursors: cursors{1: {Next: 65530}},
				links:   links{'a': {{65529, 65529, 1}}, 'b': {{65528, 65528, 1}}},
				entries: entries{1: {65528}}},
			// The append at 65533 ends past the boundary, in the chunk
			// where it began; the one at 65537 begins in the next chunk
			// and folds everything before it, this group's appends too:
			// the group's entry holds only the appends from 65537.
			{group: []groupAppend{{1, 65530, "aaa", false}, {2, 0, "c", false}, {1, 65533, "bbbb", false}, {1, 65537, "ab", false}, {1, 65539, "a", false}},
				cursors: cursors{1: {Next: 65540}, 2: {Next: 1}},
				links:   links{'a': {{65529, 65532, 4}, {65537, 65539, 2}}, 'b': {{65528, 65536, 5}, {65538, 65538, 1}}, 'c': {{0, 0, 1}}},
				entries: entries{1: {65537}, 2: {0}}},
			{reopen: true},
			{group: []groupAppend{{1, 65540, "b", false}},
				cursors: cursors{1: {Next: 65541}, 2: {Next: 1}},
				links:   links{'a': {{65529, 65532, 4}, {65537, 65539, 2}}, 'b': {{65528, 65536, 5}, {65538, 65540, 2}}, 'c': {{0, 0, 1}}},
				entries: entries{1: {65537, 65540}, 2: {0}}},
		}},
		{"a gap inside a group, its last append not indexed", []groupStep{
			// 1 and 3 keep no index: 2 records the gap [1, 2) and folds
			// 0; 4 comes while the gap is open and is not indexed, so
			// the entry holds 2 alone and the cursor stops at 3.
			{group: []groupAppend{{1, 0, "a", false}, {1, 1, ".", false}, {1, 2, "b", false}, {1, 3, ".", false}, {1, 4, "a", false}},
				cursors: cursors{1: {Next: 3, GapFrom: 1, GapTo: 2}},
				links:   links{'a': {{0, 0, 1}}, 'b': {{2, 2, 1}}},
				entries: entries{1: {2}}},
			// A group after the gap, none of it indexed: it writes
			// nothing.
			{group: []groupAppend{{1, 5, "a", false}, {1, 6, "b", false}}},
			{reopen: true},
			{index: true, from: 1, to: 2,
				cursors: cursors{1: {Next: 3}},
				entries: entries{}},
			{index: true, from: 3, to: 7, spans: map[byte]keys.EventSpan{'a': {4, 5, 2}, 'b': {6, 6, 1}},
				cursors: cursors{1: {Next: 7}},
				links:   links{'a': {{0, 0, 1}, {4, 5, 2}}, 'b': {{2, 2, 1}, {6, 6, 1}}}},
			{group: []groupAppend{{1, 7, "ab", false}},
				cursors: cursors{1: {Next: 9}},
				links:   links{'a': {{0, 0, 1}, {4, 5, 2}, {7, 7, 1}}, 'b': {{2, 2, 1}, {6, 6, 1}, {8, 8, 1}}},
				entries: entries{1: {7}}},
		}},
		{"a group after records kept without index", []groupStep{
			{group: []groupAppend{{1, 0, "aa", false}},
				cursors: cursors{1: {Next: 2}},
				links:   links{'a': {{0, 1, 2}}},
				entries: entries{1: {0}}},
			{group: []groupAppend{{1, 2, "..", false}, {1, 4, ".", false}}},
			// The first indexed append records the gap [2, 5) and folds
			// the entry at 0; the group's entry starts at 5.
			{group: []groupAppend{{1, 5, "b", false}, {1, 6, "ab", false}},
				cursors: cursors{1: {Next: 8, GapFrom: 2, GapTo: 5}},
				links:   links{'a': {{0, 1, 2}, {6, 6, 1}}, 'b': {{5, 7, 2}}},
				entries: entries{1: {5}}},
			{reopen: true},
			{index: true, from: 2, to: 5, spans: map[byte]keys.EventSpan{'b': {3, 3, 1}},
				cursors: cursors{1: {Next: 8}},
				links:   links{'a': {{0, 1, 2}, {6, 6, 1}}, 'b': {{3, 3, 1}, {5, 7, 2}}},
				entries: entries{}},
		}},
		{"an abandoned group, then its retry", []groupStep{
			{group: []groupAppend{{1, 0, "a", false}},
				cursors: cursors{1: {Next: 1}},
				links:   links{'a': {{0, 0, 1}}},
				entries: entries{1: {0}}},
			{group: []groupAppend{{1, 1, "ab", false}, {2, 0, "c", false}, {1, 3, "b", false}}, end: abandoned},
			{group: []groupAppend{{1, 1, "b", false}, {2, 0, "cc", false}},
				cursors: cursors{1: {Next: 2}, 2: {Next: 2}},
				links:   links{'a': {{0, 0, 1}}, 'b': {{1, 1, 1}}, 'c': {{0, 1, 2}}},
				entries: entries{1: {0, 1}, 2: {0}}},
			{group: []groupAppend{{2, 2, "c", false}, {1, 2, "a", false}}, end: abandonEarly},
			{reopen: true},
			{group: []groupAppend{{2, 2, "c", false}, {1, 2, "a", false}},
				cursors: cursors{1: {Next: 3}, 2: {Next: 3}},
				links:   links{'a': {{0, 2, 2}}, 'b': {{1, 1, 1}}, 'c': {{0, 2, 3}}},
				entries: entries{1: {0, 1, 2}, 2: {0, 2}}},
		}},
		{"an abandoned group that folded inside, then its retry", []groupStep{
			{index: true, from: 0, to: 65534,
				cursors: cursors{1: {Next: 65534}}},
			{group: []groupAppend{{1, 65534, "a", false}},
				cursors: cursors{1: {Next: 65535}},
				links:   links{'a': {{65534, 65534, 1}}},
				entries: entries{1: {65534}}},
			{group: []groupAppend{{1, 65535, "b", false}, {1, 65536, "a", false}}, end: abandoned},
			{group: []groupAppend{{1, 65535, "bb", false}, {1, 65537, "a", false}},
				cursors: cursors{1: {Next: 65538}},
				links:   links{'a': {{65534, 65534, 1}, {65537, 65537, 1}}, 'b': {{65535, 65536, 2}}},
				entries: entries{1: {65537}}},
			{reopen: true},
		}},
		{"a refused Add inside a group", []groupStep{
			// The refused append's offsets go to the next one.
			{group: []groupAppend{{1, 0, "a", false}, {1, 1, "ab", true}, {1, 1, "b", false}, {2, 0, "cc", true}},
				cursors: cursors{1: {Next: 2}},
				links:   links{'a': {{0, 0, 1}}, 'b': {{1, 1, 1}}},
				entries: entries{1: {0}}},
			{reopen: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupEnv(t)
			var cur map[uint64]keys.EventCursor
			var spans map[byte][]keys.EventSpan
			var ents map[uint64][]uint64
			for i, s := range tc.steps {
				switch {
				case s.reopen:
					g.reopen()
					g.loadLinks()
				case s.index:
					m := map[string]keys.EventSpan{}
					for l, sp := range s.spans {
						m[g.links[l].ID] = sp
					}
					if err := g.ks.IndexEvents(1, s.from, s.to, m); err != nil {
						t.Fatalf("step %d: IndexEvents(1, %d, %d): %v", i, s.from, s.to, err)
					}
				default:
					g.commit(s.group, s.end)
				}
				if s.cursors != nil {
					cur = s.cursors
				}
				if s.links != nil {
					spans = s.links
				}
				if s.entries != nil {
					ents = s.entries
				}
				g.want(i, cur, spans, ents)
			}
		})
	}
}

// A group's entry has the encoding of one append's entry (keys/doc.go):
// per link its ID, then its first position among the group's records,
// last - first and count, as uvarints, in the order of the links' first
// events. Entries an older version wrote, one per append, read the same
// and fold with a group's.
func TestEventIndexGroupEntryEncoding(t *testing.T) {
	g := newGroupEnv(t)
	a, b := g.links['a'], g.links['b']
	uv := func(xs ...uint64) []byte {
		var out []byte
		for _, x := range xs {
			out = binary.AppendUvarint(out, x)
		}
		return out
	}
	id := func(k *keys.Key) []byte {
		u := uuid.MustParse(k.ID)
		return u[:]
	}
	entry := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	g.commit([]groupAppend{{1, 0, "a", false}, {1, 1, "ba", false}}, written)
	stored, err := keys.AppendsEntries(g.ks, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := entry(id(a), uv(0, 2, 2), id(b), uv(1, 0, 1))
	if len(stored) != 1 || stored[0].First != 0 || !bytes.Equal(stored[0].Value, want) {
		t.Fatalf("appends entries %+v; want one at 0 holding %x", stored, want)
	}

	// Entries as an older version wrote them after it: one per append
	// (b at 3; b at 4 and a at 5), keyed {SpaceKeys, 'a', stream, first
	// offset}; the cursor {SpaceKeys, 'i', stream} at 6.
	g.close()
	db := openDB(t, g.loc)
	key := func(kind byte, parts ...uint64) []byte {
		k := []byte{store.SpaceKeys, kind}
		for _, p := range parts {
			k = binary.BigEndian.AppendUint64(k, p)
		}
		return k
	}
	batch := db.NewBatch()
	batch.Set(key('a', 1, 3), entry(id(b), uv(0, 0, 1)), nil)
	batch.Set(key('a', 1, 4), entry(id(a), uv(1, 0, 1), id(b), uv(0, 0, 1)), nil)
	batch.Set(key('i', 1), uv(6), nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	batch.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	g.open()
	g.loadLinks()
	g.want(0, map[uint64]keys.EventCursor{1: {Next: 6}},
		map[byte][]keys.EventSpan{'a': {{0, 5, 3}}, 'b': {{1, 4, 3}}},
		map[uint64][]uint64{1: {0, 3, 4}})
	g.commit([]groupAppend{{1, 6, "bb", false}}, written)
	g.want(1, map[uint64]keys.EventCursor{1: {Next: 8}},
		map[byte][]keys.EventSpan{'a': {{0, 5, 3}}, 'b': {{1, 7, 5}}},
		map[uint64][]uint64{1: {0, 3, 4, 6}})
	g.commit([]groupAppend{{1, 8, strings.Repeat("a", 65536-8), false}, {1, 65536, "b", false}}, written)
	g.want(2, map[uint64]keys.EventCursor{1: {Next: 65537}},
		map[byte][]keys.EventSpan{'a': {{0, 65535, 65531}}, 'b': {{1, 7, 5}, {65536, 65536, 1}}},
		map[uint64][]uint64{1: {65536}})
}
