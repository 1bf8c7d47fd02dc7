package log

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/strmlocal/strmlocal/internal/store"
)

// StreamID identifies one sequence of records. IDs are assigned by the
// catalogue and never reused, so a dropped stream's records can never
// reappear under a new stream.
type StreamID uint64

// Record is one entry of the log.
type Record struct {
	// Offset is the position in the stream, set by Append.
	Offset uint64
	// Time is the acceptance time. Append keeps it if it is set and not
	// earlier than the previous record's; it uses Options.Now when zero.
	Time time.Time
	// Meta and Value are opaque to the log.
	Meta, Value []byte
}

var (
	// ErrClosed is returned by operations on a closed Log.
	ErrClosed = errors.New("log: closed")
	// ErrDropped is returned for a stream that was dropped.
	ErrDropped = errors.New("log: stream dropped")
	// ErrEmpty is returned by Append when given no records.
	ErrEmpty = errors.New("log: no records to append")
)

// Defaults of Options.
const (
	DefaultMaxGroupRecords = 16384
	DefaultReadBatch       = 512
	DefaultReadBytes       = 4 << 20
)

// Options configure a Log. Every field has a usable zero value.
type Options struct {
	// Now stamps records appended without a Time. Default: time.Now.
	Now func() time.Time
	// MaxGroupRecords bounds how many records one group commit takes from
	// waiting appenders; an append larger than this still commits whole.
	// Default: DefaultMaxGroupRecords.
	MaxGroupRecords int
	// ReadBatch is the most records one Subscription.Next returns.
	// Default: DefaultReadBatch.
	ReadBatch int
	// ReadBytes bounds the bytes (metadata plus value) of the records one
	// Read or Subscription.Next returns; a single record larger than it is
	// still returned on its own. Default: DefaultReadBytes.
	ReadBytes int
	// Logger gets diagnostics (never record contents). Default: discard.
	Logger *slog.Logger
	// OnCommit, if set, is called after each group commit that was synced,
	// on the goroutine that answers appenders: it must return quickly (a
	// metrics observer, docs/metrics.md). Default: nil.
	OnCommit func(CommitStats)
}

// CommitStats describe one synced group commit.
type CommitStats struct {
	Records int           // records the group carried
	Bytes   int           // size of the batch written to the WAL
	Sync    time.Duration // the wait for its fsync, by the wall clock
}

