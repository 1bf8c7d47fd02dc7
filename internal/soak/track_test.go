//go:build soak

package soak

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// via is the way an event was sent.
type via uint8

const (
	viaBatch  via = iota // Connect SendEvents
	viaStream            // Connect SendEventStream
	viaHTTP              // POST /event with a bearer token
	numVia
)

var viaNames = [numVia]string{"Connect SendEvents", "Connect SendEventStream", "POST /event"}

// tracker remembers every event sent to one source stream by a unique
// marker, a decimal id in a field that is not PII (so the source stream
// shows it in plaintext): which were sent, which acknowledged and, where
// the answer says (SendEvents), at which offset. A marker is sent once: a
// request that fails is not retried with the same events, so a marker
// stored twice is a duplicate made by the server.
type tracker struct {
	stream string
	prefix string // of every marker, e.g. "soak-"

	mu       sync.Mutex
	acked    []bool
	offset   []int64 // acknowledged offset, -1 when the answer gives none
	byVia    [numVia]int
	rejected int      // events refused: none are expected
	rejects  []string // the first few refusals
}

func newTracker(stream, prefix string) *tracker {
	return &tracker{stream: stream, prefix: prefix}
}

// reserve returns the first of n new ids.
func (t *tracker) reserve(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := len(t.acked)
	for range n {
		t.acked = append(t.acked, false)
		t.offset = append(t.offset, -1)
	}
	return first
}

func (t *tracker) marker(id int) string { return t.prefix + strconv.Itoa(id) }

// id parses a marker; ok is false for anything the soak did not write.
func (t *tracker) id(marker string) (int, bool) {
	s, ok := strings.CutPrefix(marker, t.prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return n, n < len(t.acked)
}

// ack records that event id was acknowledged, at offset (or -1).
func (t *tracker) ack(id int, v via, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.acked[id] = true
	t.offset[id] = offset
	t.byVia[v]++
}

// count returns how many events were acknowledged so far.
func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for v := range numVia {
		n += t.byVia[v]
	}
	return n
}

// reject records a refused event.
func (t *tracker) reject(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rejected++
	if len(t.rejects) < 5 {
		t.rejects = append(t.rejects, msg)
	}
}

// verdict compares what the stream holds, the marker of each record in
// offset order (as read back from offset 0), with what was acknowledged.
type verdict struct {
	records      int
	acked        int
	lost         []int // acknowledged ids not in the stream
	duplicated   []int // ids stored more than once
	misplaced    []int // acknowledged at one offset, found at another
	unacked      int   // stored although the answer never came (the server died first): allowed
	foreign      int   // records whose marker the soak never sent
	offsetsDense bool
}

// check builds the verdict. offsets[i] and markers[i] are the i-th record
// read back.
func (t *tracker) check(offsets []uint64, markers []string) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := verdict{records: len(markers), offsetsDense: true}
	seen := make([]uint8, len(t.acked))
	at := make([]int64, len(t.acked))
	for i, m := range markers {
		if offsets[i] != uint64(i) {
			v.offsetsDense = false
		}
		s, ok := strings.CutPrefix(m, t.prefix)
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n < 0 || n >= len(t.acked) {
			v.foreign++
			continue
		}
		if seen[n] < 255 {
			seen[n]++
		}
		at[n] = int64(offsets[i])
	}
	for id, acked := range t.acked {
		switch {
		case seen[id] > 1:
			v.duplicated = append(v.duplicated, id)
		case !acked && seen[id] == 1:
			v.unacked++
		case acked && seen[id] == 0:
			v.lost = append(v.lost, id)
		case acked && t.offset[id] >= 0 && t.offset[id] != at[id]:
			v.misplaced = append(v.misplaced, id)
		}
		if acked {
			v.acked++
		}
	}
	return v
}

func (v verdict) failed() bool {
	return len(v.lost) > 0 || len(v.duplicated) > 0 || len(v.misplaced) > 0 || v.foreign > 0 || !v.offsetsDense
}

// some lists up to 10 ids.
func some(ids []int) string {
	if len(ids) > 10 {
		return fmt.Sprint(ids[:10]) + "..."
	}
	return fmt.Sprint(ids)
}

// TestTrackerCheck: the verdict finds each kind of fault in a made-up
// read-back, so a clean soak means the stream was clean.
func TestTrackerCheck(t *testing.T) {
	tr := newTracker("s", "m-")
	tr.reserve(6)
	tr.ack(0, viaBatch, 0)
	tr.ack(1, viaBatch, 1)
	tr.ack(2, viaHTTP, -1)
	tr.ack(3, viaStream, -1)
	tr.ack(4, viaBatch, 9)
	// 0 and 1 at the offsets acknowledged, 2 twice, 3 lost, 4 at another offset, 5
	// (never answered) stored once, and one record the soak did not write.
	v := tr.check([]uint64{0, 1, 2, 3, 4, 5, 6}, []string{"m-0", "m-1", "m-2", "m-2", "m-4", "m-5", "x"})
	if !v.failed() || !slices.Equal(v.lost, []int{3}) || !slices.Equal(v.duplicated, []int{2}) || !slices.Equal(v.misplaced, []int{4}) ||
		v.unacked != 1 || v.foreign != 1 || !v.offsetsDense || v.acked != 5 || v.records != 7 {
		t.Errorf("verdict %+v", v)
	}
	if v := tr.check([]uint64{0, 2}, []string{"m-0", "m-1"}); v.offsetsDense {
		t.Error("a gap in the offsets went unnoticed")
	}
	clean := tr.check([]uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []string{"m-0", "m-1", "m-2", "m-3", "a", "b", "c", "d", "e", "m-4"})
	if clean.foreign != 5 || len(clean.lost)+len(clean.duplicated)+len(clean.misplaced) != 0 {
		t.Errorf("verdict %+v", clean)
	}
}
