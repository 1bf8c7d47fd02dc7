package log

import (
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Retention limits what a stream keeps. The zero value keeps everything.
type Retention struct {
	// MaxAge removes records accepted more than MaxAge before now. 0: no limit.
	MaxAge time.Duration
	// MaxBytes removes the oldest records while the stored size of the
	// stream exceeds it. 0: no limit.
	MaxBytes uint64
}

// Trim applies r to the stream as of now, removing the oldest records that
// fall outside it, durably. It returns how many records it removed. Offsets
// of the remaining records do not change.
func (l *Log) Trim(id StreamID, r Retention, now time.Time) (uint64, error) {
	if r == (Retention{}) {
		return 0, nil
	}
	l.quiesce()
	defer l.commitMu.Unlock()
	l.mu.Lock()
	s, err := l.load(id)
	dropped := s != nil && s.dropped
	l.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case dropped:
		return 0, ErrDropped
	}
	st := s.st // stable, and equal to pend: the log is quiesced
	cutoff := int64(math.MinInt64)
	if r.MaxAge > 0 {
		cutoff = now.Add(-r.MaxAge).UnixNano()
	}
	newFirst, bytes, firstNanos, err := l.scanTrim(id, st, r, cutoff)
	if err != nil || newFirst == st.first {
		return 0, err
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(recordKey(id, st.first), recordKey(id, newFirst), nil); err != nil {
		return 0, err
	}
	tp := streamPrefix(kindTime, id)
	if newFirst == st.next {
		err = b.DeleteRange(tp, store.PrefixEnd(tp), nil)
	} else {
		// Index entries before the new first record's millisecond go; its
		// own entry must point at it (it may have pointed at a removed one).
		ms := millisOf(firstNanos)
		err = b.DeleteRange(tp, timeKey(id, ms), nil)
		if err == nil {
			err = b.Set(timeKey(id, ms), appendUvarintBytes(newFirst), nil)
		}
	}
	if err != nil {
		return 0, err
	}
	nst := state{first: newFirst, next: st.next, bytes: bytes, lastNanos: st.lastNanos}
	if err := b.Set(stateKey(id), nst.encode(), nil); err != nil {
		return 0, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("log: trim stream %d: %w", id, err)
	}
	s.pend = nst
	l.publish(s, nst, false)
	return newFirst - st.first, nil
}

// scanTrim finds the first record to keep: it returns its offset (st.next
// if none is kept), the stored size from it on and its time.
func (l *Log) scanTrim(id StreamID, st state, r Retention, cutoff int64) (uint64, uint64, int64, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: recordKey(id, st.first),
		UpperBound: recordKey(id, st.next),
	})
	if err != nil {
		return 0, 0, 0, err
	}
	defer it.Close()
	off, bytes := st.first, st.bytes
	for ok := it.First(); ok; ok = it.Next() {
		var rec Record
		v, err := it.ValueAndErr()
		if err == nil {
			err = decodeRecordValue(v, &rec)
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("stream %d offset %d: %w", id, off, err)
		}
		tooOld := rec.Time.UnixNano() < cutoff
		tooBig := r.MaxBytes > 0 && bytes > r.MaxBytes
		if !tooOld && !tooBig {
			return off, bytes, rec.Time.UnixNano(), nil
		}
		bytes -= uint64(len(v))
		off++
	}
	return off, bytes, 0, it.Error()
}
