package pgkv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/strmlocal/strmlocal/internal/store"
)

const (
	// Channel is the channel of the change notifications (see Watch).
	Channel = "strmlocal_kv"

	setsSQL        = `INSERT INTO strmlocal_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v`
	deletesSQL     = `DELETE FROM strmlocal_kv WHERE k = ANY($1::bytea[])`
	deleteRangeSQL = `DELETE FROM strmlocal_kv WHERE k >= $1 AND k < $2`
	lockRowsSQL    = `SELECT 1 FROM strmlocal_kv WHERE k = ANY($1::bytea[]) ORDER BY k FOR UPDATE`
	lockSQL        = `SELECT pg_advisory_xact_lock($1)`
	expectedSQL    = `SELECT k, v FROM strmlocal_kv WHERE k = ANY($1::bytea[])`
	notifySQL      = `SELECT pg_notify($1, $2)`

	// The Sets or Deletes of a batch are statements of at most
	// maxRunRows rows and about maxRunBytes of keys and values each.
	maxRunRows  = 10_000
	maxRunBytes = 8 << 20

	// maxPayload keeps a notification under PostgreSQL's 8000 bytes;
	// past it the payload says "anything" instead of the prefixes.
	maxPayload = 7000
	// prefixLen is how many bytes of a key name its prefix in
	// notifications.
	prefixLen = 2

	// maxSerialRetries bounds the retries of a Commit that PostgreSQL
	// aborted for a deadlock (two batches writing the same keys in
	// different orders) or a serialisation failure.
	maxSerialRetries = 10
)

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opDeleteRange
)

// op is one write; for a DeleteRange, k is lo and v is hi.
type op struct {
	kind opKind
	k, v []byte
}

type expectation struct{ k, v []byte }

// batch collects writes in memory until Commit.
type batch struct {
	kv      *KV
	ops     []op
	expect  []expectation
	done    bool // committed or closed
	errDone error
}

var (
	errCommitted = errors.New("postgres state: Commit of a batch committed already")
	errBatchShut = errors.New("postgres state: Commit of a closed batch")
)

// NewBatch returns an empty batch.
func (kv *KV) NewBatch() store.Batch { return &batch{kv: kv} }

// clone copies b, keeping an empty slice empty rather than nil (nil is
// absent for Expect).
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func (b *batch) Set(k, v []byte) {
	b.ops = append(b.ops, op{opSet, append([]byte{}, k...), append([]byte{}, v...)})
}

func (b *batch) Delete(k []byte) {
	b.ops = append(b.ops, op{kind: opDelete, k: append([]byte{}, k...)})
}

// DeleteRange deletes [lo, hi); as with Pebble, a nil hi is the empty key,
// so the range is empty.
func (b *batch) DeleteRange(lo, hi []byte) {
	b.ops = append(b.ops, op{opDeleteRange, append([]byte{}, lo...), append([]byte{}, hi...)})
}

func (b *batch) Expect(k, v []byte) {
	b.expect = append(b.expect, expectation{append([]byte{}, k...), clone(v)})
}

func (b *batch) Empty() bool { return len(b.ops) == 0 }

func (b *batch) Close() {
	if !b.done {
		b.done, b.errDone = true, errBatchShut
	}
}

// Commit applies the writes in one transaction, after checking the
// expectations in it. sync is ignored: a commit is durable when it
// returns.
func (b *batch) Commit(bool) error {
	if b.done {
		return b.errDone
	}
	kv := b.kv
	if kv.closed.Load() {
		return errClosed
	}
	if len(b.ops) == 0 && len(b.expect) == 0 {
		b.done, b.errDone = true, errCommitted
		return nil
	}
	stmts := plan(b.ops)
	payload := kv.payload(b.ops)
	locks, expectKeys := expectations(b.expect)
	var err error
	retried := false
	for attempt := 0; ; attempt++ {
		var sent bool
		sent, err = kv.commit(b.expect, locks, expectKeys, stmts, payload)
		if err == nil {
			b.done, b.errDone = true, errCommitted
			return nil
		}
		if errors.Is(err, store.ErrConflict) || kv.closed.Load() {
			break
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") && attempt < maxSerialRetries {
			// A random pause, growing, so that the batches that
			// deadlocked do not meet again.
			kv.serialRetries.Add(1)
			time.Sleep(rand.N(time.Millisecond << min(attempt+1, 7)))
			continue
		}
		// A connection the pool kept across a restart of the server
		// fails at once; the transaction is gone with it unless its
		// COMMIT had been sent.
		if !sent && !retried && retryable(err) {
			retried = true
			kv.pool.Reset()
			continue
		}
		break
	}
	return kv.fail("commit", err)
}

