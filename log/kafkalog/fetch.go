package kafkalog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/log"
)

// fetchPool keeps the clients fetches are sent with. A broker answers the
// requests of one connection one at a time, so a tail's fetch waiting at
// the broker for new records would hold up every other fetch sent on its
// connection: each fetch takes a client (its own connections) for its
// duration. At most Options.MaxIdleFetchers idle clients are kept; the
// others are closed when given back.
type fetchPool struct {
	l      *Log
	mu     sync.Mutex
	idle   []*kgo.Client
	all    map[*kgo.Client]struct{}
	closed bool
}

func newFetchPool(l *Log) *fetchPool {
	return &fetchPool{l: l, all: make(map[*kgo.Client]struct{})}
}

func (p *fetchPool) get() (*kgo.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, log.ErrClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c, nil
	}
	c, err := kgo.NewClient(p.l.clOpts...)
	if err != nil {
		return nil, fmt.Errorf("kafka log: %w", err)
	}
	p.all[c] = struct{}{}
	return c, nil
}

func (p *fetchPool) put(c *kgo.Client) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.l.opts.MaxIdleFetchers {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	delete(p.all, c)
	p.mu.Unlock()
	c.Close()
}

// close closes every client, idle or not.
func (p *fetchPool) close() {
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.all, p.idle = nil, nil
	p.mu.Unlock()
	for c := range all {
		c.Close()
	}
}

// outOfRange is a fetch at an offset the partition does not hold: before
// its first retained record, or after its end.
type outOfRange struct{ at int64 }

func (e *outOfRange) Error() string { return fmt.Sprintf("kafka log: offset %d out of range", e.at) }

// fetched is what one fetch returned.
type fetched struct {
	recs []*kgo.Record // at or after the offset asked for
	hwm  int64         // the end of the partition
	raw  []byte        // the record batches as returned (for Trim)
}

type batchSpan struct {
	last int64
	size int
}

// fetchAt fetches the records of the stream from offset at on, at most
// maxBytes of batches (at least one batch), waiting up to wait for a
// record when there is none yet. Errors: errNoTopic, log.ErrDropped,
// *outOfRange, ctx's error, or ErrUnavailable.
func (l *Log) fetchAt(ctx context.Context, s *stream, at int64, maxBytes int, wait time.Duration) (fetched, error) {
	var last error
	backoff := 10 * time.Millisecond
	for {
		f, retry, err := l.fetchOnce(ctx, s, at, maxBytes, wait)
		if !retry {
			return f, err
		}
		last = err
		if ctx.Err() != nil || !sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	if errors.Is(last, context.Canceled) || ctx.Err() == context.Canceled {
		return fetched{}, ctx.Err()
	}
	return fetched{}, l.unavailable("fetch from", s, last)
}

func (l *Log) fetchOnce(ctx context.Context, s *stream, at int64, maxBytes int, wait time.Duration) (f fetched, retry bool, err error) {
	m, err := l.topic(ctx, s)
	if err != nil {
		return f, errors.Is(err, ErrUnavailable), err
	}
	cl, err := l.fetch.get()
	if err != nil {
		return f, false, err
	}
	defer l.fetch.put(cl)
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = int32(wait.Milliseconds())
	req.MinBytes = 1
	req.MaxBytes = int32(min(maxBytes, math.MaxInt32))
	req.IsolationLevel = 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = s.topic, m.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, at, req.MaxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	l.fetches.Add(1)
	kresp, err := cl.Broker(int(m.leader)).Request(ctx, req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return f, false, ctx.Err()
		}
		l.forgetMeta(s)
		return f, true, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return f, true, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return f, true, errors.New("fetch response without the partition")
	}
	p := &resp.Topics[0].Partitions[0]
	switch err := kerr.ErrorForCode(p.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		return f, false, &outOfRange{at: at}
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.FencedLeaderEpoch),
		errors.Is(err, kerr.InconsistentTopicID), errors.Is(err, kerr.LeaderNotAvailable):
		l.forgetMeta(s)
		// The topic may be gone (dropped by another process): look
		// again before retrying.
		if _, terr := l.topic(ctx, s); terr != nil && !errors.Is(terr, ErrUnavailable) {
			return f, false, terr
		}
		return f, true, err
	default:
		var ke *kerr.Error
		return f, !errors.As(err, &ke) || ke.Retriable, err
	}
	f.hwm = p.HighWatermark
	f.raw = p.RecordBatches
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:         at,
		IsolationLevel: kgo.ReadUncommitted(),
		Topic:          s.topic,
	}, p, l.decomp, nil)
	if fp.Err != nil {
		return f, true, fp.Err
	}
	f.recs = fp.Records
	return f, false, nil
}

