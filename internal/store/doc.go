// Package store opens the one Pebble database that holds everything strmlocal
// persists: the event logs, the catalogue of streams, schemas and contracts,
// and the key material. It owns three things no other package should repeat:
//
//   - the directory lock, so that a second server on the same data dir fails
//     with a message that says what to do;
//   - the on-disk format version, checked on every open;
//   - the key spaces: every key starts with one byte naming the package that
//     owns it (see Space*), so packages sharing the database never collide.
//
// A Store is opened on a real directory or, for tests and --ephemeral, on an
// in-memory vfs.FS.
package store