// stmt is one statement of a commit.
type stmt struct {
	sql  string
	args []any
}

// plan turns ops into statements with the same effect. Writes of
// different keys commute, so a batch comes down to its DeleteRanges, run
// first, then the last write of each key that no later DeleteRange
// covers: one DELETE … = ANY(…) of the keys whose last write is a Delete,
// one INSERT … FROM unnest(…) ON CONFLICT DO UPDATE of those whose last
// write is a Set, with its value (an INSERT … ON CONFLICT cannot change a
// row twice), each split at maxRunRows rows or maxRunBytes. The keys go in
// byte order, and a batch with both Deletes and Sets first locks their
// rows in that order (SELECT … ORDER BY k FOR UPDATE): concurrent batches
// take the rows of their point writes in one order, so that they do not
// deadlock over them.
func plan(ops []op) []stmt {
	type write struct {
		seq int    // the index of the last write of the key in ops
		v   []byte // its value; nil: a Delete
	}
	var (
		stmts  []stmt
		points = map[string]write{}
		ranges []int // indexes in ops
	)
	for i, o := range ops {
		switch o.kind {
		case opSet:
			points[string(o.k)] = write{i, o.v}
		case opDelete:
			points[string(o.k)] = write{i, nil}
		case opDeleteRange:
			ranges = append(ranges, i)
			stmts = append(stmts, stmt{deleteRangeSQL, []any{o.k, o.v}})
		}
	}
	var sets, deletes []string
	for k, w := range points {
		covered := false
		for _, i := range ranges {
			if r := ops[i]; i > w.seq && k >= string(r.k) && k < string(r.v) {
				covered = true // the range, run first, deletes it
				break
			}
		}
		switch {
		case covered:
		case w.v == nil:
			deletes = append(deletes, k)
		default:
			sets = append(sets, k)
		}
	}
	sort.Strings(sets) // byte order, as bytea's
	sort.Strings(deletes)
	if len(sets) > 0 && len(deletes) > 0 {
		stmts = appendChunks(stmts, merge(sets, deletes), nil, lockRowsSQL)
	}
	stmts = appendChunks(stmts, deletes, nil, deletesSQL)
	values := make(map[string][]byte, len(sets))
	for _, k := range sets {
		values[k] = points[k].v
	}
	return appendChunks(stmts, sets, values, setsSQL)
}

// appendChunks appends statements sql of keys (and their values, for
// setsSQL), at most maxRunRows and about maxRunBytes each.
func appendChunks(stmts []stmt, keys []string, values map[string][]byte, sql string) []stmt {
	for len(keys) > 0 {
		n, size := 0, 0
		for n < len(keys) && n < maxRunRows && size < maxRunBytes {
			size += len(keys[n]) + len(values[keys[n]])
			n++
		}
		ks := make([][]byte, n)
		for i, k := range keys[:n] {
			ks[i] = []byte(k)
		}
		if values == nil {
			stmts = append(stmts, stmt{sql, []any{ks}})
		} else {
			vs := make([][]byte, n)
			for i, k := range keys[:n] {
				vs[i] = values[k]
			}
			stmts = append(stmts, stmt{sql, []any{ks, vs}})
		}
		keys = keys[n:]
	}
	return stmts
}

