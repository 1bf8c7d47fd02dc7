package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/log"
)

// AppendAlso appends recs to the stream and returns the offset of the first
// one, once the brokers acknowledged all of them (acks from every in-sync
// replica). It sets Offset and Time of every record in recs. also (may be
// nil) has its writes committed to Options.State, durably, before any
// record is produced: a Kafka log cannot tell offsets before it writes, so
// also.Add is called with first = 0 (callers in the scale-out mode keep no
// index by offset at append), then also.EndGroup, then also.Done(ok) once the
// commit is done; if Add, EndGroup or the commit fails, nothing is produced and
// the error returned.
//
// An append whose records encode to at most Options.MaxBatchBytes is one
// Kafka record batch: all or none of it is written, at contiguous offsets,
// even with other processes appending to the stream. A larger append is
// split into batches produced one after the other; with other processes
// appending, their records may come between two of them (each record's
// Offset says where it went), and a failure may leave a prefix of it in
// the log.
//
// Once its records are sent, an append waits for the verdict (at most
// Options.ProduceTimeout) even if ctx ends. A failure to reach the brokers
// wraps ErrUnavailable; the append may then be in the log or not.
func (l *Log) AppendAlso(ctx context.Context, id log.StreamID, recs []log.Record, also log.Also) (uint64, error) {
	if len(recs) == 0 {
		return 0, log.ErrEmpty
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s, err := l.enter(id)
	if err != nil {
		return 0, err
	}
	defer l.ops.Done()
	j := &appendJob{recs: recs, also: also}
	if also != nil {
		if err := l.state.run(ctx, j, takeAll, l.commitAlso); err != nil {
			return 0, err
		}
		if j.err != nil {
			return 0, j.err
		}
	}
	if err := s.prod.run(ctx, j, l.takeBatch, func(g []*appendJob) { l.produceGroup(s, g) }); err != nil {
		return 0, err
	}
	return j.first, j.err
}

func takeAll(q []*appendJob) int { return min(len(q), 1024) }

// commitAlso writes the Also of every job of g in one batch of the State,
// committed durably, in the order log.Log calls them (log.Also): every
// Add, the EndGroup of every job whose Add succeeded, the commit, then every
// Done, with whether the batch was committed. A job whose Add fails fails
// alone (what its Add wrote is committed with the others', as log.Log
// does); when every Add fails, nothing is committed. A EndGroup that fails
// fails the whole group, uncommitted.
func (l *Log) commitAlso(g []*appendJob) {
	b := l.opts.State.NewBatch()
	defer b.Close()
	live := 0
	for _, j := range g {
		if err := j.also.Add(b, 0, len(j.recs)); err != nil {
			j.err = err
			continue
		}
		live++
	}
	var err error
	if live > 0 {
		for _, j := range g {
			if j.err != nil {
				continue
			}
			if err = j.also.EndGroup(b); err != nil {
				err = fmt.Errorf("kafka log: end the group in the state: %w", err)
				break
			}
		}
	}
	if live > 0 && err == nil {
		if err = b.Commit(true); err != nil {
			err = fmt.Errorf("kafka log: commit to the state: %w", err)
		}
	}
	for _, j := range g {
		if j.err == nil {
			j.err = err
		}
		j.also.Done(live > 0 && err == nil)
	}
}

// takeBatch takes the queued appends whose records fit in one batch
// (at least one append), by an estimate on the safe side.
func (l *Log) takeBatch(q []*appendJob) int {
	total := 0
	for i, j := range q {
		if j.size == 0 {
			j.size = maxEncodedSize(j.recs)
		}
		if total += j.size; i > 0 && total > l.opts.MaxBatchBytes {
			return i
		}
	}
	return len(q)
}

// produceGroup stamps the records of the group's appends, in order, and
// produces them: one batch for all of them when they fit (takeBatch), else
// the one append in as many batches as it takes.
func (l *Log) produceGroup(s *stream, g []*appendJob) {
	fail := func(err error) {
		for _, j := range g {
			j.err = err
		}
	}
	if s.isDropped() {
		fail(log.ErrDropped)
		return
	}
	// Times are kept non-decreasing in offset order among this process's
	// appends (as log.Log keeps them).
	last := s.lastNanos
	n := 0
	for _, j := range g {
		for i := range j.recs {
			r := &j.recs[i]
			t := r.Time
			if t.IsZero() {
				t = l.opts.Now()
			}
			if t.UnixNano() < last {
				t = time.Unix(0, last)
			}
			last = t.UnixNano()
			r.Time = t.UTC()
		}
		n += len(j.recs)
	}
	s.lastNanos = last

	var chunks [][]log.Record
	if len(g) == 1 {
		chunks = splitBatches(g[0].recs, l.opts.MaxBatchBytes)
	} else {
		all := make([]log.Record, 0, n)
		for _, j := range g {
			all = append(all, j.recs...)
		}
		chunks = [][]log.Record{all}
	}
	var offsets []int64 // base offset of each chunk
	for _, c := range chunks {
		base, err := l.produce(s, encodeBatch(c))
		if err != nil {
			fail(err)
			if len(offsets) > 0 {
				l.opts.Logger.Error("kafka log: an append split in batches was written in part", "stream", s.id, "written", len(offsets), "batches", len(chunks), "err", err)
			}
			return
		}
		offsets = append(offsets, base)
	}
	if len(g) == 1 {
		j := g[0]
		i := 0
		for k, c := range chunks {
			for m := range c {
				j.recs[i].Offset = uint64(offsets[k]) + uint64(m)
				i++
			}
		}
		j.first = j.recs[0].Offset
		return
	}
	off := uint64(offsets[0])
	for _, j := range g {
		j.first = off
		for i := range j.recs {
			j.recs[i].Offset = off
			off++
		}
	}
}

// splitBatches cuts recs (their times set) into runs whose encoding fits
// in maxBytes (a record larger than that goes alone).
func splitBatches(recs []log.Record, maxBytes int) [][]log.Record {
	var out [][]log.Record
	start, size := 0, batchHeaderSize
	baseMs := kafkaMillis(recs[0].Time.UnixNano())
	var digits [20]byte
	for i := range recs {
		ms := kafkaMillis(recs[i].Time.UnixNano())
		ts := timeDigits(digits[:0], &recs[i])
		rs := recordSize(&recs[i], ms-baseMs, int32(i-start), ts)
		if i > start && size+rs > maxBytes {
			out = append(out, recs[start:i])
			start, size, baseMs = i, batchHeaderSize, ms
			rs = recordSize(&recs[i], 0, 0, ts)
		}
		size += rs
	}
	return append(out, recs[start:])
}

// produce writes one encoded batch to the stream's topic and returns its
// base offset. It retries, within Options.ProduceTimeout, whatever did not
// get an answer or got a retriable one; the batch carries the stream's
// idempotent producer ID and sequence, so a retry of a batch that was
// written already is answered by the broker with its offset instead of
// being written twice. Only the leader of s.prod calls it.
func (l *Log) produce(s *stream, bt *batch) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.ProduceTimeout)
	defer cancel()
	var last error
	backoff := 10 * time.Millisecond
	start := time.Now()
	for {
		base, retry, err := l.produceOnce(ctx, s, bt)
		if !retry {
			if err == nil && l.opts.OnCommit != nil {
				l.opts.OnCommit(log.CommitStats{Records: int(bt.hdr.NumRecords), Bytes: len(bt.b), Sync: time.Since(start)})
			}
			return base, err
		}
		last = err
		if !sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	// What was sent may have been written: the sequence state is unknown,
	// so the next append starts over with a new producer ID.
	s.pidOK = false
	return 0, l.unavailable("produce to", s, last)
}

