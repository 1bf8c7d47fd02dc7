package log

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// groupWriter builds and commits group batches. It is owned by the
// committer goroutine; its buffers are reused across groups.
type groupWriter struct {
	l    *Log
	work map[StreamID]*pending
	key  []byte
	val  []byte
}

// pending is a stream's state as the group under construction leaves it.
type pending struct {
	s  *stream
	st state
}

func newGroupWriter(l *Log) *groupWriter {
	return &groupWriter{l: l, work: make(map[StreamID]*pending)}
}

// commit writes every request of group in one synced batch and sets each
// request's first offset or error.
func (w *groupWriter) commit(group []*appendReq) {
	l := w.l
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	clear(w.work)
	b := l.db.NewBatch()
	defer b.Close()
	now := l.opts.Now().UnixNano()
	live, n := 0, 0
	for _, req := range group {
		p, err := w.pendingFor(req.id)
		if err != nil {
			req.err = err
			continue
		}
		req.first = p.st.next
		for i := range req.recs {
			w.add(b, req.id, &p.st, &req.recs[i], now)
		}
		live++
		n += len(req.recs)
	}
	if live == 0 {
		return
	}
	for id, p := range w.work {
		w.key = append(w.key[:0], stateKey(id)...)
		if err := b.Set(w.key, p.st.encode(), nil); err != nil {
			w.fail(group, err)
			return
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		w.fail(group, err)
		return
	}
	for _, p := range w.work {
		l.publish(p.s, p.st, false)
	}
	l.commits.Add(1)
	l.appends.Add(uint64(live))
	l.records.Add(uint64(n))
}

func (w *groupWriter) pendingFor(id StreamID) (*pending, error) {
	if p := w.work[id]; p != nil {
		return p, nil
	}
	l := w.l
	l.mu.Lock()
	s, err := l.load(id)
	dropped := s != nil && s.dropped
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if dropped {
		return nil, ErrDropped
	}
	p := &pending{s: s, st: s.st}
	w.work[id] = p
	return p, nil
}

// add puts one record into the batch and advances st.
func (w *groupWriter) add(b *pebble.Batch, id StreamID, st *state, r *Record, now int64) {
	nanos := now
	if !r.Time.IsZero() {
		nanos = r.Time.UnixNano()
	}
	// INVARIANT: acceptance times are non-decreasing in offset order.
	if st.next > 0 && nanos < st.lastNanos {
		nanos = st.lastNanos
	}
	r.Offset, r.Time = st.next, timeFromNanos(nanos)
	ms := millisOf(nanos)
	if st.first == st.next || millisOf(st.lastNanos) != ms {
		w.key = append(w.key[:0], timeKey(id, ms)...)
		w.val = binary.AppendUvarint(w.val[:0], r.Offset)
		_ = b.Set(w.key, w.val, nil) // errors only on a committed batch
	}
	w.key = append(w.key[:0], recordKey(id, r.Offset)...)
	w.val = appendRecordValue(w.val[:0], r)
	_ = b.Set(w.key, w.val, nil)
	st.next++
	st.bytes += uint64(len(w.val))
	st.lastNanos = nanos
}

// fail gives every request of the group that has no error yet err. Nothing
// was published, so the offsets the group would have used are used again.
func (w *groupWriter) fail(group []*appendReq, err error) {
	w.l.opts.Logger.Error("log: group commit failed", "err", err)
	for _, req := range group {
		if req.err == nil {
			req.err = fmt.Errorf("log: commit: %w", err)
		}
	}
}
