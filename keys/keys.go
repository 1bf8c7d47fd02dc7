package keys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

var (
	// ErrNotFound is returned for a key link that does not exist (or
	// belonged to a dropped stream).
	ErrNotFound = errors.New("keys: key link not found")
	// ErrShredded is returned for a key link whose key was deleted, by
	// retention or by Forget.
	ErrShredded = errors.New("keys: key shredded")
	// ErrCiphertext is returned by Decrypt for a ciphertext that is not
	// base64 or does not authenticate.
	ErrCiphertext = errors.New("keys: bad ciphertext")
	// ErrMaster is returned for a master key that cannot be loaded, or that
	// does not open the keys stored in the database.
	ErrMaster = errors.New("keys: master key")
	// ErrClosed is returned by operations on a closed Keys.
	ErrClosed = errors.New("keys: closed")
)

// Defaults of Options: a key period of a day, as the original platform had,
// and a week to read an event after its period ended.
const (
	DefaultRotation  = 24 * time.Hour
	DefaultRetention = 7 * 24 * time.Hour
)

// Options configure Keys.
type Options struct {
	// Now is the one server clock: link creation, rotation and Forget read
	// it. Default: time.Now.
	Now func() time.Time
	// Rotation is how long after its creation a link rotates: the first For
	// after that creates a new link. Fixed per link when it is created.
	// Default: DefaultRotation.
	Rotation time.Duration
	// Retention is how long a key is kept after its period ends
	// (Link.RotatesAt) before Sweep deletes it. Fixed per link when it is
	// created. Default: DefaultRetention.
	Retention time.Duration
	// Master wraps every stored keyset and the hash key (envelope
	// encryption); see LoadMaster. Required.
	Master tink.AEAD
	// Logger gets diagnostics: link IDs and counts, never keys, key values
	// or subjects. Default: discard.
	Logger *slog.Logger
	// CacheBytes bounds the memory of the keys kept in memory (cache.go);
	// the oldest are evicted, and read from storage again when needed.
	// Default: DefaultCacheBytes.
	CacheBytes int64
	// Shared says other processes (the gateways of the scale-out mode)
	// create and shred links in the same state (shared.go): a new link or
	// subject is written at once, and the state decides which of two
	// gateways creating the same link wins; a cache miss always reads the
	// state. Default: false: this process alone writes the keys.
	Shared bool
}