// merge returns the union of two sorted lists of distinct keys, sorted.
func merge(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// expectations returns the advisory locks of the expected keys, sorted and
// distinct (batches that take several take them in one order, so that they
// cannot deadlock), and the keys.
func expectations(expect []expectation) (locks []int64, keys [][]byte) {
	for _, e := range expect {
		locks = append(locks, lockOf(e.k))
		keys = append(keys, e.k)
	}
	slices.Sort(locks)
	return slices.Compact(locks), keys
}

// lockOf is the advisory lock of key k: FNV-1a, 64 bits. Two keys that
// share one only wait for each other.
func lockOf(k []byte) int64 {
	h := fnv.New64a()
	h.Write(k)
	return int64(h.Sum64())
}

// commit runs one attempt. sent says whether the COMMIT was sent (a
// failure after it leaves the outcome unknown).
func (kv *KV) commit(expect []expectation, locks []int64, expectKeys [][]byte, stmts []stmt, payload string) (sent bool, err error) {
	ctx, cancel := kv.opCtx()
	defer cancel()
	conn, err := kv.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release() // a connection left in a transaction is dropped
	inTx := false
	defer func() {
		if err != nil && inTx && !sent {
			rollback(conn)
		}
	}()

	// Round trip 1: BEGIN, with the expectations' locks and reads.
	first := &pgx.Batch{}
	first.Queue(`BEGIN`)
	for _, l := range locks {
		first.Queue(lockSQL, l)
	}
	if len(expect) > 0 {
		first.Queue(expectedSQL, expectKeys)
	}
	writes := first
	if len(expect) > 0 {
		res := conn.SendBatch(ctx, first)
		inTx = true
		if err := checkExpectations(res, len(locks), expect); err != nil {
			_ = res.Close()
			return false, err
		}
		if err := res.Close(); err != nil {
			return false, err
		}
		if len(stmts) == 0 { // nothing to write: the checks held
			rollback(conn)
			inTx = false
			return false, nil
		}
		writes = &pgx.Batch{}
	}

	// Round trip 2: the writes, the notification and COMMIT (BEGIN too,
	// when there were no expectations).
	for _, s := range stmts {
		writes.Queue(s.sql, s.args...)
	}
	if payload != "" {
		writes.Queue(notifySQL, Channel, payload)
	}
	// COMMIT goes in the same round trip: a statement that fails aborts
	// the transaction, and the server skips the rest of the pipeline, the
	// COMMIT too (the deferred rollback ends it); only a broken
	// connection leaves the outcome unknown.
	writes.Queue(`COMMIT`)
	inTx = true
	if err := conn.SendBatch(ctx, writes).Close(); err != nil {
		var pgErr *pgconn.PgError
		return !errors.As(err, &pgErr), err
	}
	return true, nil
}

// checkExpectations reads the results of the first round trip: BEGIN,
// the locks, then the expected keys' values.
func checkExpectations(res pgx.BatchResults, locks int, expect []expectation) error {
	for range 1 + locks {
		if _, err := res.Exec(); err != nil {
			return err
		}
	}
	rows, err := res.Query()
	if err != nil {
		return err
	}
	have := map[string][]byte{}
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		have[string(k)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range expect {
		v, ok := have[string(e.k)]
		switch {
		case !ok && e.v != nil, ok && e.v == nil, ok && !bytes.Equal(v, e.v):
			return store.ErrConflict
		}
	}
	return nil
}

// rollback ends a failed transaction; a connection it cannot roll back is
// dropped by the pool on release.
func rollback(conn *pgxpool.Conn) {
	if conn.Conn().IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Conn().PgConn().Exec(ctx, `ROLLBACK`).Close()
}

// payload is the notification of a commit of ops: this KV's id, then
// the distinct prefixes (hex, sorted, comma-separated) of the keys they
// change, or * when that would not fit or a write may change any key.
func (kv *KV) payload(ops []op) string {
	if len(ops) == 0 {
		return ""
	}
	everything := kv.id + " *"
	seen := map[string]bool{}
	for _, o := range ops {
		if o.kind == opDeleteRange && bytes.Compare(o.k, o.v) >= 0 {
			continue // an empty range changes nothing
		}
		p := o.k[:min(len(o.k), prefixLen)]
		if len(p) == 0 {
			return everything
		}
		// A range within the prefix of lo changes keys of that prefix
		// only; a wider one may change any.
		if end := store.PrefixEnd(p); o.kind == opDeleteRange && end != nil && bytes.Compare(o.v, end) > 0 {
			return everything
		}
		seen[string(p)] = true
	}
	if len(seen) == 0 {
		return ""
	}
	hexes := make([]string, 0, len(seen))
	for p := range seen {
		hexes = append(hexes, hex.EncodeToString([]byte(p)))
	}
	sort.Strings(hexes)
	s := kv.id + " " + strings.Join(hexes, ",")
	if len(s) > maxPayload {
		return everything
	}
	return s
}
