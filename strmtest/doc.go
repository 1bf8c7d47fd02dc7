// Package strmtest starts a complete strmlocal sandbox inside a Go test: an
// in-memory store, a server on a random loopback port, and ready clients.
// The sandbox is closed when the test ends. Start-up takes milliseconds, so
// one sandbox per test is the intended use.
//
//	func TestProducer(t *testing.T) {
//		sb := strmtest.New(t)
//		res, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&strmlocalv1.CreateStreamRequest{Name: "demo"}))
//		...
//	}
package strmtest
