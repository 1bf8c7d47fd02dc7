package log

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/strmlocal/strmlocal/internal/store"
)

// The write path is a two-stage pipeline:
//
//	committer (run):  drain waiting appends → assign offsets → build batch →
//	                  db.ApplyNoSyncWait (WAL write, memtable) → syncq
//	syncer (syncLoop): batch.SyncWait (fsync) → publish states → answer appenders
//
// so the next group is built and written while the previous one syncs, and
// Pebble folds their fsyncs together. Correctness rests on two facts:
// ApplyNoSyncWait is only called from the committer goroutine, so the WAL
// holds groups in offset order and a synced group implies every earlier
// group is synced (no gap can survive a crash); and the syncer publishes in
// the same order, so readers see a durable prefix only.
//
// ApplyNoSyncWait is marked experimental by Pebble; go.mod pins the version
// and the crash test exercises exactly this path.

// pipelineDepth bounds the groups written but not yet synced.
const pipelineDepth = 2

type flight struct {
	b     *pebble.Batch
	group []*appendReq
	also  []Also // the Also of each request whose Add was called, in order (each gets a Done)
	work  []pending
	n     int // records in the group's live requests
	live  int // requests without an error
}

// pending is a stream's state as a group leaves it.
type pending struct {
	id StreamID
	s  *stream
	st state
}

// groupWriter builds group batches. Owned by the committer goroutine; its
// buffers are reused across groups.
type groupWriter struct {
	l     *Log
	index map[StreamID]int // position in work
	key   []byte
	val   []byte
}

func newGroupWriter(l *Log) *groupWriter {
	return &groupWriter{l: l, index: make(map[StreamID]int)}
}

// write assigns offsets to the group, writes it to the WAL and memtable and
// returns it in flight, or answers it at once when nothing can be written.
func (w *groupWriter) write(group []*appendReq) *flight {
	l := w.l
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	clear(w.index)
	f := &flight{group: group, b: l.db.NewBatch()}
	var sb store.Batch // f.b as the Also callers see it, made once per group
	if err := l.failure(); err != nil {
		return w.abandon(f, err)
	}
	now := l.opts.Now().UnixNano()
	for _, req := range group {
		p, err := w.pendingFor(f, req.id)
		if err != nil {
			req.err = err
			continue
		}
		req.first = p.st.next
		if req.also != nil {
			f.also = append(f.also, req.also)
			if sb == nil {
				sb = store.PebbleBatch(f.b)
			}
			if err := req.also.Add(sb, req.first, len(req.recs)); err != nil {
				req.err = err
				continue
			}
		}
		for i := range req.recs {
			w.add(f.b, req.id, &p.st, &req.recs[i], now)
		}
		f.live++
		f.n += len(req.recs)
	}
	if f.live == 0 {
		return w.abandon(f, nil)
	}
	// Every Add of the group is done: the Alsos whose Add succeeded (their
	// requests have no error) write what they keep per group (log.go).
	for _, req := range group {
		if req.also != nil && req.err == nil {
			if err := req.also.EndGroup(sb); err != nil {
				return w.abandon(f, err)
			}
		}
	}
	for i := range f.work {
		p := &f.work[i]
		if err := f.b.Set(stateKey(p.id), p.st.encode(), nil); err != nil {
			return w.abandon(f, err)
		}
	}
	if err := l.db.ApplyNoSyncWait(f.b, pebble.Sync); err != nil {
		return w.abandon(f, err)
	}
	// Written to the WAL ahead of every later group: an append of a later
	// group that relies on these writes is synced after them.
	f.done(true)
	for i := range f.work {
		f.work[i].s.pend = f.work[i].st
	}
	l.inflight.Add(1)
	return f
}

// abandon answers a group that was not written: requests without an error
// get err (nil only when every request already has one). The committer's
// states were not advanced, so the offsets are used again.
func (w *groupWriter) abandon(f *flight, err error) *flight {
	if err != nil {
		w.l.opts.Logger.Error("log: group write failed", "err", err)
		for _, req := range f.group {
			if req.err == nil {
				req.err = fmt.Errorf("log: write: %w", err)
			}
		}
	}
	f.done(false)
	f.b.Close()
	answer(f.group)
	return nil
}

// done tells every Also whose Add was called whether the batch was written.
func (f *flight) done(ok bool) {
	for _, a := range f.also {
		a.Done(ok)
	}
	f.also = nil
}

func (w *groupWriter) pendingFor(f *flight, id StreamID) (*pending, error) {
	if i, ok := w.index[id]; ok {
		return &f.work[i], nil
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
	w.index[id] = len(f.work)
	f.work = append(f.work, pending{id: id, s: s, st: s.pend})
	return &f.work[len(f.work)-1], nil
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
		_ = b.Set(w.key, w.val, nil) // Set fails only on a committed batch
	}
	w.key = append(w.key[:0], recordKey(id, r.Offset)...)
	w.val = appendRecordValue(w.val[:0], r)
	_ = b.Set(w.key, w.val, nil)
	st.next++
	st.bytes += uint64(len(w.val))
	st.lastNanos = nanos
}

// syncLoop is the second stage: it waits for each group's fsync, in order,
// then publishes and answers it.
func (l *Log) syncLoop() {
	defer close(l.stopped)
	for f := range l.syncq {
		start := time.Now()
		if err := f.b.SyncWait(); err != nil {
			// The WAL may now hold records that were never acknowledged
			// and the committer has moved past them: nothing written after
			// this can be trusted, so the log stops accepting writes.
			l.fail(fmt.Errorf("log: sync: %w", err))
			for _, req := range f.group {
				if req.err == nil {
					req.err = l.failure()
				}
			}
		} else {
			for i := range f.work {
				l.publish(f.work[i].s, f.work[i].st, false)
			}
			l.commits.Add(1)
			l.appends.Add(uint64(f.live))
			l.records.Add(uint64(f.n))
			if l.opts.OnCommit != nil {
				l.opts.OnCommit(CommitStats{Records: f.n, Bytes: f.b.Len(), Sync: time.Since(start)})
			}
		}
		f.b.Close()
		answer(f.group)
		l.inflight.Done()
		<-l.slots
	}
}

func answer(group []*appendReq) {
	for _, r := range group {
		r.done <- struct{}{}
	}
}
