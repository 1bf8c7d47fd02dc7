package kafkalog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

// ErrUnavailable wraps the errors of an append (or another operation) that
// the brokers did not answer in time: the cluster is down or unreachable.
// An append that fails with it may or may not be in the log (its request
// may have been written before the connection broke); a later append works
// once the brokers are back.
var ErrUnavailable = store.ErrUnavailable

// Defaults of Options.
const (
	DefaultTopicPrefix    = "strmlocal-log-"
	DefaultProduceTimeout = 5 * time.Second
	DefaultOpenTimeout    = 5 * time.Second
	DefaultPollWait       = 5 * time.Second
	// DefaultMaxBatchBytes bounds one record batch: an append whose
	// encoding is at most this size is one batch, written atomically at
	// contiguous offsets. Topics are created with max.message.bytes set to
	// it.
	DefaultMaxBatchBytes = 8 << 20
	// DefaultMaxIdleFetchers is how many fetch clients are kept for reuse.
	DefaultMaxIdleFetchers = 4
)

// Header names of the records.
const (
	// HeaderTime holds a record's acceptance time in Unix nanoseconds,
	// as decimal ASCII digits (the Kafka timestamp has milliseconds only).
	HeaderTime = "strmlocal-time"
	// HeaderMeta holds a record's metadata (log.Record.Meta).
	HeaderMeta = "strmlocal-meta"
)

// Options configure a Log.
type Options struct {
	// Brokers are the seed brokers, as host:port. Required.
	Brokers []string
	// TopicPrefix is the prefix of every stream's topic, followed by the
	// stream ID in decimal. Default: DefaultTopicPrefix.
	TopicPrefix string
	// State is where Also and Drop write (the scale-out mode's PostgreSQL
	// state), and where dropped streams are marked. Required.
	State store.KV
	// OnCommit, if set, observes every batch the brokers acknowledged, as
	// log.Options.OnCommit does the Pebble log's group commits: its
	// records, its bytes, and (Sync) the wait for the acknowledgement.
	// It must return quickly. Default: nil.
	OnCommit func(log.CommitStats)
	// Now stamps records appended without a Time. Default: time.Now.
	Now func() time.Time
	// ReadBatch is the most records one Tail.Next returns. Default:
	// log.DefaultReadBatch.
	ReadBatch int
	// ReadBytes bounds the bytes (metadata plus value) of the records one
	// Read or Tail.Next returns, though always at least one record.
	// Default: log.DefaultReadBytes.
	ReadBytes int
	// Logger gets diagnostics (never record contents). Default: discard.
	Logger *slog.Logger
	// ReplicationFactor of the topics created. Default (0 or -1): the
	// brokers' default.
	ReplicationFactor int16
	// Retention, if set, is also given to the brokers when a topic is
	// created (retention.ms, retention.bytes), so that they enforce it
	// between calls of Trim. Default: topics keep everything
	// (retention.ms=-1, retention.bytes=-1) and only Trim removes records.
	Retention log.Retention
	// TopicConfig adds to (or overrides) the configs topics are created
	// with, e.g. message.timestamp.after.max.ms for a virtual clock ahead
	// of the brokers' (Kafka 4 refuses timestamps more than an hour
	// ahead by default).
	TopicConfig map[string]string
	// ProduceTimeout bounds how long an append waits for the brokers'
	// acknowledgement, retries included; it bounds the other requests
	// too (a read, Bounds, a tail's wait beyond PollWait), so that an
	// operation fails with ErrUnavailable rather than hang while the
	// brokers are down. Default: DefaultProduceTimeout.
	ProduceTimeout time.Duration
	// OpenTimeout bounds how long Open tries to reach a broker.
	// Default: DefaultOpenTimeout.
	OpenTimeout time.Duration
	// PollWait is the longest a Tail's fetch waits at the broker for new
	// records before it asks again. Default: DefaultPollWait.
	PollWait time.Duration
	// MaxBatchBytes bounds one produced record batch. Default:
	// DefaultMaxBatchBytes.
	MaxBatchBytes int
	// MaxIdleFetchers is how many idle fetch clients are kept. Default:
	// DefaultMaxIdleFetchers.
	MaxIdleFetchers int
}

