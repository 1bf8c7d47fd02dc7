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
//
// Jobs run on the server clock. On a virtual clock, Advance runs the batch
// exporters that became due before it returns, so an export is a few lines:
//
//	sb := strmtest.New(t, strmtest.WithVirtualClock(start))
//	dir := sb.CreateLocalConnector(t, "dir")
//	sb.CreateStream("demo").Send(schemaRef, events...)
//	sb.CreateBatchExporter(t, "demo", strmtest.BatchExporter{IncludeExistingEvents: true})
//	sb.Advance(time.Minute)
//	lines := strmtest.ReadExportedLines(t, dir, "") // the events, as egress prints them
//
// WithConfig applies a sandbox file (docs/sandbox.md) at start, as serve
// --init does; Configured returns a stream it created, with its
// credentials:
//
//	sb := strmtest.New(t, strmtest.WithConfig("testdata/sandbox.yaml"))
//	sb.Configured("orders").Send("example/order/1.0.0", events...)
package strmtest
