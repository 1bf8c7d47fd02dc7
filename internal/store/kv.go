package store

import (
	"bytes"
	"errors"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// KV is the state the catalogue and the keys keep: ordered keys with values,
// written in atomic batches. The embedded mode keeps it in the one Pebble
// database (PebbleKV); the scale-out mode in PostgreSQL (docs/scale-out.md).
// Keys are compared as bytes.
type KV interface {
	Reader
	// NewBatch returns an empty batch; Close it when done.
	NewBatch() Batch
	// NewSnapshot returns a consistent view of the state as of now; Close
	// it when done.
	NewSnapshot() Snapshot
}

// Reader reads a KV, or a consistent view of one.
type Reader interface {
	// Get returns a copy of k's value, or ErrNotFound.
	Get(k []byte) ([]byte, error)
	// Scan calls fn for every key in [lo, hi), in order (hi nil: no upper
	// bound), and stops at the first error fn returns. k and v are valid
	// only during the call.
	Scan(lo, hi []byte, fn func(k, v []byte) error) error
}

// Snapshot is a Reader of the state as of its creation.
type Snapshot interface {
	Reader
	Close() error
}

// Batch collects writes that Commit applies atomically: all or none.
type Batch interface {
	Set(k, v []byte)
	Delete(k []byte)
	// DeleteRange deletes every key in [lo, hi).
	DeleteRange(lo, hi []byte)
	// Expect makes Commit fail with ErrConflict, writing nothing, unless k
	// holds v at the commit (v nil: k is absent). It decides races between
	// writers in different processes (two gateways creating the same key
	// link): it holds against writers of k that Expect it too.
	Expect(k, v []byte)
	// Empty says the batch holds no write.
	Empty() bool
	// Commit applies the writes; with sync they are durable when it returns
	// (a state on a network database is always durable).
	Commit(sync bool) error
	// Close releases the batch; a batch not committed writes nothing.
	Close()
}

var (
	// ErrNotFound is returned by Get for a key that is not set.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned by Commit when an Expect does not hold.
	ErrConflict = errors.New("store: a concurrent write changed an expected key")
	// ErrUnavailable is matched by the errors of a state or log on a
	// network service that cannot be reached (the scale-out mode). The
	// operation was not acknowledged; a commit whose connection broke while
	// committing may still have been applied. Service resumes when the
	// service is back.
	ErrUnavailable = errors.New("storage unavailable")
)

// PebbleKV is the KV of one Pebble database.
func PebbleKV(db *pebble.DB) KV { return &pebbleKV{db: db} }

type pebbleKV struct {
	db *pebble.DB
	// expectMu serialises the commits of batches with expectations, from
	// their check to their write.
	expectMu sync.Mutex
}

func (p *pebbleKV) Get(k []byte) ([]byte, error) { return get(p.db, k) }

func (p *pebbleKV) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	return ScanRange(p.db, lo, hi, fn)
}

func (p *pebbleKV) NewBatch() Batch { return &pebbleBatch{b: p.db.NewBatch(), kv: p} }

func (p *pebbleKV) NewSnapshot() Snapshot { return pebbleSnapshot{p.db.NewSnapshot()} }

func get(r pebble.Reader, k []byte) ([]byte, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v = bytes.Clone(v)
	if v == nil {
		v = []byte{}
	}
	return v, closer.Close()
}

type pebbleSnapshot struct{ s *pebble.Snapshot }

func (s pebbleSnapshot) Get(k []byte) ([]byte, error) { return get(s.s, k) }

func (s pebbleSnapshot) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	return ScanRange(s.s, lo, hi, fn)
}

func (s pebbleSnapshot) Close() error { return s.s.Close() }

// PebbleBatch is a Batch over b, a batch of the log's group commit: the
// writes of the log's Also and Drop callers join it. Its Commit and Close
// belong to whoever made b, so they do nothing here; Expect is not
// supported (the embedded mode decides races in the process).
func PebbleBatch(b *pebble.Batch) Batch { return &pebbleBatch{b: b, borrowed: true} }

type pebbleBatch struct {
	b        *pebble.Batch
	kv       *pebbleKV // nil when borrowed
	borrowed bool
	expect   []expectation
}

type expectation struct{ k, v []byte }

// Pebble's Set, Delete and DeleteRange fail only on a committed batch.
func (b *pebbleBatch) Set(k, v []byte)           { _ = b.b.Set(k, v, nil) }
func (b *pebbleBatch) Delete(k []byte)           { _ = b.b.Delete(k, nil) }
func (b *pebbleBatch) DeleteRange(lo, hi []byte) { _ = b.b.DeleteRange(lo, hi, nil) }
func (b *pebbleBatch) Empty() bool               { return b.b.Empty() }

func (b *pebbleBatch) Expect(k, v []byte) {
	if b.borrowed {
		panic("store: Expect on a batch of the log's group commit")
	}
	b.expect = append(b.expect, expectation{bytes.Clone(k), bytes.Clone(v)})
}

func (b *pebbleBatch) Commit(sync bool) error {
	if b.borrowed {
		return nil
	}
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if len(b.expect) == 0 {
		return b.b.Commit(opts)
	}
	b.kv.expectMu.Lock()
	defer b.kv.expectMu.Unlock()
	for _, e := range b.expect {
		v, err := get(b.kv.db, e.k)
		switch {
		case errors.Is(err, ErrNotFound):
			if e.v != nil {
				return ErrConflict
			}
		case err != nil:
			return err
		case e.v == nil || !bytes.Equal(v, e.v):
			return ErrConflict
		}
	}
	return b.b.Commit(opts)
}

func (b *pebbleBatch) Close() {
	if !b.borrowed {
		_ = b.b.Close()
	}
}

// errStop ends a Scan early.
var errStop = errors.New("store: stop")

// First returns the first key in [lo, hi) and its value (copies), or
// ok false when there is none.
func First(r Reader, lo, hi []byte) (k, v []byte, ok bool, err error) {
	err = r.Scan(lo, hi, func(key, val []byte) error {
		k, v, ok = bytes.Clone(key), bytes.Clone(val), true
		return errStop
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return k, v, ok, err
}

// ScanPrefix calls fn for every key with prefix p, in order: Reader.Scan
// of [p, PrefixEnd(p)).
func ScanPrefix(r Reader, p []byte, fn func(k, v []byte) error) error {
	return r.Scan(p, PrefixEnd(p), fn)
}

// Contains reports whether k is set.
func Contains(r Reader, k []byte) (bool, error) {
	_, err := r.Get(k)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
