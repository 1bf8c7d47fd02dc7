// Package clock is the server's one source of time (docs/pipeline.md, "Keys"): acceptance
// timestamps, key rotation and key retention all read it. A Real clock is
// the wall clock; a Virtual clock stands still until it is advanced, so tests
// and demos can cover "the next day" in milliseconds.
package clock