// produceOnce tries once: retry says whether trying again may succeed.
func (l *Log) produceOnce(ctx context.Context, s *stream, bt *batch) (base int64, retry bool, err error) {
	if s.isDropped() {
		return 0, false, log.ErrDropped
	}
	if !s.pidOK {
		pid, epoch, err := l.initProducerID(ctx)
		if err != nil {
			var ke *kerr.Error
			return 0, !errors.As(err, &ke) || ke.Retriable, err
		}
		s.pid, s.epoch, s.seq, s.pidOK = pid, epoch, 0, true
	}
	m, err := l.ensureTopic(ctx, s)
	if err != nil {
		return 0, errors.Is(err, ErrUnavailable), err
	}
	bt.setProducer(s.pid, s.epoch, s.seq)

	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(l.opts.ProduceTimeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = s.topic, m.id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, bt.b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := l.cl.Broker(int(m.leader)).Request(ctx, req)
	if err != nil {
		l.forgetMeta(s)
		return 0, true, err
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, true, errors.New("produce response without the partition")
	}
	p := resp.Topics[0].Partitions[0]
	err = kerr.ErrorForCode(p.ErrorCode)
	if err != nil && p.ErrorMessage != nil && *p.ErrorMessage != "" {
		err = fmt.Errorf("%w: %s", err, *p.ErrorMessage)
	}
	switch {
	case err == nil:
		n := bt.hdr.NumRecords
		s.seq = nextSeq(s.seq, n)
		l.produced.Add(uint64(n))
		return p.BaseOffset, false, nil
	case errors.Is(err, kerr.OutOfOrderSequenceNumber), errors.Is(err, kerr.UnknownProducerID),
		errors.Is(err, kerr.InvalidProducerEpoch), errors.Is(err, kerr.InvalidProducerIDMapping),
		errors.Is(err, kerr.ProducerFenced):
		// The broker holds another sequence for this producer (it lost
		// its state, or an earlier attempt's outcome is unknown): this
		// batch was not written; start over with a new producer ID.
		s.pidOK = false
		return 0, true, err
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID),
		errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.LeaderNotAvailable),
		errors.Is(err, kerr.FencedLeaderEpoch), errors.Is(err, kerr.InconsistentTopicID):
		l.forgetMeta(s)
		return 0, true, err
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && ke.Retriable {
		return 0, true, err
	}
	// A refusal no retry mends (a batch too large, an invalid
	// timestamp, no authorization): nothing was written.
	return 0, false, fmt.Errorf("kafka log: produce to topic %s: %w", s.topic, err)
}