func (o *Options) validate() error {
	var errs []error
	if o.Master == nil {
		errs = append(errs, errors.New("keys: Options.Master is required"))
	}
	if o.Rotation < 0 {
		errs = append(errs, fmt.Errorf("keys: Options.Rotation must not be negative (got %s)", o.Rotation))
	}
	if o.Retention < 0 {
		errs = append(errs, fmt.Errorf("keys: Options.Retention must not be negative (got %s)", o.Retention))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rotation == 0 {
		o.Rotation = DefaultRotation
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	return errors.Join(errs...)
}

// Keys holds the key links of every stream in one Pebble database.
type Keys struct {
	db   store.KV
	opts Options

	hashKey []byte
	hashers sync.Pool // of *hasher

	// opMu orders the slow paths against the operations that delete: For's
	// creation and every Pebble read that fills the caches hold it shared;
	// Sweep, Forget, DropStream and Close hold it exclusively. So a cache
	// entry filled from Pebble can never outlive its deletion.
	opMu   sync.RWMutex
	closed bool // REQUIRES: opMu held

	// stripes serialise For's slow path per value digest, so two goroutines
	// creating the link for one value make one link.
	stripes [64]sync.Mutex

	// writeMu serialises the writing of new links and subject records
	// (pending.go): the log's committer holds it, with opMu shared, from a
	// group's first Pending.Add to its last Done.
	writeMu sync.Mutex
	claimed []*entry // entries claimed by the group being written; REQUIRES: writeMu held
	// groupDepth counts the Adds of the group being written without their
	// Done. Only the log's committer goroutine touches it.
	groupDepth int
	// events is the event index's state in memory (events.go).
	// REQUIRES: writeMu held.
	events eventState

	// liveBefore bounds the ExpiresAt of every link live in storage at
	// Open. A link is current only before its RotatesAt, which is not
	// after its ExpiresAt; every link created since Open is cached, or its
	// value is in evicted; so from liveBefore on, a value not cached nor
	// evicted has no current link and For need not look in storage.
	// REQUIRES: mu held.
	liveBefore time.Time

	// The shreds log as SeeShreds last read it (shared.go). REQUIRES:
	// shredsMu held.
	shredsMu                  sync.Mutex
	shredsSeen, shredsTrimmed time.Time

	// mu guards the caches. INVARIANT: every cached Key is live in Pebble,
	// except for the moments between a delete's commit and its
	// invalidation, both of which happen under opMu held exclusively.
	mu      sync.RWMutex
	current map[cacheKey]*Key  // (stream, value digest) → its current link
	live    map[uuid.UUID]*Key // live keys loaded since Open
	cache   keyCache           // the order of live, and its size (cache.go)
	evicted evictions          // the values whose key was evicted (cache.go)

	counts linkCounter // count.go
}

type cacheKey struct {
	stream log.StreamID
	vh     digest
}

const hashKeyLen = 32

var hashKeyAD = []byte("strmlocal keys: hash key")

// Open returns the key links stored in db, creating the hash key on first
// use. The caller keeps ownership of db and must Close Keys before closing
// it. Only one Keys may be open on a db at a time.
func Open(db store.KV, opts Options) (*Keys, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("keys: Open needs a database")
	}
	hk, err := loadHashKey(db, opts.Master)
	if err != nil {
		return nil, err
	}
	ks := &Keys{
		db:      db,
		opts:    opts,
		hashKey: hk,
		current: make(map[cacheKey]*Key),
		live:    make(map[uuid.UUID]*Key),
	}
	ks.hashers.New = func() any { return &hasher{mac: hmac.New(sha256.New, hk)} }
	if err := ks.recount(db); err != nil {
		return nil, fmt.Errorf("keys: count key links: %w", err)
	}
	return ks, nil
}

func loadHashKey(db store.KV, master tink.AEAD) ([]byte, error) {
	v, err := db.Get(hashKeyKey)
	if errors.Is(err, store.ErrNotFound) {
		hk := make([]byte, hashKeyLen)
		if _, err := io.ReadFull(rand.Reader, hk); err != nil {
			return nil, fmt.Errorf("keys: new hash key: %w", err)
		}
		wrapped, err := master.Encrypt(hk, hashKeyAD)
		if err != nil {
			return nil, fmt.Errorf("keys: wrap hash key: %w", err)
		}
		b := db.NewBatch()
		defer b.Close()
		b.Expect(hashKeyKey, nil) // gateways starting at once agree on one
		b.Set(hashKeyKey, wrapped)
		if err := b.Commit(true); errors.Is(err, store.ErrConflict) {
			return loadHashKey(db, master)
		} else if err != nil {
			return nil, fmt.Errorf("keys: store hash key: %w", err)
		}
		return hk, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read hash key: %w", err)
	}
	hk, err := master.Decrypt(v, hashKeyAD)
	if err != nil || len(hk) != hashKeyLen {
		return nil, fmt.Errorf("%w: it does not open the keys stored in this data dir (wrong STRMLOCAL_MASTER_KEY or master.key?)", ErrMaster)
	}
	return hk, nil
}

// Close drops the caches; later calls return ErrClosed. It does not close
// the database.
func (ks *Keys) Close() error {
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	ks.closed = true
	ks.mu.Lock()
	clear(ks.current)
	clear(ks.live)
	ks.cache.resetLocked()
	ks.evicted = evictions{}
	ks.mu.Unlock()
	return nil
}

// The two hashes are domain-separated; the value digest also covers the
// stream, so one value in two streams gives unrelated hashes.
const (
	domainValue   byte = 'v'
	domainSubject byte = 's'
)

func (ks *Keys) valueHash(stream log.StreamID, value string) digest {
	h := ks.hashers.Get().(*hasher)
	h.buf = append(h.buf[:0], domainValue)
	h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(stream))
	d := h.sum(value)
	ks.hashers.Put(h)
	return d
}

func (ks *Keys) subjectHash(subject string) digest {
	h := ks.hashers.Get().(*hasher)
	h.buf = append(h.buf[:0], domainSubject)
	d := h.sum(subject)
	ks.hashers.Put(h)
	return d
}

