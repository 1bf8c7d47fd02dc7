package keys_test

import (
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkForHit is For on the hot path: link and subject cached.
func BenchmarkForHit(b *testing.B) {
	e := newEnv(b, location{fs: vfs.NewMem(), dir: "data"})
	e.mustFor(1, "session-0123456789", "subject-0123456789")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.ks.For(1, "session-0123456789", "subject-0123456789"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkEncrypt encrypts one 20-byte field.
func BenchmarkEncrypt(b *testing.B) {
	e := newEnv(b, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "session", "")
	b.ReportAllocs()
	for b.Loop() {
		k.Encrypt("customer/email", "someone@example.com.")
	}
}

// BenchmarkForNew creates a link (and records a subject) per call.
func BenchmarkForNew(b *testing.B) {
	e := newEnv(b, location{fs: vfs.NewMem(), dir: "data"})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := e.ks.For(1, "session-"+strconv.Itoa(i), "subject"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptNew encrypts a 20-byte field whose value changes every
// call, as a session's varying PII does: the Key's memory misses, and
// every call runs AES-SIV.
func BenchmarkEncryptNew(b *testing.B) {
	e := newEnv(b, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "session", "")
	values := make([]string, 64)
	for i := range values {
		values[i] = "someone" + strconv.Itoa(1000+i) + "@example.com"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.Encrypt("customer/email", values[i%len(values)])
		i++
	}
}

// BenchmarkDecryptNew decrypts a 20-byte field whose ciphertext changes
// every call: the Key's memory misses, and every call runs AES-SIV.
func BenchmarkDecryptNew(b *testing.B) {
	e := newEnv(b, location{fs: vfs.NewMem(), dir: "data"})
	k := e.mustFor(1, "session", "")
	cts := make([]string, 64)
	for i := range cts {
		cts[i] = k.Encrypt("customer/email", "someone"+strconv.Itoa(1000+i)+"@example.com")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := k.Decrypt("customer/email", cts[i%len(cts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