func (o *Options) ensureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxGroupRecords <= 0 {
		o.MaxGroupRecords = DefaultMaxGroupRecords
	}
	if o.ReadBatch <= 0 {
		o.ReadBatch = DefaultReadBatch
	}
	if o.ReadBytes <= 0 {
		o.ReadBytes = DefaultReadBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Log is the set of all streams' records in one Pebble database.
type Log struct {
	db   *pebble.DB
	opts Options

	// commitMu serialises every write: group commits, trims and drops.
	commitMu sync.Mutex

	mu      sync.Mutex
	streams map[StreamID]*stream // loaded streams; REQUIRES: mu held
	closed  bool                 // REQUIRES: mu held

	// sendMu guards sends on reqs against Close closing it.
	sendMu   sync.RWMutex
	reqs     chan *appendReq
	syncq    chan *flight   // groups written, waiting for their fsync
	slots    chan struct{}  // one token per group in flight (pipelineDepth)
	inflight sync.WaitGroup // groups in syncq; Add only with commitMu held
	broken   error          // set when a sync failed; REQUIRES: mu held
	closing  chan struct{}  // closed by Close: wakes subscribers
	stopped  chan struct{}  // closed when the syncer has exited

	reqPool sync.Pool

	commits, appends, records atomic.Uint64
}

// Stats count the log's work since Open.
type Stats struct {
	Commits uint64 // group commits (synced batches) that succeeded
	Appends uint64 // Append calls they carried
	Records uint64 // records they carried
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	return Stats{Commits: l.commits.Load(), Appends: l.appends.Load(), Records: l.records.Load()}
}

// stream is the in-memory view of one stream.
type stream struct {
	// st is the durable state. INVARIANT: written only with both commitMu
	// and Log.mu held, so either lock suffices to read it.
	st state
	// pend is st advanced by the groups in flight. REQUIRES: commitMu held.
	// INVARIANT: pend == st when no group is in flight.
	pend    state
	notify  chan struct{} // closed and replaced on every change; REQUIRES: mu held
	dropped bool          // REQUIRES: mu held (written under commitMu too)
}

type appendReq struct {
	id    StreamID
	recs  []Record
	also  Also
	first uint64
	err   error
	done  chan struct{}
}

// Open starts a Log over db. The caller keeps ownership of db and must Close
// the Log before closing db. It refuses (ErrInconsistent) a database whose
// stream states do not match the records present.
func Open(db *pebble.DB, opts Options) (*Log, error) {
	opts.ensureDefaults()
	if err := checkEnds(db); err != nil {
		return nil, err
	}
	l := &Log{
		db:      db,
		opts:    opts,
		streams: make(map[StreamID]*stream),
		reqs:    make(chan *appendReq, 1024),
		syncq:   make(chan *flight, pipelineDepth),
		slots:   make(chan struct{}, pipelineDepth),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	l.reqPool.New = func() any { return &appendReq{done: make(chan struct{}, 1)} }
	go l.run()
	go l.syncLoop()
	return l, nil
}

// Close stops the committer after it has answered every append already
// submitted, and wakes all subscribers with ErrClosed.
func (l *Log) Close() error {
	l.sendMu.Lock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.sendMu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.reqs)
	l.sendMu.Unlock()
	<-l.stopped
	close(l.closing)
	return nil
}

// Append appends recs to the stream and returns the offset of the first one,
// after all of them are durable. It sets Offset and Time of every record in
// recs. Either all records are appended or none is.
//
// Once submitted, an append is not abandoned when ctx ends: it may already
// be durable, so Append waits for the verdict.
func (l *Log) Append(ctx context.Context, id StreamID, recs []Record) (uint64, error) {
	return l.AppendAlso(ctx, id, recs, nil)
}

// Also is a caller's own writes that an append carries into the batch of
// its group commit, so that they become durable with its records, by the
// same fsync (the keys package's new key links and event index,
// docs/log.md). The committer goroutine calls, for the appends of a group
// that carry one, in this order:
//
//   - Add for each of them, after the appends before it in the group and
//     before the batch is written to the WAL, with the offsets its n
//     records will take: [first, first+n) (the appends of one stream in a
//     group get consecutive offsets, in order). An error from Add fails
//     that append alone; what Add put into b before the error is written
//     with the group.
//   - EndGroup, once for each Also whose Add succeeded, after the last Add of
//     the group and before the batch is written: there an Also writes what
//     it keeps for the whole group (the keys package's event index writes
//     one entry per stream and group there, not one per append). Alsos
//     that share state see a EndGroup per append and must do the group's work
//     once. An error from EndGroup abandons the whole group.
//   - Done for each Also whose Add was called (failed or not), in the
//     order of the Adds, once the batch is written (ok) or abandoned.
//
// An abandoned group's offsets are given again to later appends. None of
// them may wait for the log.
//
// A log that cannot tell offsets before it writes (the scale-out mode's
// Kafka log) passes first = 0, commits b (after the EndGroups) before it
// writes the records, and its callers keep no index by offset at append.
type Also interface {
	Add(b store.Batch, first uint64, n int) error
	EndGroup(b store.Batch) error
	Done(ok bool)
}

// Tail reads a stream in order, waiting for new records at the end
// (Subscribe). It is not safe for concurrent use.
type Tail interface {
	// Next returns the next records (at least one), waiting until one is
	// durable. It returns ctx.Err() when ctx ends, ErrClosed when the log
	// closes and ErrDropped when the stream is dropped.
	Next(ctx context.Context) ([]Record, error)
	// Offset is the offset of the next record Next will return.
	Offset() uint64
}

// AppendAlso is Append with also's writes in the same atomic batch as the
// records (also may be nil): when it returns nil, both are durable.
func (l *Log) AppendAlso(ctx context.Context, id StreamID, recs []Record, also Also) (uint64, error) {
	if len(recs) == 0 {
		return 0, ErrEmpty
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	req := l.reqPool.Get().(*appendReq)
	req.id, req.recs, req.also, req.first, req.err = id, recs, also, 0, nil
	l.sendMu.RLock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		l.sendMu.RUnlock()
		req.recs, req.also = nil, nil
		l.reqPool.Put(req)
		return 0, ErrClosed
	}
	l.reqs <- req
	l.sendMu.RUnlock()
	<-req.done
	first, err := req.first, req.err
	req.recs, req.also = nil, nil
	l.reqPool.Put(req)
	return first, err
}

// run is the committer: it takes every waiting append into one group and
// writes the group as one batch (see commit.go).
func (l *Log) run() {
	defer close(l.syncq)
	w := newGroupWriter(l)
	for {
		// Wait for room in the pipeline first: appends arriving meanwhile
		// join the next group instead of queueing as many small ones.
		l.slots <- struct{}{}
		req, ok := <-l.reqs
		if !ok {
			return
		}
		group := []*appendReq{req}
		n := len(req.recs)
	drain:
		for n < l.opts.MaxGroupRecords {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
				n += len(r.recs)
			default:
				break drain
			}
		}
		if f := w.write(group); f != nil {
			l.syncq <- f
		} else {
			<-l.slots
		}
	}
}