// batchSpans reads the headers of the record batches in b (base offset,
// length, last offset delta), without decoding records.
func batchSpans(b []byte) []batchSpan {
	var out []batchSpan
	for len(b) >= batchHeaderSize {
		base := int64(binary.BigEndian.Uint64(b[0:]))
		size := 12 + int(binary.BigEndian.Uint32(b[8:]))
		if size > len(b) { // a partial batch at the end of a response
			break
		}
		lastDelta := int64(int32(binary.BigEndian.Uint32(b[23:])))
		out = append(out, batchSpan{last: base + lastDelta, size: size})
		b = b[size:]
	}
	return out
}

// recordOf converts a fetched record: Offset, Time (from HeaderTime, else
// the Kafka timestamp), Meta and Value, copied into one allocation.
func recordOf(r *kgo.Record) log.Record {
	meta, t := recordMeta(r)
	buf := make([]byte, len(meta)+len(r.Value))
	n := copy(buf, meta)
	copy(buf[n:], r.Value)
	return log.Record{Offset: uint64(r.Offset), Time: t, Meta: buf[:n:n], Value: buf[n:]}
}

// recordMeta returns the metadata (not copied) and the time of r.
func recordMeta(r *kgo.Record) ([]byte, time.Time) {
	var meta []byte
	t := r.Timestamp
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderMeta:
			meta = h.Value
		case HeaderTime:
			if n, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				t = time.Unix(0, n)
			}
		}
	}
	return meta, t.UTC()
}

// records converts up to limit fetched records, and no more bytes
// (metadata plus value) than Options.ReadBytes, though at least one.
func (l *Log) records(fetched []*kgo.Record, limit int) []log.Record {
	var recs []log.Record
	size := 0
	for _, r := range fetched {
		if len(recs) == limit {
			break
		}
		rec := recordOf(r)
		if size += len(rec.Meta) + len(rec.Value); len(recs) > 0 && size > l.opts.ReadBytes {
			break
		}
		recs = append(recs, rec)
	}
	return recs
}

// requestCtx bounds one operation of the Log's that takes no context.
func (l *Log) requestCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.opts.ProduceTimeout)
}

// Read returns up to limit records of the stream from offset from onwards,
// and no more bytes (metadata plus value) than Options.ReadBytes, though
// at least one record. An offset before the first retained record reads
// from the first retained record; one at or past the end returns no
// records. The records are copies the caller owns.
func (l *Log) Read(id log.StreamID, from uint64, limit int) ([]log.Record, error) {
	s, err := l.enter(id)
	if err != nil {
		return nil, err
	}
	defer l.ops.Done()
	if limit <= 0 || from > math.MaxInt64 {
		return nil, nil
	}
	ctx, cancel := l.requestCtx()
	defer cancel()
	return l.read(ctx, s, int64(from), limit)
}

