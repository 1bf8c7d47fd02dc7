package pgkv

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/strmlocal/strmlocal/internal/store"
)

const (
	getSQL = `SELECT v FROM strmlocal_kv WHERE k = $1`
	// The pages of a Scan: from lo (>=), then after the last key (>).
	scanFromSQL    = `SELECT k, v FROM strmlocal_kv WHERE k >= $1 ORDER BY k LIMIT $2`
	scanAfterSQL   = `SELECT k, v FROM strmlocal_kv WHERE k > $1 ORDER BY k LIMIT $2`
	scanFromToSQL  = `SELECT k, v FROM strmlocal_kv WHERE k >= $1 AND k < $3 ORDER BY k LIMIT $2`
	scanAfterToSQL = `SELECT k, v FROM strmlocal_kv WHERE k > $1 AND k < $3 ORDER BY k LIMIT $2`
)

// querier is the pool, or the connection of a snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Get returns a copy of k's value, or store.ErrNotFound.
func (kv *KV) Get(k []byte) ([]byte, error) {
	if kv.closed.Load() {
		return nil, errClosed
	}
	var v []byte
	err := kv.retry(func(ctx context.Context) (err error) {
		v, err = get(ctx, kv.pool, k)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return v, kv.fail("get", err)
}

// Scan calls fn for every key in [lo, hi) in order, reading pages of
// Options.PageRows keys; fn runs between the pages' queries, holding no
// connection. It is not a snapshot: use one (NewSnapshot) to read keys as
// of one moment.
func (kv *KV) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	if kv.closed.Load() {
		return errClosed
	}
	return scanPages(lo, hi, kv.opts.PageRows, fn, func(from []byte, after bool, p *page) error {
		err := kv.retry(func(ctx context.Context) error {
			return p.read(ctx, kv.pool, from, after, hi, kv.opts.PageRows)
		})
		return kv.fail("scan", err)
	})
}

// retry runs a read, and runs it once more on a new connection when its
// connection turned out broken (one the pool kept across a restart of the
// server).
func (kv *KV) retry(read func(ctx context.Context) error) error {
	ctx, cancel := kv.opCtx()
	err := read(ctx)
	cancel()
	if err != nil && retryable(err) && !kv.closed.Load() {
		kv.pool.Reset() // the other idle connections are likely broken too
		ctx, cancel := kv.opCtx()
		err = read(ctx)
		cancel()
	}
	return err
}

func get(ctx context.Context, q querier, k []byte) ([]byte, error) {
	var v []byte
	err := q.QueryRow(ctx, getSQL, nonNil(k)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// page is one query's rows, copied into one buffer that the next page
// reuses.
type page struct {
	buf  []byte
	ends []int // of each row: the end of its key in buf, then of its value
}

// read replaces p with the next rows: from from (or after it), below hi
// (nil: no bound), at most limit of them.
func (p *page) read(ctx context.Context, q querier, from []byte, after bool, hi []byte, limit int) error {
	p.buf, p.ends = p.buf[:0], p.ends[:0]
	var rows pgx.Rows
	var err error
	switch {
	case hi == nil && !after:
		rows, err = q.Query(ctx, scanFromSQL, from, limit)
	case hi == nil:
		rows, err = q.Query(ctx, scanAfterSQL, from, limit)
	case !after:
		rows, err = q.Query(ctx, scanFromToSQL, from, limit, hi)
	default:
		rows, err = q.Query(ctx, scanAfterToSQL, from, limit, hi)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v pgtype.DriverBytes // valid until Next: copied now
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		p.buf = append(p.buf, k...)
		kEnd := len(p.buf)
		p.buf = append(p.buf, v...)
		p.ends = append(p.ends, kEnd, len(p.buf))
	}
	return rows.Err()
}

// scanPages calls fn for each row of the pages fetch reads, from lo on,
// until a page is short.
func scanPages(lo, hi []byte, limit int, fn func(k, v []byte) error, fetch func(from []byte, after bool, p *page) error) error {
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	var (
		p     page
		from  = nonNil(lo)
		after bool
		last  []byte
	)
	for {
		if err := fetch(from, after, &p); err != nil {
			return err
		}
		n := len(p.ends) / 2
		if n == limit {
			// The next page starts after this one's last key, copied
			// before fn may scribble on it.
			start := 0
			if n > 1 {
				start = p.ends[2*n-3]
			}
			last = append(last[:0], p.buf[start:p.ends[2*n-2]]...)
		}
		start := 0
		for i := range n {
			kEnd, vEnd := p.ends[2*i], p.ends[2*i+1]
			if err := fn(p.buf[start:kEnd:kEnd], p.buf[kEnd:vEnd:vEnd]); err != nil {
				return err
			}
			start = vEnd
		}
		if n < limit {
			return nil
		}
		from, after = last, true
	}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// snapshot is a REPEATABLE READ READ ONLY transaction on a connection of
// its own, held until Close.
type snapshot struct {
	kv *KV

	mu     sync.Mutex
	conn   *pgxpool.Conn // nil once broken or closed
	err    error         // why it cannot read, once broken
	closed bool
}

var errSnapshotClosed = errors.New("postgres state: the snapshot is closed")

// NewSnapshot begins a REPEATABLE READ READ ONLY transaction and takes its
// snapshot at once: writes committed after NewSnapshot returns are not
// seen. It holds a connection of the pool until Close. When the server
// cannot be reached, the snapshot's reads return the error.
func (kv *KV) NewSnapshot() store.Snapshot {
	s := &snapshot{kv: kv}
	if kv.closed.Load() {
		s.err = errClosed
		return s
	}
	err := kv.retry(s.begin)
	if err != nil {
		s.err = kv.fail("snapshot", err)
		return s
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.closed.Load() { // Close has collected the snapshots already
		s.conn.Release()
		s.conn, s.err = nil, errClosed
		return s
	}
	kv.snapshots[s] = struct{}{}
	return s
}

func (s *snapshot) begin(ctx context.Context) error {
	conn, err := s.kv.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// One round trip; the SELECT fixes the transaction's snapshot (it is
	// taken by the first statement after BEGIN, not by BEGIN).
	if err := conn.Conn().PgConn().Exec(ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1`).Close(); err != nil {
		conn.Release() // not idle: the pool drops it
		return err
	}
	s.conn = conn
	return nil
}

func (s *snapshot) Get(k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	ctx, cancel := s.kv.opCtx()
	defer cancel()
	v, err := get(ctx, s.conn, k)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.broken("snapshot get", err)
	}
	return v, err
}

func (s *snapshot) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	limit := s.kv.opts.PageRows
	return scanPages(lo, hi, limit, fn, func(from []byte, after bool, p *page) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.usable(); err != nil {
			return err
		}
		ctx, cancel := s.kv.opCtx()
		defer cancel()
		if err := p.read(ctx, s.conn, from, after, hi, limit); err != nil {
			return s.broken("snapshot scan", err)
		}
		return nil
	})
}

func (s *snapshot) usable() error {
	switch {
	case s.closed:
		return errSnapshotClosed
	case s.err != nil:
		return s.err
	}
	return nil
}

// broken gives up the snapshot after a failed statement: its transaction
// is aborted, or its connection lost. Later reads return the same error.
func (s *snapshot) broken(op string, err error) error {
	s.err = s.kv.fail(op, err)
	s.release()
	return s.err
}

func (s *snapshot) release() {
	if s.conn == nil {
		return
	}
	s.conn.Release() // a connection left in a transaction is dropped
	s.conn = nil
	s.kv.mu.Lock()
	delete(s.kv.snapshots, s)
	s.kv.mu.Unlock()
}

// Close ends the transaction and gives the connection back.
func (s *snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.kv.opts.Timeout)
	defer cancel()
	err := s.conn.Conn().PgConn().Exec(ctx, `ROLLBACK`).Close()
	s.release()
	if err != nil && !unreachable(err) {
		return s.kv.fail("closing a snapshot", err)
	}
	return nil // a lost connection ended the transaction as well
}