func (o *Options) ensureDefaults() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka log: Options.Brokers is empty: want at least one broker as host:port")
	}
	if o.State == nil {
		return errors.New("kafka log: Options.State is required")
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = DefaultTopicPrefix
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadBatch <= 0 {
		o.ReadBatch = log.DefaultReadBatch
	}
	if o.ReadBytes <= 0 {
		o.ReadBytes = log.DefaultReadBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.ProduceTimeout <= 0 {
		o.ProduceTimeout = DefaultProduceTimeout
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	if o.PollWait <= 0 {
		o.PollWait = DefaultPollWait
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	o.MaxBatchBytes = max(o.MaxBatchBytes, 1024)
	if o.MaxIdleFetchers <= 0 {
		o.MaxIdleFetchers = DefaultMaxIdleFetchers
	}
	return nil
}

// Log is the event log over a Kafka cluster: one single-partition topic per
// stream. It is safe for concurrent use, and several Logs (in several
// processes) may share one cluster and one State.
type Log struct {
	opts    Options
	servers string // the seed brokers, for messages

	cl      *kgo.Client // metadata, admin requests and produce requests
	adm     *kadm.Client
	hooks   *netHooks
	fetch   *fetchPool
	decomp  kgo.Decompressor
	clOpts  []kgo.Opt
	configs map[string]*string // of the topics created

	// state groups the Also writes of concurrent appends into one commit.
	state combiner

	mu      sync.Mutex
	streams map[log.StreamID]*stream // REQUIRES: mu held
	closed  bool                     // REQUIRES: mu held
	ops     sync.WaitGroup           // operations in progress; Add with mu held and !closed
	// closing is cancelled by Close: it ends the waits of tails.
	closing context.Context
	cancel  context.CancelFunc

	// Counters for tests and diagnostics.
	produced, fetches atomic.Uint64
}

// netHooks keeps the last network error of a client, for messages.
type netHooks struct{ last atomic.Pointer[netErr] }

type netErr struct {
	err error
	at  time.Time
}

func (h *netHooks) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.last.Store(&netErr{err, time.Now()})
	}
}

// lastErr is the last error of a connection to a broker, if it is not
// older than d (the dial error itself: "dial tcp host:port: connect:
// connection refused").
func (h *netHooks) lastErr(d time.Duration) error {
	p := h.last.Load()
	if p == nil || time.Since(p.at) > d {
		return nil
	}
	var oe *net.OpError
	if errors.As(p.err, &oe) {
		return oe
	}
	return p.err
}

// Open connects to the cluster and returns its Log. It fails, within
// Options.OpenTimeout (or when ctx ends), when no broker answers.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	l := &Log{
		opts:    opts,
		servers: strings.Join(opts.Brokers, ","),
		hooks:   &netHooks{},
		decomp:  kgo.DefaultDecompressor(),
		streams: make(map[log.StreamID]*stream),
	}
	l.clOpts = []kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID("strmlocal-log"),
		kgo.DialTimeout(min(opts.OpenTimeout, 10*time.Second)),
		kgo.RequestRetries(3),
		kgo.RetryTimeout(opts.ProduceTimeout),
		kgo.MetadataMinAge(250 * time.Millisecond),
		// Produce requests are built here (produce.go): kgo's own
		// producer is not used, its acks must match ours.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
	}
	cl, err := kgo.NewClient(append(l.clOpts, kgo.WithHooks(l.hooks))...)
	if err != nil {
		return nil, fmt.Errorf("kafka log: %w", err)
	}
	l.cl = cl
	l.adm = kadm.NewClient(cl)
	l.adm.SetTimeoutMillis(int32(opts.ProduceTimeout.Milliseconds()))

	pctx, cancel := context.WithTimeout(ctx, opts.OpenTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: only the brokers
	if _, err := req.RequestWith(pctx, cl); err != nil {
		cl.Close()
		if last := l.hooks.lastErr(opts.OpenTimeout); last != nil {
			err = last
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("kafka log: no broker reachable at %s: %w", l.servers, err)
	}

	l.configs = map[string]*string{
		"retention.ms":           kadm.StringPtr("-1"),
		"retention.bytes":        kadm.StringPtr("-1"),
		"message.timestamp.type": kadm.StringPtr("CreateTime"),
		"max.message.bytes":      kadm.StringPtr(strconv.Itoa(opts.MaxBatchBytes + batchSlack)),
	}
	if r := opts.Retention; r.MaxAge > 0 {
		l.configs["retention.ms"] = kadm.StringPtr(strconv.FormatInt(max(r.MaxAge.Milliseconds(), 1), 10))
	}
	if r := opts.Retention; r.MaxBytes > 0 {
		l.configs["retention.bytes"] = kadm.StringPtr(strconv.FormatUint(r.MaxBytes, 10))
	}
	for k, v := range opts.TopicConfig {
		l.configs[k] = kadm.StringPtr(v)
	}
	l.closing, l.cancel = context.WithCancel(context.Background())
	l.fetch = newFetchPool(l)
	return l, nil
}

// batchSlack is what a topic's max.message.bytes allows beyond
// Options.MaxBatchBytes: the batch header and one record's framing.
const batchSlack = 64 << 10

// Close waits for the operations in progress (an append waits at most
// Options.ProduceTimeout), wakes every tail with log.ErrClosed and closes
// every connection. Later calls return log.ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.ops.Wait()
	l.fetch.close()
	l.cl.Close()
	return nil
}

// begin starts an operation: it fails with log.ErrClosed once Close began.
// The caller calls l.ops.Done when done.
func (l *Log) begin() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return log.ErrClosed
	}
	l.ops.Add(1)
	return nil
}

