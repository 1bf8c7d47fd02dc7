// Package benchcpu reports the process CPU a benchmark spends per event,
// next to its events/s: on a shared machine throughput swings by a quarter
// between runs of one binary, while the CPU an event costs moves far less,
// so an A/B of two builds reads it first (docs/performance.md). Only
// benchmarks import it.
package benchcpu