func (l *Log) read(ctx context.Context, s *stream, at int64, limit int) ([]log.Record, error) {
	for range 8 {
		f, err := l.fetchAt(ctx, s, at, l.opts.ReadBytes, 0)
		var oor *outOfRange
		switch {
		case errors.Is(err, errNoTopic):
			return nil, nil
		case errors.As(err, &oor):
			first, next, err := l.bounds(ctx, s)
			if err != nil {
				return nil, err
			}
			if at < int64(first) {
				at = int64(first)
				continue
			}
			if at < int64(next) {
				continue // appended meanwhile
			}
			return nil, nil
		case err != nil:
			return nil, err
		}
		return l.records(f.recs, limit), nil
	}
	return nil, fmt.Errorf("kafka log: read stream %d at %d: its bounds keep moving", s.id, at)
}

// Bounds returns the offsets held by the stream: [first, next). A stream
// never appended to has first == next == 0.
func (l *Log) Bounds(id log.StreamID) (first, next uint64, err error) {
	s, err := l.enter(id)
	if err != nil {
		return 0, 0, err
	}
	defer l.ops.Done()
	ctx, cancel := l.requestCtx()
	defer cancel()
	return l.bounds(ctx, s)
}

func (l *Log) bounds(ctx context.Context, s *stream) (first, next uint64, err error) {
	start, err := l.listOffset(ctx, s, -2)
	if err == nil {
		var end int64
		end, err = l.listOffset(ctx, s, -1)
		if err == nil {
			return uint64(start), uint64(max(start, end)), nil
		}
	}
	if errors.Is(err, errNoTopic) {
		return 0, 0, nil
	}
	return 0, 0, err
}

// listOffset lists the partition's offset for ts: -2 its start, -1 its
// end, else the first record with a timestamp at or after ts (-1 if
// none).
func (l *Log) listOffset(ctx context.Context, s *stream, ts int64) (int64, error) {
	backoff := 20 * time.Millisecond
	for {
		if _, err := l.topic(ctx, s); err != nil {
			return 0, err
		}
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = s.topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, l.cl)
		if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
			err = errors.New("list offsets response without the partition")
		}
		if err == nil {
			p := resp.Topics[0].Partitions[0]
			if err = kerr.ErrorForCode(p.ErrorCode); err == nil {
				return p.Offset, nil
			}
		}
		var ke *kerr.Error
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
			errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.LeaderNotAvailable):
			// The topic went (a drop: topic says so next), or moved,
			// or was just made and the client's metadata lags.
			l.forgetMeta(s)
			if !sleep(ctx, backoff) {
				return 0, l.unavailable("list offsets of", s, err)
			}
			backoff = min(2*backoff, 500*time.Millisecond)
		case errors.As(err, &ke) && !ke.Retriable:
			return 0, fmt.Errorf("kafka log: list offsets of topic %s: %w", s.topic, err)
		default:
			return 0, l.unavailable("list offsets of", s, err)
		}
	}
}

// SeekTime returns the offset of the first record accepted at or after t,
// or the end of the stream if there is none. The brokers' index finds the
// first record of t's millisecond (by the Kafka timestamp); the records of
// that millisecond are then read for the exact nanosecond.
func (l *Log) SeekTime(id log.StreamID, t time.Time) (uint64, error) {
	s, err := l.enter(id)
	if err != nil {
		return 0, err
	}
	defer l.ops.Done()
	ctx, cancel := l.requestCtx()
	defer cancel()
	return l.seekTime(ctx, s, t)
}

func (l *Log) seekTime(ctx context.Context, s *stream, t time.Time) (uint64, error) {
	nanos := t.UnixNano()
	ts := millisOf(nanos)
	if ts < 0 {
		ts = -2 // before 1970: from the start (negative timestamps are special)
	}
	o, err := l.listOffset(ctx, s, ts)
	if errors.Is(err, errNoTopic) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if o < 0 {
		_, next, err := l.bounds(ctx, s)
		return next, err
	}
	at := o
	for {
		f, err := l.fetchAt(ctx, s, at, l.opts.ReadBytes, 0)
		var oor *outOfRange
		switch {
		case errors.Is(err, errNoTopic):
			return 0, nil
		case errors.As(err, &oor):
			first, next, err := l.bounds(ctx, s)
			if err != nil || at >= int64(next) {
				return next, err
			}
			at = max(at, int64(first))
			continue
		case err != nil:
			return 0, err
		}
		if len(f.recs) == 0 {
			return uint64(max(at, f.hwm)), nil
		}
		for _, r := range f.recs {
			if _, rt := recordMeta(r); rt.UnixNano() >= nanos {
				return uint64(r.Offset), nil
			}
		}
		at = f.recs[len(f.recs)-1].Offset + 1
	}
}

