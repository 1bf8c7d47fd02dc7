// Package pgkv is store.KV on PostgreSQL: the state of the scale-out mode
// (catalogue, key links, keysets, jobs), shared by every gateway process
// that opens the same database.
//
// The state is one table, strmlocal_kv(k bytea primary key, v bytea not
// null); bytea compares bytewise, so its order is the order of
// bytes.Compare, as in Pebble. Open makes or upgrades the schema with the
// versioned migrations of this package (table strmlocal_migrations), under
// a transaction-scoped advisory lock so that gateways starting at once
// migrate one after the other; a database whose schema is newer than the
// binary is refused.
//
// Reads and writes:
//
//   - Get is one query.
//   - Scan of the KV reads pages of Options.PageRows rows, each its own
//     query, and calls fn between queries, holding no connection or
//     transaction: it is not a snapshot (a key written during the Scan may
//     or may not be seen, each key at most once, in order). Scan of a
//     Snapshot pages the same way inside the snapshot's transaction, and is
//     consistent.
//   - NewSnapshot begins a REPEATABLE READ READ ONLY transaction, fixes its
//     snapshot at once, and holds it and its connection until Close.
//   - A Batch collects its writes in memory; Commit applies them in one
//     READ COMMITTED transaction, always durably (the sync flag is
//     ignored). An Expect takes pg_advisory_xact_lock of a 64-bit hash of
//     its key, then reads the key: two batches that Expect the same key are
//     serialised, and the second sees what the first committed. The writes
//     come down to the same effect in few statements: the DeleteRanges,
//     then one DELETE … = ANY(…) of the keys whose last write is a Delete
//     and one INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE of those
//     whose last write is a Set (per 10,000 keys), in key order (a batch
//     with both first locks the rows that exist, in key order). They go
//     in one pipelined batch with the COMMIT, so a Commit is one round
//     trip (two with Expects) however many writes it has, plus one the first time a
//     connection prepares a statement. A Commit that PostgreSQL aborts for
//     a deadlock is retried.
//
// Failures: an operation that cannot reach the server (refused, reset,
// ended by a server shutdown, no answer within Options.Timeout) returns an
// error matching ErrUnavailable, whose message starts with "storage
// unavailable:". The pool replaces broken connections by itself, so
// operations work again once the server is back. A Commit that fails that
// way before its writes were sent wrote nothing (and is retried once on a
// fresh connection); one whose connection broke once the writes and the
// COMMIT were sent may or may not have
// been applied, as with any network database.
//
// Change notifications: a Commit sends, in its transaction, NOTIFY
// strmlocal_kv with the distinct two-byte prefixes of the keys it changed
// (for a DeleteRange, the prefix of lo, or "anything" when the range goes
// past that prefix), tagged with the committing KV's random instance id.
// Watch listens on a dedicated connection and calls its fn for the commits
// of other KVs (other gateway processes), so that they can drop what they
// cache; after it lost and regained its connection it calls fn(nil):
// anything may have changed.
package pgkv
