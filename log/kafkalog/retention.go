package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// Trim applies r to the stream as of now, removing the oldest records that
// fall outside it (Kafka DeleteRecords: the partition's start offset
// moves), and returns how many records it removed. Offsets of the
// remaining records do not change.
//
// MaxAge removes the records accepted before now-MaxAge (found as
// SeekTime finds a time). MaxBytes counts bytes as the brokers store them,
// record batches whole (Size): while the batches held exceed it, the
// oldest batch goes. A batch trimmed in part still counts whole, as the
// broker keeps it whole. It reads the batch headers of the records kept
// (fetching them) when Size exceeds MaxBytes, since a real broker's Size
// still counts trimmed records until their segment is deleted.
func (l *Log) Trim(id log.StreamID, r log.Retention, now time.Time) (uint64, error) {
	if r == (log.Retention{}) {
		return 0, nil
	}
	s, err := l.enter(id)
	if err != nil {
		return 0, err
	}
	defer l.ops.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 4*l.opts.ProduceTimeout)
	defer cancel()
	first, next, err := l.bounds(ctx, s)
	if err != nil || first == next {
		return 0, err
	}
	newFirst := first
	if r.MaxAge > 0 {
		o, err := l.seekTime(ctx, s, now.Add(-r.MaxAge))
		if err != nil {
			return 0, err
		}
		newFirst = max(newFirst, min(o, next))
	}
	if r.MaxBytes > 0 && newFirst < next {
		o, err := l.trimBytes(ctx, s, newFirst, r.MaxBytes)
		if err != nil {
			return 0, err
		}
		newFirst = max(newFirst, o)
	}
	if newFirst <= first {
		return 0, nil
	}
	low, err := l.deleteRecords(ctx, s, newFirst)
	if err != nil {
		return 0, err
	}
	return uint64(max(0, low-int64(first))), nil
}

// trimBytes returns the first offset to keep, from `from` on, for the
// batches kept to hold at most maxBytes.
func (l *Log) trimBytes(ctx context.Context, s *stream, from, maxBytes uint64) (uint64, error) {
	size, err := l.size(ctx, s)
	if err != nil || size <= maxBytes {
		return from, err
	}
	var spans []batchSpan
	var total uint64
	at := int64(from)
	for {
		f, err := l.fetchAt(ctx, s, at, 4*l.opts.ReadBytes, 0)
		var oor *outOfRange
		switch {
		case errors.Is(err, errNoTopic):
			return from, nil
		case errors.As(err, &oor):
			// Trimmed meanwhile, or the end: what was counted is all.
			err = nil
		case err != nil:
			return from, err
		}
		batches := batchSpans(f.raw)
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			if b.last < at {
				continue
			}
			spans = append(spans, b)
			total += uint64(b.size)
		}
		at = batches[len(batches)-1].last + 1
		if at >= f.hwm {
			break
		}
	}
	keep := from
	for _, b := range spans {
		if total <= maxBytes {
			break
		}
		total -= uint64(b.size)
		keep = uint64(b.last + 1)
	}
	return keep, nil
}

// deleteRecords moves the partition's start offset to `to` and returns the
// start offset after it.
func (l *Log) deleteRecords(ctx context.Context, s *stream, to uint64) (int64, error) {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = int32(l.opts.ProduceTimeout.Milliseconds())
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = s.topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, int64(to)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, l.cl)
	if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
		err = errors.New("delete records response without the partition")
	}
	if err != nil {
		return 0, l.unavailable("delete records of", s, err)
	}
	p := resp.Topics[0].Partitions[0]
	switch err := kerr.ErrorForCode(p.ErrorCode); {
	case err == nil:
		return p.LowWatermark, nil
	case errors.Is(err, kerr.OffsetOutOfRange):
		// Another process trimmed further already.
		first, _, err := l.bounds(ctx, s)
		return int64(first), err
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		l.forgetMeta(s)
		if _, err := l.topic(ctx, s); err != nil && !errors.Is(err, errNoTopic) {
			return 0, err
		}
		return 0, nil
	default:
		var ke *kerr.Error
		if errors.As(err, &ke) && ke.Retriable {
			return 0, l.unavailable("delete records of", s, err)
		}
		return 0, fmt.Errorf("kafka log: delete records of topic %s: %w", s.topic, err)
	}
}

// Drop deletes the stream. It commits, in one durable batch of the State,
// also's writes (may be nil) and the stream's dropped marker, then deletes
// the stream's topic. Appends fail from then on with log.ErrDropped, reads
// too, and the stream's tails are woken with log.ErrDropped: at once in
// this process; in others when they find the topic gone, or the marker
// (read again every 30 s). When the topic cannot be deleted (brokers
// down), Drop still returns nil, as the stream is dropped by its marker;
// whoever next finds the marker deletes the topic.
func (l *Log) Drop(id log.StreamID, also func(store.Batch) error) error {
	if err := l.begin(); err != nil {
		return err
	}
	defer l.ops.Done()
	s, err := l.get(id)
	if err != nil && !errors.Is(err, log.ErrDropped) {
		return err
	}
	b := l.opts.State.NewBatch()
	defer b.Close()
	if also != nil {
		if err := also(b); err != nil {
			return err
		}
	}
	b.Set(markerKey(id), markerValue(l.opts.Now()))
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("kafka log: drop stream %d: %w", id, err)
	}
	l.setDropped(s)
	_ = l.deleteTopic(s)
	return nil
}
