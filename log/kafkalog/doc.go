// Package kafkalog is the scale-out mode's event log: log.Log's semantics
// (the method set of app.EventLog) over a Kafka cluster, so that several
// gateway processes share the streams' records.
//
// # Layout
//
// Each stream is one topic, Options.TopicPrefix followed by the stream ID
// in decimal ("strmlocal-log-42"), of exactly one partition, so that its
// Kafka offsets are the stream's dense offsets. Topics are created on
// first append (or first wait of a tail) with retention.ms=-1 and
// retention.bytes=-1 (only Trim removes records, unless Options.Retention
// asks the brokers to enforce it too), message.timestamp.type=CreateTime
// and max.message.bytes fitting Options.MaxBatchBytes. A record has no
// key; its value is log.Record.Value; its headers are HeaderTime (the
// acceptance time in Unix nanoseconds, decimal ASCII digits: readable by
// any tool, where the Kafka timestamp has milliseconds only) and
// HeaderMeta (log.Record.Meta); its Kafka timestamp is the time's
// millisecond.
//
// The State (Options.State, PostgreSQL in the scale-out mode) holds what
// appends and drops carry (log.Also, Drop's also), and one key per dropped
// stream: {store.SpaceLog, 'K', 'd', stream ID as 8 bytes big-endian}
// ('K' is this package's kind byte in the log's key space; the embedded
// log uses 'r', 't' and 's').
//
// # Appends
//
// AppendAlso first commits the append's Also writes to the State, durably
// (the Also of concurrent appends are grouped into one commit, in the
// order log.Also defines: every Add, every EndGroup, the commit, every Done),
// so that key links are durable before any event using them is. A Kafka
// log cannot tell offsets before it writes: Add gets first = 0.
//
// Then the records are produced as one Kafka record batch, built here
// (with franz-go's wire types, kmsg.RecordBatch and kmsg.Record) and sent
// in a produce request to the partition's leader with acks from all
// in-sync replicas (franz-go's kgo client carries the request; its own
// producer is not used). Building the batch, rather than handing records
// to kgo's producer, is what gives an append log.Log's properties on
// Kafka:
//
//   - a batch is written whole or not at all, at contiguous offsets, even
//     with other processes appending to the same topic (kgo's producer may
//     cut one append's records into several batches, between which
//     another process's records can land);
//   - a failed append is not delivered later: kgo's producer keeps
//     records it gave up waiting for buffered, and would write them after
//     the caller was told of the failure;
//   - its time limit counts from the append, where kgo's
//     RecordDeliveryTimeout counts from each record's timestamp (an
//     event's acceptance time, which a virtual clock can set far back).
//
// Batches are idempotent: each stream has a producer ID (InitProducerID)
// and sequence in this process, so a batch retried after a lost answer is
// recognised by the broker and answered with its offset instead of being
// written twice. Appends of one process to one stream go one batch at a
// time; those that queue meanwhile are combined into the next batch (up
// to MaxBatchBytes), so concurrent appends share a round trip. An append
// larger than MaxBatchBytes is split into several batches, written one
// after the other (other processes' records may land between them).
//
// When the brokers do not answer within Options.ProduceTimeout, the append
// fails with an error wrapping ErrUnavailable (it may or may not have
// been written) and the stream's next append starts with a new producer
// ID, so nothing is left in a state that fails later appends.
//
// # Reads and tails
//
// Reads are fetch requests to the partition's leader, parsed with
// kgo.ProcessFetchPartition, bounded by Options.ReadBytes. A broker answers
// a connection's requests one at a time, so fetches go through a small pool
// of clients (connections): a tail's fetch, which the broker holds until a
// record arrives (Options.PollWait at most), holds up nothing else. A tail
// holds a client only during Next.
//
// Bounds are ListOffsets (earliest, latest); SeekTime is ListOffsets by
// timestamp (the first record of the millisecond), then a read for the
// exact nanosecond. Size is what the brokers' log directories report for
// the partition (DescribeLogDirs). Trim is DeleteRecords.
//
// # What holds across processes
//
// Offsets are dense and each append contiguous (up to MaxBatchBytes) with
// any number of processes appending. Times are non-decreasing in offset
// order among one process's appends to a stream; across processes they
// follow each process's clock. A drop is seen by other processes when they
// find the topic gone, or read the marker again (every 30 s, for a drop
// that could not delete the topic).
package kafkalog