// enter begins an operation on stream id (begin, then get): on success the
// caller ends it with l.ops.Done; on an error it is ended already.
func (l *Log) enter(id log.StreamID) (*stream, error) {
	if err := l.begin(); err != nil {
		return nil, err
	}
	s, err := l.get(id)
	if err != nil {
		l.ops.Done()
		return nil, err
	}
	return s, nil
}

// stream is what the Log knows of one stream.
type stream struct {
	id    log.StreamID
	topic string

	// mu guards the fields below it, up to prod.
	mu        sync.Mutex
	checkedAt time.Time // when the dropped marker was last read
	dropped   bool      // the stream is dropped
	meta      topicMeta // valid when metaOK
	metaOK    bool
	// dropCtx is cancelled when dropped is set: it ends the waits of the
	// stream's tails.
	dropCtx    context.Context
	dropCancel context.CancelFunc

	// prod combines the appends of this process to this stream.
	prod combiner
	// The producer state, touched only by the leader of prod.
	pid       int64
	epoch     int16
	seq       int32
	pidOK     bool
	lastNanos int64 // time of the last record this process appended
}

// topicMeta is what the cluster says about a stream's topic.
type topicMeta struct {
	exists bool
	id     [16]byte
	leader int32
}

// get returns the stream, reading its dropped marker on first use.
func (l *Log) get(id log.StreamID) (*stream, error) {
	l.mu.Lock()
	s := l.streams[id]
	if s == nil {
		s = &stream{id: id, topic: l.topicName(id)}
		s.dropCtx, s.dropCancel = context.WithCancel(context.Background())
		l.streams[id] = s
	}
	l.mu.Unlock()
	s.mu.Lock()
	checkedAt, dropped := s.checkedAt, s.dropped
	s.mu.Unlock()
	if dropped {
		return s, log.ErrDropped
	}
	if !checkedAt.IsZero() && time.Since(checkedAt) < markerRecheck {
		return s, nil
	}
	dropped, err := l.readMarker(s)
	if err != nil {
		return s, err
	}
	if dropped {
		// A drop that could not delete the topic (its process died, the
		// brokers were down) is finished by whoever sees its marker.
		l.deleteTopic(s)
		return s, log.ErrDropped
	}
	return s, nil
}

// markerRecheck is how long a stream's dropped marker, once read, is
// trusted to be unset. A drop by another process deletes the stream's
// topic, which the operations here notice at once; the marker is read
// again now and then for a drop whose topic deletion failed.
const markerRecheck = 30 * time.Second

// readMarker reads the stream's dropped marker from the State, and marks
// the stream dropped when it is set.
func (l *Log) readMarker(s *stream) (bool, error) {
	now := time.Now()
	_, err := l.opts.State.Get(markerKey(s.id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.mu.Lock()
		s.checkedAt = now
		s.mu.Unlock()
		return false, nil
	case err != nil:
		return false, fmt.Errorf("kafka log: stream %d: read the state: %w", s.id, err)
	}
	l.setDropped(s)
	return true, nil
}

// setDropped marks s dropped in this process and wakes its tails.
func (l *Log) setDropped(s *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dropped {
		s.dropped = true
		s.dropCancel()
	}
}

func (s *stream) isDropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// kindDropped is the kind byte (after store.SpaceLog) of the keys that mark
// a stream dropped in the State: {SpaceLog, 'K', 'd', stream ID (8 bytes,
// big-endian)}. The embedded log's kinds are 'r', 't' and 's'
// (log/keys.go); 'K' is this package's.
const (
	kindKafka   byte = 'K'
	kindDropped byte = 'd'
)

func markerKey(id log.StreamID) []byte {
	k := []byte{store.SpaceLog, kindKafka, kindDropped}
	return binary.BigEndian.AppendUint64(k, uint64(id))
}

// markerValue is the value of a dropped marker: a version byte and the
// time of the drop (Unix nanoseconds), for an operator reading the state.
func markerValue(t time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte{1}, uint64(t.UnixNano()))
}

// unavailable wraps err in ErrUnavailable, saying what failed: op of the
// stream's topic. An error of an inner step that is unavailable already is
// said as the outer op's.
func (l *Log) unavailable(op string, s *stream, err error) error {
	var ue *unavailableError
	if errors.As(err, &ue) {
		err = ue.err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		if last := l.hooks.lastErr(l.opts.ProduceTimeout); last != nil {
			err = fmt.Errorf("no answer in %s: %w", l.opts.ProduceTimeout, last)
		}
	}
	return &unavailableError{where: l.servers, op: op, topic: s.topic, err: err}
}

// unavailableError is an error of the brokers: "storage unavailable: kafka
// log at 127.0.0.1:9092: produce to topic strmlocal-log-1: no answer in
// 5s: dial tcp 127.0.0.1:9092: connect: connection refused".
type unavailableError struct {
	where, op, topic string
	err              error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%v: kafka log at %s: %s topic %s: %v", ErrUnavailable, e.where, e.op, e.topic, e.err)
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// topicName is the name of stream id's topic.
func (l *Log) topicName(id log.StreamID) string {
	return l.opts.TopicPrefix + strconv.FormatUint(uint64(id), 10)
}