// ScanMeta calls fn with the offset and metadata of each record of the
// stream in offsets [from, to) that is retained, in order, and stops at
// the first error fn returns. meta is valid only during the call. It
// returns the offset after the last record it could visit: to, or the
// stream's end (as of the scan's first fetch) if that is before it.
func (l *Log) ScanMeta(id log.StreamID, from, to uint64, fn func(offset uint64, meta []byte) error) (uint64, error) {
	s, err := l.enter(id)
	if err != nil {
		return from, err
	}
	defer l.ops.Done()
	to = min(to, math.MaxInt64)
	at := int64(min(from, math.MaxInt64))
	end := int64(-1) // min(to, the stream's end), once known
	for {
		ctx, cancel := l.requestCtx()
		f, err := l.fetchAt(ctx, s, at, l.opts.ReadBytes, 0)
		var oor *outOfRange
		switch {
		case errors.Is(err, errNoTopic):
			cancel()
			return 0, nil
		case errors.As(err, &oor):
			first, next, err := l.bounds(ctx, s)
			cancel()
			if err != nil {
				return from, err
			}
			if end < 0 {
				end = min(int64(to), int64(next))
			}
			if at < int64(first) && at < end {
				at = int64(first)
				continue
			}
			return uint64(end), nil
		case err != nil:
			cancel()
			return from, err
		}
		cancel()
		if end < 0 {
			end = min(int64(to), f.hwm)
		}
		if at >= end || len(f.recs) == 0 {
			return uint64(end), nil
		}
		for _, r := range f.recs {
			if r.Offset >= end {
				return uint64(end), nil
			}
			meta, _ := recordMeta(r)
			if meta == nil {
				meta = []byte{}
			}
			if err := fn(uint64(r.Offset), meta); err != nil {
				return from, err
			}
		}
		at = f.recs[len(f.recs)-1].Offset + 1
	}
}

// Size returns the bytes the brokers hold for the stream's partition (its
// record batches as stored, framing and headers included; with replicas,
// the largest replica), as the brokers' log directories report it: no
// records are read. A real broker frees the bytes of trimmed records
// when it deletes their segment, so Size may stay above what Trim left
// until then.
func (l *Log) Size(id log.StreamID) (uint64, error) {
	s, err := l.enter(id)
	if err != nil {
		return 0, err
	}
	defer l.ops.Done()
	ctx, cancel := l.requestCtx()
	defer cancel()
	return l.size(ctx, s)
}

func (l *Log) size(ctx context.Context, s *stream) (uint64, error) {
	if _, err := l.topic(ctx, s); err != nil {
		if errors.Is(err, errNoTopic) {
			return 0, nil
		}
		return 0, err
	}
	all, err := l.adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{s.topic: {0: {}}})
	if err != nil {
		return 0, l.unavailable("describe the log dirs of", s, err)
	}
	var size int64
	var derr error
	found := false
	for _, dirs := range all {
		for _, d := range dirs {
			if d.Err != nil {
				derr = d.Err
				continue
			}
			if p, ok := d.Topics.Lookup(s.topic, 0); ok {
				size, found = max(size, p.Size), true
			}
		}
	}
	if !found && derr != nil {
		return 0, l.unavailable("describe the log dirs of", s, derr)
	}
	return uint64(size), nil
}