// hasher is an HMAC-SHA256 under the hash key with reusable buffers, so
// that hashing on For's hot path allocates nothing.
type hasher struct {
	mac hash.Hash
	buf []byte
	out digest
}

// sum returns the HMAC of h.buf ‖ s. The buffer is cleared afterwards: it
// held a key value or subject.
func (h *hasher) sum(s string) digest {
	h.buf = append(h.buf, s...)
	h.mac.Reset()
	h.mac.Write(h.buf)
	clear(h.buf)
	h.mac.Sum(h.out[:0])
	return h.out
}

// For returns the key for (stream, keyValue) in the current period: the
// link of keyValue in stream while now is before its RotatesAt, else a new
// link with a new key. A non-empty subject (a data-subject ID) is recorded
// against the link, once, so that Forget(subject) finds it.
//
// For writes a new link or subject record itself, without a sync (see
// doc.go for why that is durable enough); ingest uses ForAppend instead,
// which leaves the write to the append of the event. For is safe for
// concurrent use; a call that finds its link (and subject) cached and
// stored reads and writes no storage.
func (ks *Keys) For(stream log.StreamID, keyValue, subject string) (*Key, error) {
	p := Pending{ks: ks}
	k, err := ks.ForAppend(stream, keyValue, subject, &p)
	if err != nil || p.Empty() {
		return k, err
	}
	if err := ks.write(&p); err != nil {
		return nil, err
	}
	return k, nil
}

// ForAppend is For for an event that will be appended to the log with p
// as its log.Also (log.AppendAlso): a new link or subject record is not
// written but added to p, and goes into the batch of the append's group
// commit, as does one that another ForAppend created and that is not
// written yet (pending.go). Until then the link is cached, so every event
// of its value gets the same key. ForAppend is safe for concurrent use; a
// call that finds its link (and subject) cached and stored reads no
// storage, adds nothing to p and allocates nothing.
func (ks *Keys) ForAppend(stream log.StreamID, keyValue, subject string, p *Pending) (*Key, error) {
	vh := ks.valueHash(stream, keyValue)
	var sh digest
	if subject != "" {
		sh = ks.subjectHash(subject)
	}
	now := ks.opts.Now()
	ck := cacheKey{stream, vh}
	ks.mu.RLock()
	k := ks.current[ck]
	ok := k != nil && now.Before(k.RotatesAt)
	var le, se *entry
	if ok {
		le = k.pend
		if subject != "" {
			se, ok = k.subjects[sh]
		}
	}
	ks.mu.RUnlock()
	if !ok {
		return ks.forSlow(ck, subject != "", sh, now, p)
	}
	p.attach(le)
	p.attach(se)
	return k, nil
}

func (ks *Keys) forSlow(ck cacheKey, hasSubject bool, sh digest, now time.Time, p *Pending) (*Key, error) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return nil, ErrClosed
	}
	stripe := &ks.stripes[ck.vh[0]%uint8(len(ks.stripes))]
	stripe.Lock()
	defer stripe.Unlock()

	var k *Key
	var err error
	if ks.opts.Shared {
		k, err = ks.sharedLink(ck, hasSubject, sh, now)
	} else if k, err = ks.currentKey(ck, now); err == nil && k == nil {
		k, err = ks.newLink(ck, now)
	}
	if err != nil {
		return nil, err
	}
	var se *entry
	if hasSubject {
		ks.mu.RLock()
		_, known := k.subjects[sh]
		ks.mu.RUnlock()
		if !known && !k.fresh {
			// Recorded before this Open? (A link created since holds
			// every subject recorded for it.)
			if known, err = ks.has(subjectsKey(k.id, sh)); err != nil {
				return nil, err
			}
		}
		if !known {
			se = &entry{k: k, sh: sh}
			if ks.opts.Shared {
				if err := ks.writeShared(se); err != nil {
					return nil, err
				}
				se = nil
			}
		}
	}
	ks.mu.Lock()
	k = ks.cacheLocked(k) // k, unless evicted and loaded again meanwhile
	ks.current[ck] = k
	if hasSubject {
		if have, ok := k.subjects[sh]; ok {
			se = have
		} else {
			k.subjects[sh] = se
			ks.cache.bytes += subjectBytes
		}
	}
	le := k.pend
	ks.evictLocked()
	ks.mu.Unlock()
	p.attach(le)
	p.attach(se)
	return k, nil
}

