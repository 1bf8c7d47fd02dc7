package rpc_test

import (
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// BenchmarkReadSource measures reading a source stream through the Connect
// API: 10,000 clickstream events over 1000 key links, PII as stored. Each
// record with PII ciphertext has its key looked up (a cache hit in keys) to
// say whether it is shredded.
func BenchmarkReadSource(b *testing.B) {
	sb := strmtest.New(b)
	src := sendClicks(b, sb, 10000, 1000)
	b.ResetTimer()
	for range b.N {
		readStream(b, src, 10000, 10000, nil)
	}
	reportEvents(b, 10000)
}
