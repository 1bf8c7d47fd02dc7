package kafkalog

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/strmlocal/strmlocal/log"
)

// Subscribe returns a tail of the stream that starts at offset from (use
// Bounds for the beginning or the end, SeekTime for a time).
func (l *Log) Subscribe(id log.StreamID, from uint64) log.Tail {
	return &tail{l: l, id: id, next: from}
}

// tail reads a stream in order, waiting at the broker (a fetch that the
// broker holds until a record arrives, Options.PollWait at most) for new
// records at the end. It holds no connection between calls of Next: each
// fetch takes a client of the Log's pool and gives it back, so a tail
// that is dropped without a word leaks nothing.
type tail struct {
	l    *Log
	id   log.StreamID
	next uint64
}

func (t *tail) Offset() uint64 { return t.next }

// Next returns the next records (at least one, at most Options.ReadBatch
// and Options.ReadBytes), waiting until one is appended, by any process.
// Records removed by retention before they were read are skipped. It
// returns ctx.Err() when ctx ends, log.ErrClosed when the Log closes and
// log.ErrDropped when the stream is dropped; an error of the brokers
// (ErrUnavailable) is returned too, and Next may be called again.
func (t *tail) Next(ctx context.Context) ([]log.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := t.l.begin(); err != nil {
			return nil, err
		}
		recs, err := t.poll(ctx)
		t.l.ops.Done()
		if err != nil || len(recs) > 0 {
			return recs, err
		}
	}
}

// poll fetches once, waiting at most PollWait; it may return nothing.
func (t *tail) poll(ctx context.Context) ([]log.Record, error) {
	l := t.l
	s, err := l.get(t.id)
	if err != nil {
		return nil, err
	}
	wait := l.opts.PollWait
	if dl, ok := ctx.Deadline(); ok {
		wait = max(0, min(wait, time.Until(dl)))
	}
	// The poll ends with ctx, Close or a drop in this process, and when
	// the brokers do not answer (ErrUnavailable).
	wctx, cancel := context.WithTimeout(ctx, wait+l.opts.ProduceTimeout)
	defer cancel()
	defer context.AfterFunc(l.closing, cancel)()
	defer context.AfterFunc(s.dropCtx, cancel)()
	at := int64(min(t.next, math.MaxInt64))
	for range 4 {
		f, err := l.fetchAt(wctx, s, at, l.opts.ReadBytes, wait)
		var oor *outOfRange
		switch {
		case err == nil:
			got := f.recs
			for len(got) > 0 && got[0].Offset < int64(t.next) {
				got = got[1:] // waited at an end before t.next
			}
			recs := l.records(got, l.opts.ReadBatch)
			if len(recs) > 0 {
				t.next = recs[len(recs)-1].Offset + 1
			}
			return recs, nil
		case errors.Is(err, errNoTopic):
			// A stream never appended to: make its topic, to wait on it.
			if _, err := l.ensureTopic(wctx, s); err != nil {
				return nil, t.why(ctx, s, err)
			}
			continue
		case errors.As(err, &oor):
			first, next, err := l.bounds(wctx, s)
			if err != nil {
				return nil, t.why(ctx, s, err)
			}
			switch {
			case int64(t.next) < int64(first):
				t.next = first // trimmed before it was read
				at = int64(first)
			case int64(t.next) > int64(next):
				at = int64(next) // wait at the end for the stream to reach t.next
			default:
				at = int64(t.next)
			}
			continue
		default:
			return nil, t.why(ctx, s, err)
		}
	}
	return nil, nil
}

// why turns the error of a wait cut short into the reason it was.
func (t *tail) why(ctx context.Context, s *stream, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case t.l.closing.Err() != nil:
		return log.ErrClosed
	case s.isDropped():
		return log.ErrDropped
	}
	return err
}