// currentKey returns the link of ck that is current at now, from the cache
// or from Pebble, or nil when there is none. REQUIRES: opMu held shared and
// ck's stripe locked.
func (ks *Keys) currentKey(ck cacheKey, now time.Time) (*Key, error) {
	ks.mu.RLock()
	k := ks.current[ck]
	look := now.Before(ks.liveBefore) || ks.evicted.mayHold(ck)
	ks.mu.RUnlock()
	if k != nil {
		if now.Before(k.RotatesAt) {
			return k, nil
		}
		return nil, nil
	}
	if !look {
		return nil, nil
	}
	v, err := ks.get(currentKey(ck.stream, ck.vh))
	if v == nil || err != nil {
		return nil, err
	}
	if len(v) != 16 {
		return nil, fmt.Errorf("%w: current key link entry", errCorrupt)
	}
	k, err = ks.load(uuid.UUID(v))
	if err != nil {
		return nil, err
	}
	if k == nil || k.Shredded || k.Stream != ck.stream || !now.Before(k.RotatesAt) {
		return nil, nil
	}
	return k, nil
}

// newLink returns a new key for ck (not yet cached), with its writes
// pending.
func (ks *Keys) newLink(ck cacheKey, now time.Time) (*Key, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, fmt.Errorf("keys: new key link ID: %w", err)
	}
	k, wrapped, err := newKey(id, ks.opts.Master)
	if err != nil {
		return nil, err
	}
	created := normTime(now)
	k.Link = Link{
		ID:        id.String(),
		Stream:    ck.stream,
		Created:   created,
		RotatesAt: created.Add(ks.opts.Rotation),
		ExpiresAt: created.Add(ks.opts.Rotation + ks.opts.Retention),
	}
	k.vh = ck.vh
	k.subjects = make(map[digest]*entry)
	k.fresh = true
	r := &record{Link: k.Link, id: id, vh: ck.vh, wrapped: wrapped}
	k.pend = &entry{k: k, link: true, rec: r.encode()}
	return k, nil
}

// load returns the live key id from the cache, or reads and caches it. It
// returns a Key with only Link set for a tombstone, and nil, nil for an
// unknown id. REQUIRES: opMu held.
func (ks *Keys) load(id uuid.UUID) (*Key, error) {
	ks.mu.RLock()
	k := ks.live[id]
	ks.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	r, err := ks.record(id)
	if r == nil || err != nil {
		return nil, err
	}
	if r.Shredded {
		return &Key{Link: r.Link, id: id}, nil
	}
	k, err = unwrap(r, ks.opts.Master)
	if err != nil {
		return nil, err
	}
	k.subjects = make(map[digest]*entry)
	ks.mu.Lock()
	k = ks.cacheLocked(k) // or the one another reader cached first
	ks.evictLocked()
	ks.mu.Unlock()
	return k, nil
}

// record reads the record of id, or nil when there is none.
func (ks *Keys) record(id uuid.UUID) (*record, error) {
	v, err := ks.get(linkKey(id))
	if v == nil || err != nil {
		return nil, err
	}
	return decodeRecord(id, v)
}

// get returns a copy of the value of k, or nil when there is none.
func (ks *Keys) get(k []byte) ([]byte, error) {
	v, err := ks.db.Get(k)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read: %w", err)
	}
	return v, nil
}

func (ks *Keys) has(k []byte) (bool, error) {
	ok, err := store.Contains(ks.db, k)
	if err != nil {
		return false, fmt.Errorf("keys: read: %w", err)
	}
	return ok, nil
}

// Get returns the key of a link, live or not yet swept, whether or not its
// period has ended. For a shredded link it returns a Key with only Link set
// and an error matching ErrShredded. Get is safe for concurrent use and
// reads no storage for a key already loaded.
func (ks *Keys) Get(linkID string) (*Key, error) {
	id, err := uuid.Parse(linkID)
	if err != nil {
		return nil, fmt.Errorf("%w: not a UUID", ErrNotFound)
	}
	ks.mu.RLock()
	k := ks.live[id]
	ks.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return nil, ErrClosed
	}
	k, err = ks.load(id)
	switch {
	case err != nil:
		return nil, err
	case k == nil:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	case k.Shredded:
		return k, shreddedError(k.Link)
	}
	return k, nil
}

