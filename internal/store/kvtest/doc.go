// Package kvtest is the conformance suite of store.KV, for tests only: Run
// checks an implementation against the contract written in store.KV's
// doc comments, with exact values, so that every implementation (the
// embedded mode's Pebble, the scale-out mode's PostgreSQL in
// internal/store/pgkv) is held to the same behaviour.
package kvtest