// nextSeq is seq advanced by n records; sequences wrap at MaxInt32.
func nextSeq(seq, n int32) int32 {
	return int32((int64(seq) + int64(n)) % (math.MaxInt32 + 1))
}

// initProducerID asks for a new idempotent producer ID.
func (l *Log) initProducerID(ctx context.Context) (int64, int16, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := req.RequestWith(ctx, l.cl)
	if err != nil {
		return 0, 0, fmt.Errorf("init producer ID: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, 0, fmt.Errorf("init producer ID: %w", err)
	}
	return resp.ProducerID, resp.ProducerEpoch, nil
}

// A batch is one record batch (magic 2), uncompressed, with CreateTime
// timestamps, encoded with franz-go's wire types: a kmsg.RecordBatch whose
// Records are the kmsg.Record of each log.Record (kafkaRecord).
type batch struct {
	hdr kmsg.RecordBatch // Records is b[batchHeaderSize:]
	b   []byte           // the encoded batch, as sent
}

// batchHeaderSize is the size of an encoded kmsg.RecordBatch without
// records (61 bytes).
var batchHeaderSize = len(new(kmsg.RecordBatch).AppendTo(nil))

// Offsets in an encoded batch, from kmsg.RecordBatch's field order
// (FirstOffset int64, Length int32, PartitionLeaderEpoch int32, Magic
// int8, CRC int32, then Attributes int16 and the rest): Length counts the
// bytes after it, and the CRC-32C (Castagnoli) covers the bytes after it,
// from Attributes on, as Kafka defines them.
const (
	batchLengthEnd = 8 + 4
	batchCRCEnd    = 8 + 4 + 4 + 1 + 4
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// encodeBatch encodes recs (their times set) as one batch; setProducer
// fills in the producer fields and the CRC.
func encodeBatch(recs []log.Record) *batch {
	baseMs := kafkaMillis(recs[0].Time.UnixNano())
	maxMs := baseMs
	// The records are encoded where RecordBatch.AppendTo puts its
	// Records, in a buffer that holds them whatever their deltas.
	b := make([]byte, batchHeaderSize, batchHeaderSize+maxEncodedSize(recs))
	var digits [20]byte
	for i := range recs {
		r := &recs[i]
		ms := kafkaMillis(r.Time.UnixNano())
		maxMs = max(maxMs, ms)
		hs := recordHeaders(r, timeDigits(digits[:0], r))
		kr := kafkaRecord(r, ms-baseMs, int32(i), hs[:])
		b = kr.AppendTo(b)
	}
	bt := &batch{hdr: kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(len(b) - batchLengthEnd),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           0, // no compression, CreateTime, not transactional
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       baseMs,
		MaxTimestamp:         maxMs,
		NumRecords:           int32(len(recs)),
		Records:              b[batchHeaderSize:],
	}}
	// AppendTo writes the header, then appends Records: already in
	// place, they are copied onto themselves.
	bt.b = bt.hdr.AppendTo(b[:0])
	return bt
}

// setProducer sets the batch's producer ID, epoch and base sequence (they
// change when it is retried) and its CRC, encoding its header again.
func (bt *batch) setProducer(pid int64, epoch int16, seq int32) {
	bt.hdr.ProducerID, bt.hdr.ProducerEpoch, bt.hdr.FirstSequence = pid, epoch, seq
	bt.putHeader()
	bt.hdr.CRC = int32(crc32.Checksum(bt.b[batchCRCEnd:], crc32c))
	bt.putHeader()
}

// putHeader encodes the header over the first batchHeaderSize bytes of
// the batch, before its records.
func (bt *batch) putHeader() {
	h := bt.hdr
	h.Records = nil
	h.AppendTo(bt.b[:0])
}

// kafkaRecord is r's kmsg.Record at the given deltas from the batch's
// first timestamp (milliseconds) and offset, with the headers hs (from
// recordHeaders): Attributes 0, no key (nil: length -1), Value, and the
// Length that Record.AppendTo writes as set.
func kafkaRecord(r *log.Record, tsDelta int64, offDelta int32, hs []kmsg.Header) kmsg.Record {
	kr := kmsg.Record{
		Attributes:       0,
		TimestampDelta64: tsDelta,
		OffsetDelta:      offDelta,
		Key:              nil,
		Value:            nonNil(r.Value),
		Headers:          hs,
	}
	kr.Length = recordLength(&kr)
	return kr
}

// recordHeaders are the headers of r's kmsg.Record, HeaderTime (digits,
// from timeDigits) and HeaderMeta. (kafkaRecord and recordHeaders return
// values, rather than fill in a Record, to keep a batch's records off the
// heap.)
func recordHeaders(r *log.Record, digits []byte) [2]kmsg.Header {
	return [2]kmsg.Header{
		{Key: HeaderTime, Value: digits},
		{Key: HeaderMeta, Value: nonNil(r.Meta)},
	}
}

// timeDigits appends r's time in decimal Unix nanoseconds to dst.
func timeDigits(dst []byte, r *log.Record) []byte {
	return strconv.AppendInt(dst, r.Time.UnixNano(), 10)
}

// nonNil is b, or an empty slice for nil: kmsg encodes nil as null
// (length -1), and an empty value or metadata has length 0.
func nonNil(b []byte) []byte {
	if b == nil {
		return empty
	}
	return b
}

var empty = []byte{}

// recordLength is the Length of kr: the size of what kmsg.Record.AppendTo
// writes after the Length field, in its field order (TestRecordSize
// holds it to what AppendTo writes).
func recordLength(kr *kmsg.Record) int32 {
	n := 1 + // Attributes
		varintLen(kr.TimestampDelta64) +
		varintLen(int64(kr.OffsetDelta)) +
		bytesLen(kr.Key) +
		bytesLen(kr.Value) +
		varintLen(int64(len(kr.Headers)))
	for i := range kr.Headers {
		h := &kr.Headers[i]
		n += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return int32(n)
}

// bytesLen is the encoded size of b with its varint length (-1 for nil).
func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

// varintLen is the size of v as a zig-zag varint (Kafka's varint and
// varlong).
func varintLen(v int64) int {
	u := uint64(v)<<1 ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// recordSize is the encoded size of r's kmsg.Record (its Length
// included) at the given deltas, digits being its time.
func recordSize(r *log.Record, tsDelta int64, offDelta int32, digits []byte) int {
	hs := recordHeaders(r, digits)
	kr := kafkaRecord(r, tsDelta, offDelta, hs[:])
	return varintLen(int64(kr.Length)) + int(kr.Length)
}

// longestTime is as long as the longest decimal time.
var longestTime = strconv.AppendInt(nil, math.MinInt64, 10)

// maxEncodedSize is at least the size of recs in a batch, whatever their
// times and place in it.
func maxEncodedSize(recs []log.Record) int {
	n := 0
	for i := range recs {
		n += recordSize(&recs[i], math.MaxInt64, math.MaxInt32, longestTime)
	}
	return n
}

// kafkaMillis is the Kafka timestamp of a record accepted at Unix
// nanoseconds nanos: its millisecond, and 0 before 1970 (negative
// timestamps are special values in Kafka's protocol; HeaderTime keeps the
// exact time).
func kafkaMillis(nanos int64) int64 { return max(0, millisOf(nanos)) }

// millisOf is the millisecond of Unix nanoseconds, rounded down.
func millisOf(nanos int64) int64 {
	m := nanos / 1e6
	if nanos < 0 && nanos%1e6 != 0 {
		m--
	}
	return m
}