// Shredded reports whether the key of a link is gone: shredded (by
// retention or a forget), or not known. Unlike Get it neither unwraps nor
// caches a key it reads from storage: a source stream's reader asks it of
// every link it meets only to say so, and loading those keys cost an
// unwrap each and pushed ingest's keys out of the cache
// (docs/performance.md). A key still cached is live.
func (ks *Keys) Shredded(linkID string) (bool, error) {
	id, err := uuid.Parse(linkID)
	if err != nil {
		return true, nil
	}
	ks.mu.RLock()
	k := ks.live[id]
	ks.mu.RUnlock()
	if k != nil {
		return false, nil
	}
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return false, ErrClosed
	}
	r, err := ks.record(id)
	if err != nil {
		return false, err
	}
	return r == nil || r.Shredded, nil
}

func shreddedError(l Link) error {
	why := "retention"
	if l.Forgotten {
		why = "data subject forgotten"
	}
	return fmt.Errorf("%w: key link %s was deleted at %s (%s)", ErrShredded, l.ID, l.ShreddedAt.Format(time.RFC3339), why)
}

// Links returns every link of stream, shredded ones included, ordered by
// Created and then ID.
func (ks *Keys) Links(stream log.StreamID) ([]Link, error) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return nil, ErrClosed
	}
	var links []Link
	err := ks.eachRecord(ks.db, stream, func(r *record) error {
		links = append(links, r.Link)
		return nil
	})
	return links, err
}

// eachRecord calls fn with the record of every link of stream, in stream
// index order (Created, then ID).
func (ks *Keys) eachRecord(r store.Reader, stream log.StreamID, fn func(*record) error) error {
	return ks.eachRecordCreated(r, stream, time.Time{}, time.Time{}, fn)
}

// eachRecordCreated is eachRecord of the links created in [from, until); a
// zero from or until is unbounded.
func (ks *Keys) eachRecordCreated(r store.Reader, stream log.StreamID, from, until time.Time, fn func(*record) error) error {
	lower, upper := streamPrefix(stream), store.PrefixEnd(streamPrefix(stream))
	if !from.IsZero() {
		lower = appendTime(streamPrefix(stream), from)
	}
	if !until.IsZero() {
		upper = appendTime(streamPrefix(stream), until)
	}
	return r.Scan(lower, upper, func(k, _ []byte) error {
		id := idSuffix(k)
		v, err := r.Get(linkKey(id))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: stream index names key link %s, which has no record", errCorrupt, id)
		}
		if err != nil {
			return fmt.Errorf("keys: read: %w", err)
		}
		rec, err := decodeRecord(id, v)
		if err != nil {
			return err
		}
		return fn(rec)
	})
}

// Seal encrypts a secret of another part of the server (a connector's
// credentials) under the master key, bound to label: Unseal with another
// label fails.
func (ks *Keys) Seal(plaintext []byte, label string) ([]byte, error) {
	return ks.opts.Master.Encrypt(plaintext, []byte("strmlocal sealed: "+label))
}

// Unseal decrypts what Seal encrypted with the same label.
func (ks *Keys) Unseal(ciphertext []byte, label string) ([]byte, error) {
	pt, err := ks.opts.Master.Decrypt(ciphertext, []byte("strmlocal sealed: "+label))
	if err != nil {
		return nil, fmt.Errorf("%w: a secret sealed for %s does not open under it (corrupt data dir?)", ErrMaster, label)
	}
	return pt, nil
}

// DeriveSecret returns a 32-byte secret for another part of the server (the
// signing key of access tokens, say): HMAC-SHA256 under the hash key of a
// label that names its use. It lives as long as the data dir and never
// touches the disk itself; different labels give unrelated secrets.
func (ks *Keys) DeriveSecret(label string) []byte {
	mac := hmac.New(sha256.New, ks.hashKey)
	mac.Write([]byte("strmlocal derived secret: "))
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
