package benchcpu

import (
	"testing"
	"time"
)

// Start begins counting the process's CPU time (user and system, every
// goroutine: the benchmark's clients, the server in the same process,
// Pebble's background work). Call it where the timer starts (after
// b.ResetTimer), and the returned function once the benchmark's n events
// are done: it reports "cpu-µs/event". Where the process CPU cannot be
// read, it reports nothing.
func Start(b *testing.B) (stop func(n int)) {
	b.Helper()
	t0, ok := processCPU()
	return func(n int) {
		t1, ok1 := processCPU()
		if ok && ok1 && n > 0 {
			b.ReportMetric(float64((t1-t0)/time.Nanosecond)/1000/float64(n), "cpu-µs/event")
		}
	}
}