// fail stops the log from accepting writes.
func (l *Log) fail(err error) {
	l.opts.Logger.Error("log: stopped accepting writes", "err", err)
	l.mu.Lock()
	if l.broken == nil {
		l.broken = err
	}
	l.mu.Unlock()
}

// failure returns the error that stopped the log, if any.
func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.broken
}

// quiesce takes commitMu and waits until no group is in flight, so the
// caller sees pend == st for every stream. The caller unlocks commitMu.
func (l *Log) quiesce() {
	l.commitMu.Lock()
	l.inflight.Wait()
}

// load returns the stream, reading its state from the database on first use.
// REQUIRES: mu held.
func (l *Log) load(id StreamID) (*stream, error) {
	if s := l.streams[id]; s != nil {
		return s, nil
	}
	var st state
	v, closer, err := l.db.Get(stateKey(id))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("log: read state of stream %d: %w", id, err)
	default:
		st, err = decodeState(v)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("stream %d: %w", id, err)
		}
	}
	s := &stream{st: st, pend: st, notify: make(chan struct{})}
	l.streams[id] = s
	return s, nil
}

// view returns a snapshot of the stream's durable state and the channel
// that will be closed on its next change.
func (l *Log) view(id StreamID) (state, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return state{}, nil, ErrClosed
	}
	s, err := l.load(id)
	if err != nil {
		return state{}, nil, err
	}
	if s.dropped {
		return state{}, nil, ErrDropped
	}
	return s.st, s.notify, nil
}

// publish makes a new durable state visible and wakes its readers. Called by
// the syncer, or with the log quiesced.
func (l *Log) publish(s *stream, st state, dropped bool) {
	l.mu.Lock()
	s.st, s.dropped = st, dropped
	close(s.notify)
	s.notify = make(chan struct{})
	l.mu.Unlock()
}

// Bounds returns the offsets held by the stream: [first, next). A stream
// never appended to has first == next == 0.
func (l *Log) Bounds(id StreamID) (first, next uint64, err error) {
	st, _, err := l.view(id)
	return st.first, st.next, err
}

// Size returns the stored size in bytes of the records the stream holds,
// from its state: no records are read.
func (l *Log) Size(id StreamID) (uint64, error) {
	st, _, err := l.view(id)
	return st.bytes, err
}

// Drop deletes every record of the stream, durably. Appends to it fail from
// then on with ErrDropped, and its subscribers are woken with ErrDropped.
// also, if not nil, adds the caller's own writes to the same atomic batch.
func (l *Log) Drop(id StreamID, also func(store.Batch) error) error {
	l.quiesce()
	defer l.commitMu.Unlock()
	l.mu.Lock()
	s, err := l.load(id)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	b := l.db.NewBatch()
	defer b.Close()
	for _, kind := range []byte{kindRecord, kindTime} {
		p := streamPrefix(kind, id)
		if err := b.DeleteRange(p, store.PrefixEnd(p), nil); err != nil {
			return err
		}
	}
	if err := b.Delete(stateKey(id), nil); err != nil {
		return err
	}
	if also != nil {
		if err := also(store.PebbleBatch(b)); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("log: drop stream %d: %w", id, err)
	}
	s.pend = state{}
	l.publish(s, state{}, true)
	return nil
}

func timeFromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func millisOf(nanos int64) int64 {
	m := nanos / 1e6
	if nanos < 0 && nanos%1e6 != 0 {
		m--
	}
	return m
}
