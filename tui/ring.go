package tui

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// row is one tailed record and, once it has been on screen, its table
// fields (parsing JSON is the costly part of a row, so only rows that are
// shown pay it).
type row struct {
	rec    *v1.Record
	fields []cell
	parsed bool
}

// ring holds the newest rows of a tail, at most len(buf). Rows are
// numbered by a sequence that never repeats within one tail (seq), so a
// selection survives the eviction of older rows.
//
// INVARIANT: rows are in offset order (one Tail delivers them so), and
// matches holds, in order, the seqs of held rows that pass the filter.
type ring struct {
	buf     []row
	start   int    // index in buf of the oldest row
	n       int    // rows held
	base    uint64 // seq of the oldest row
	filter  *fieldFilter
	matches []uint64
}

func newRing(capacity int) *ring { return &ring{buf: make([]row, max(capacity, 1))} }

func (r *ring) full() bool { return r.n == len(r.buf) }

// room is how many rows fit before the oldest is evicted.
func (r *ring) room() int { return len(r.buf) - r.n }

// end is the seq the next pushed row gets.
func (r *ring) end() uint64 { return r.base + uint64(r.n) }

func (r *ring) clear() {
	clear(r.buf)
	r.start, r.n, r.matches = 0, 0, r.matches[:0]
}

func (r *ring) at(seq uint64) *row {
	return &r.buf[(r.start+int(seq-r.base))%len(r.buf)]
}

func (r *ring) held(seq uint64) bool { return seq >= r.base && seq < r.end() }

// push appends a record, evicting the oldest row when full.
func (r *ring) push(rec *v1.Record) {
	if r.full() {
		r.buf[r.start] = row{}
		r.start = (r.start + 1) % len(r.buf)
		r.base++
		r.n--
		if len(r.matches) > 0 && r.matches[0] < r.base {
			r.matches = r.matches[1:]
		}
	}
	seq := r.end()
	r.buf[(r.start+r.n)%len(r.buf)] = row{rec: rec}
	r.n++
	if r.filter != nil && r.filter.match(rec) {
		r.matches = append(r.matches, seq)
	}
}

// setFilter applies f (nil: none) to the rows held and to new ones.
func (r *ring) setFilter(f *fieldFilter) {
	r.filter, r.matches = f, nil
	if f == nil {
		return
	}
	for seq := r.base; seq < r.end(); seq++ {
		if f.match(r.at(seq).rec) {
			r.matches = append(r.matches, seq)
		}
	}
}

// The visible list: every held row, or those matching the filter.

func (r *ring) visibleLen() int {
	if r.filter != nil {
		return len(r.matches)
	}
	return r.n
}

func (r *ring) visibleAt(i int) uint64 {
	if r.filter != nil {
		return r.matches[i]
	}
	return r.base + uint64(i)
}

// visibleIndex is the index of the first visible row at or after seq,
// clamped to the list (0 for an empty list).
func (r *ring) visibleIndex(seq uint64) int {
	n := r.visibleLen()
	i := sort.Search(n, func(i int) bool { return r.visibleAt(i) >= seq })
	return min(i, max(n-1, 0))
}

// findOffset is the seq of the first held row with an offset >= off, if
// off lies within the held rows.
func (r *ring) findOffset(off uint64) (uint64, bool) {
	if r.n == 0 || off < r.at(r.base).rec.Offset || off > r.at(r.end()-1).rec.Offset {
		return 0, false
	}
	i := sort.Search(r.n, func(i int) bool { return r.at(r.base+uint64(i)).rec.Offset >= off })
	return r.base + uint64(i), true
}

// findTime is the seq of the first held row accepted at or after t, if t
// lies within the held rows.
func (r *ring) findTime(t time.Time) (uint64, bool) {
	if r.n == 0 || t.Before(r.at(r.base).rec.Time.AsTime()) || t.After(r.at(r.end()-1).rec.Time.AsTime()) {
		return 0, false
	}
	i := sort.Search(r.n, func(i int) bool { return !r.at(r.base + uint64(i)).rec.Time.AsTime().Before(t) })
	return r.base + uint64(i), true
}

// fieldFilter keeps events whose field at path has the given value
// (strings compared unquoted, other values as compact JSON).
type fieldFilter struct {
	text   string // as typed: path=value
	path   string
	value  string
	needle string // a substring every match's JSON contains ("" : none)
}

var errFilterSyntax = errors.New("a filter is field=value, e.g. customer/id=c-17 (the field path uses / for nesting)")

func parseFilter(s string) (*fieldFilter, error) {
	path, value, ok := strings.Cut(strings.TrimSpace(s), "=")
	path = strings.Trim(strings.TrimSpace(path), "/")
	if !ok || path == "" {
		return nil, errFilterSyntax
	}
	f := &fieldFilter{text: path + "=" + value, path: path, value: value}
	// Cheap pre-check on the raw JSON, so that a filter on a busy stream
	// parses only candidate rows. Values that JSON might escape get none.
	if b, err := json.Marshal(value); err == nil && string(b) == `"`+value+`"` && !strings.ContainsAny(value, `<>&`) {
		f.needle = value
	}
	return f, nil
}

func (f *fieldFilter) match(rec *v1.Record) bool {
	if f.needle != "" && !strings.Contains(rec.Json, f.needle) {
		return false
	}
	v, ok := fieldValue(rec.Json, f.path)
	return ok && v == f.value
}
