package log

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Read returns up to limit records of the stream from offset from onwards,
// and no more bytes than Options.ReadBytes (at least one record), ending at
// the last durable record. An offset before the first retained
// record reads from the first retained record; one at or past the end
// returns no records.
func (l *Log) Read(id StreamID, from uint64, limit int) ([]Record, error) {
	st, _, err := l.view(id)
	if err != nil {
		return nil, err
	}
	return l.readRange(id, max(from, st.first), st.next, limit)
}

// readRange reads records [from, min(to, from+limit)), stopping early after
// Options.ReadBytes (but never before the first record). Records that
// retention removes while the read starts are skipped: retention only ever
// removes a prefix, so a gap is allowed before the first record read.
func (l *Log) readRange(id StreamID, from, to uint64, limit int) ([]Record, error) {
	if from >= to || limit <= 0 {
		return nil, nil
	}
	to = min(to, from+uint64(limit))
	it, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: recordKey(id, from),
		UpperBound: recordKey(id, to),
	})
	if err != nil {
		return nil, err
	}
	recs := make([]Record, 0, to-from) // callers bound limit; ReadBytes may end it early
	var want uint64
	size := 0
	for ok := it.First(); ok; ok = it.Next() {
		var r Record
		r.Offset = decodeU64Suffix(it.Key())
		if len(recs) == 0 {
			want = r.Offset
		}
		if r.Offset != want {
			it.Close()
			return nil, fmt.Errorf("%w: stream %d: offset %d where %d was expected", errCorrupt, id, r.Offset, want)
		}
		v, err := it.ValueAndErr()
		if err == nil {
			err = decodeRecordValue(v, &r)
		}
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("stream %d offset %d: %w", id, r.Offset, err)
		}
		size += len(r.Meta) + len(r.Value)
		if len(recs) > 0 && size > l.opts.ReadBytes {
			break
		}
		recs = append(recs, r)
		want++
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return recs, nil
}

// SeekTime returns the offset of the first record accepted at or after t,
// or the end of the stream if there is none.
func (l *Log) SeekTime(id StreamID, t time.Time) (uint64, error) {
	st, _, err := l.view(id)
	if err != nil {
		return 0, err
	}
	nanos := t.UnixNano()
	p := streamPrefix(kindTime, id)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: store.PrefixEnd(p)})
	if err != nil {
		return 0, err
	}
	if !it.SeekGE(timeKey(id, millisOf(nanos))) {
		return st.next, it.Close()
	}
	off, n := binary.Uvarint(it.Value())
	if err := it.Close(); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("%w: time index of stream %d", errCorrupt, id)
	}
	// Records of that millisecond may still be before t.
	off = max(off, st.first)
	for off < st.next {
		recs, err := l.readRange(id, off, st.next, 64)
		if err != nil || len(recs) == 0 {
			return off, err
		}
		for _, r := range recs {
			if r.Time.UnixNano() >= nanos {
				return r.Offset, nil
			}
		}
		off = recs[len(recs)-1].Offset + 1
	}
	return st.next, nil
}

// Subscription reads a stream in order, waiting for new records at the end.
// It is not safe for concurrent use.
type Subscription struct {
	l    *Log
	id   StreamID
	next uint64
}

// Subscribe returns a subscription that starts at offset from (use Bounds
// for the beginning or the end, SeekTime for a time).
func (l *Log) Subscribe(id StreamID, from uint64) Tail {
	return &Subscription{l: l, id: id, next: from}
}

// Offset is the offset of the next record Next will return.
func (s *Subscription) Offset() uint64 { return s.next }

// Next returns the next records (at least one, at most Options.ReadBatch and
// Options.ReadBytes),
// waiting until one is durable. Records removed by retention before they
// were read are skipped. It returns ctx.Err() when ctx ends, ErrClosed when
// the log closes and ErrDropped when the stream is dropped.
func (s *Subscription) Next(ctx context.Context) ([]Record, error) {
	for {
		st, changed, err := s.l.view(s.id)
		if err != nil {
			return nil, err
		}
		s.next = max(s.next, st.first)
		if s.next < st.next {
			recs, err := s.l.readRange(s.id, s.next, st.next, s.l.opts.ReadBatch)
			if err != nil {
				return nil, err
			}
			if len(recs) > 0 {
				s.next = recs[len(recs)-1].Offset + 1
				return recs, nil
			}
			continue // trimmed meanwhile: look again
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.l.closing:
			return nil, ErrClosed
		}
	}
}

// ScanMeta calls fn with the offset and metadata of each record of the
// stream in offsets [from, to) that is durable and retained, in order, and
// stops at the first error fn returns. meta is valid only during the call:
// nothing is copied, and values are not decoded. It returns the offset
// after the last record it could visit: to, or the stream's end if that is
// before it.
func (l *Log) ScanMeta(id StreamID, from, to uint64, fn func(offset uint64, meta []byte) error) (uint64, error) {
	st, _, err := l.view(id)
	if err != nil {
		return from, err
	}
	to = min(to, st.next)
	if from = max(from, st.first); from >= to {
		return to, nil
	}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: recordKey(id, from), UpperBound: recordKey(id, to)})
	if err != nil {
		return from, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		off := decodeU64Suffix(it.Key())
		v, err := it.ValueAndErr()
		var meta []byte
		if err == nil {
			meta, err = recordMeta(v)
		}
		if err != nil {
			it.Close()
			return from, fmt.Errorf("stream %d offset %d: %w", id, off, err)
		}
		if err := fn(off, meta); err != nil {
			it.Close()
			return from, err
		}
	}
	return to, it.Close()
}

// recordMeta returns the metadata of the stored record value v, without
// copying.
func recordMeta(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != recordVersion {
		return nil, fmt.Errorf("%w: record version", errCorrupt)
	}
	v = v[1:]
	_, n := binary.Varint(v)
	if n <= 0 {
		return nil, fmt.Errorf("%w: record time", errCorrupt)
	}
	v = v[n:]
	ml, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < ml {
		return nil, fmt.Errorf("%w: record meta", errCorrupt)
	}
	return v[n : n+int(ml)], nil
}
