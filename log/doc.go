// Package log is the append-only event log: one dense sequence of records per
// stream, stored in the shared Pebble database (key space store.SpaceLog).
//
// Records are opaque at this layer: an acceptance time, a metadata blob and a
// value. The engine decides what goes in them.
//
// # Guarantees
//
//   - Offsets of a stream start at 0 and are dense and strictly increasing.
//     Retention removes a prefix; nothing else ever removes or changes a record.
//   - Append returns only after the records are durable (a synced Pebble
//     batch). Concurrent appenders are merged into group commits: one
//     committer goroutine drains every pending append into one batch, so many
//     callers share one fsync.
//   - A record is visible to readers only once durable, so a reader never
//     sees a record that a crash could take back.
//   - Acceptance times are non-decreasing in offset order (an appended time
//     earlier than its predecessor's is raised to it), which makes "read from
//     time T" a seek in a sparse index (one entry per stream per millisecond).
//   - Subscriptions are woken by commits, never poll, and never miss or
//     repeat a record. A slow subscriber costs writers nothing: it reads from
//     Pebble at its own pace.
//
// # Keys
//
//	r | stream (8, BE) | offset (8, BE)   → record
//	t | stream (8, BE) | millis (8, BE)   → uvarint offset of the first record in that millisecond
//	s | stream (8, BE)                    → stream state (first, next, bytes, last time)
//
// all prefixed with store.SpaceLog. The state key is written in the same batch
// as the records it describes, so it is always consistent with them.
package log
