// Package keys holds the key links of the privacy pipeline: which key
// encrypts the PII of which events, when it rotates, and when it is deleted
// (crypto-shredding), in the shared Pebble database under the key space
// store.SpaceKeys.
//
// A key link is a random UUID with one single-key Tink keyset of AES-256-SIV
// (deterministic AEAD). For creates one the first time a key value (the
// contract's keyField: a session, a device) is seen in a source stream, and
// a new one for the first event after the link's RotatesAt. Sweep deletes a
// key at its ExpiresAt (RotatesAt + retention); Forget deletes every key
// recorded for a data subject at once. A deleted key leaves a tombstone:
// the link's metadata, no key.
//
// The keyset has Tink's TINK output prefix. The package encodes and
// decodes its protos itself and computes AES-SIV with the key schedules
// expanded once per key (siv.go): the bytes of Tink's keyset handle and
// primitive (the tests compare them), at a fraction of the cost per link
// and per field. Export hands the keyset out as Tink JSON.
//
// # What is stored, and how
//
// Nothing secret is stored in clear. Key values and subject IDs are stored
// only as HMAC-SHA256 under a random hash key, with the stream mixed into a
// key value's hash so that one value in two streams gives unrelated hashes.
// The hash key and every keyset are stored wrapped (AEAD-encrypted) under
// the master key: envelope encryption. A wrapped keyset's associated data
// names its link, so a keyset copied to another link's record does not
// open. The master key itself lives outside the database (LoadMaster): in
// <data-dir>/master.key (mode 0600) or STRMLOCAL_MASTER_KEY. Open checks it
// against the stored hash key and fails with ErrMaster if it does not open.
//
// # Keys
//
//	h                                   → hash key, wrapped
//	l | link (16)                       → record: stream, created, rotates, expires,
//	                                      flags, shredded-at; live: value hash, wrapped keyset
//	s | stream (8) | created (8) | link → ∅   links of a stream, in creation order
//	c | stream (8) | value hash (32)    → link: the value's current link
//	e | expires (8) | link              → ∅   live links by expiry (Sweep, NextExpiry)
//	p | subject hash (32) | link        → ∅   links recorded for a subject (Forget)
//	r | link | subject hash (32)        → ∅   the same, reversed (to drop p entries on shred)
//	n | link | first offset (8)         → count, last - first: a span of the link's events
//	a | stream (8) | first offset (8)   → per link: link, first, last - first, count: the spans of one group's appends not folded yet
//	i | stream (8)                      → cursor: offset up to which the stream's events are indexed [, gap from, gap to]
//
// each after the store.SpaceKeys byte; integers are big-endian, times are
// Unix nanoseconds with the sign bit flipped so that they sort. Shredding a
// link rewrites its record as a tombstone and deletes its e, p and r
// entries and its c entry if still current, in one batch. The n, a and i
// entries are the event index (events.go), so that counting a link's events
// reads its spans, not its stream. Ingest keeps it in the batch of each
// group commit: per stream, one a entry for the group's appends (older
// versions wrote one per append, read the same), folded into n entries
// once per 65,536 offsets, and the cursor. (Writing each link's n entry in
// every append cost ingest about a quarter of its speed: one memtable
// insert per link, each at a random place.) Records stored without it
// (before this version) leave the cursor behind, or a gap in it, which a
// forget's catch-up (IndexEvents) reads once. A shredded link keeps its
// spans, as it keeps its tombstone, until its stream is dropped.
//
// # Durability
//
// Ingest uses ForAppend: a new link or subject record is cached at once
// and written by the first append that carries it, in the batch of that
// append's group commit (Pending is its log.Also), so it costs no commit
// of its own. Every append whose events use a link not yet written carries
// its writes, and the first group that holds them writes them; a later
// group is synced after it, as the log writes groups to the WAL in order
// (pending.go). So a link is durable no later than any acknowledged event
// that names it, and a crash loses at most links that no durable event
// uses. For writes its own new links and subject records without a sync
// (Commit(false)), which is safe when the event that uses them is appended
// afterwards to the same database with a synced write: syncing the WAL
// makes every write before it durable too. Sweep and Forget commit with a
// sync, since they answer a user (and a forgotten subject must stay
// forgotten); DropStream's deletions go into the caller's batch, which the
// caller commits with a sync.
//
// With Options.Shared (the scale-out mode, the state in PostgreSQL, where
// every commit is durable) none of this applies: links and subjects are
// written at once, before the events that use them, and the state decides
// between gateways (shared.go).
//
// What the LSM keeps is another matter: after a key is shredded, older
// copies of its wrapped keyset may remain in WAL files and sstables until
// Pebble compacts or recycles them. They stay wrapped under the master key,
// so a shredded key can only be recovered by someone who has both the data
// dir as it was and the master key.
//
// # Concurrency and caches
//
// For runs for every event, from many goroutines. Keys caches (stream,
// value hash) → current Key, link ID → live Key, and the subjects recorded
// per Key, filled lazily from Pebble (Open reads only the hash key and the
// last expiry entry, so it takes the same time however many links exist).
// Every link created since Open is cached, so a value missing from the
// cache is looked up in Pebble only while a link stored before Open may
// still be current (before the last ExpiresAt stored at Open), and a
// subject only for a link stored before Open. A For that hits the cache
// costs one HMAC (two with a subject) and a map lookup under a read lock:
// no Pebble read, no keyset unwrap, no write, no allocation. On a miss, For
// locks one of 64 stripes chosen by the value hash and looks again, so two
// goroutines that see a value at once create one link. Sweep, Forget and
// DropStream take an exclusive lock that the miss paths, and the log's
// committer while it writes pending links, take shared, delete, then
// invalidate the caches; so no cache entry outlives its key, and no
// pending write lands after a shred (it is skipped once its link is no
// longer cached as live).
//
// The caches hold every live key used since Open, until Sweep, Forget or
// DropStream deletes it: about 1.7 KB each (the two expanded AES keys are
// most of it; 2.0 KB with Tink's keyset handle and primitive), so a
// million live sessions cost some 2 GB.
//
// A Key also remembers its last 4 encryptions and decryptions of values up
// to 128 bytes (a session's PII values are few and repeat in every event,
// and a comparison is much cheaper than AES-SIV); every reader shares them,
// and a reader finds there what ingest encrypted. Those plaintexts live in
// memory as long as the Key, like the key material itself; they never reach
// the disk, and shredding the key drops them with it.
//
// Errors and log lines name link IDs and field paths, never key material,
// key values, subjects or plaintext.
package keys
