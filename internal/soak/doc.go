// Package soak holds the soak test of the strmlocal binary (docs/soak.md):
// mixed load over every protocol against the real server, which is
// SIGKILLed and restarted on the same data directory every ~20 s, then a
// check that no acknowledged event was lost or duplicated and that the
// server's resident memory stayed under a bound.
//
// The test is behind the soak build tag, so that `make test` does not run
// it: `make soak` (SOAK_DURATION=2m make soak for a short run). It reads
// the server's memory from /proc and so runs on Linux only. The package has
// no other code; the test talks to the server through package client and
// the public API only.
package soak
