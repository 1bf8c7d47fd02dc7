// Package app is the application layer of strmlocal: one running sandbox,
// below the transports (package rpc) and above the parts it wires together
// (catalog, engine, keys, log, internal/store). See docs/architecture.md.
//
// An App owns:
//
//   - opening and closing everything: the store, the log, the catalogue,
//     the registry (with the built-in catalogue), the master key and the
//     keys (Open, Close);
//   - ingest: validate → key link → encrypt → durable append (Ingest), and
//     validation alone (Validate);
//   - the operations that span parts: creating a stream (with its view
//     checked against the registry), deleting one (records, keys and
//     catalogue entries in one atomic batch), key links and export by
//     stream name, forgetting a data subject with the count of events
//     affected, moving a virtual clock and running what became due;
//   - the background work, joined by Close: the key sweep, and jobs: one
//     runner goroutine per RUNNING job that runs it when due (batch and
//     key exporters, every interval) or all the time (Kafka exporters and
//     CloudEvents sinks, following the stream), writing to its data
//     connector's sink (package exporter) with a durable plan or cursor,
//     retries with capped backoff and the RUNNING/PAUSED/FAILED states
//     (docs/jobs.md); data connectors with their config schemas and sealed
//     secrets;
//   - sandbox documents (docs/sandbox.md): Apply plans a whole document
//     (create, unchanged, update, conflict per item) and, without a
//     conflict, applies it in dependency order; ExportConfig is the server
//     as one;
//   - the one stream Reader, behind egress, websocket tails and jobs: it
//     starts from an offset, a time, the beginning or the end; reads pages
//     bounded in records and in bytes (Options.PageBytes, 4 MiB); follows
//     new records, woken by appends; applies a derived stream's view
//     (consent filter, decryption, masking); and yields plain Go values
//     (Record), never protobuf. It reads only when asked, so a consumer
//     that stops reading holds no more than one page (back-pressure).
//
// Errors are the parts' own sentinels (catalog.ErrNotFound, …) plus this
// package's (ErrDerived, ErrInvalid, ErrState, ErrRealClock, ErrUnreadable,
// ErrConflict) and the sinks' (exporter.ErrUnavailable, exporter.ErrRefused);
// the transports map them to status codes in one table each.
package app
