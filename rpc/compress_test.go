package rpc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// gzipZeros is n zero bytes, gzipped (about n/1000 bytes).
func gzipZeros(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.CopyN(zw, zeros{}, int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A gzip bomb is inflated no further than the request's limit (it was
// inflated whole to report its size), and a request that needs credentials
// is refused on its headers, before anything is inflated.
func TestGzipBombIsNotInflated(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t, func(o *rpc.Options) { o.MaxRequestBytes = 1 << 20 })
	st := sb.CreateStream("demo")
	bomb := gzipZeros(t, 100<<20)
	post := func(procedure string, header http.Header) (int, string) {
		req, _ := http.NewRequest("POST", sb.URL+procedure, bytes.NewReader(bomb))
		req.Header = header
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Content-Encoding", "gzip")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	status, body := post(strmlocalv1connect.EventServiceValidateEventsProcedure, http.Header{})
	if want := `{"code":"resource_exhausted","message":"the message inflates to more than 1048576 bytes, the server's limit: send less per message"}`; status != 429 || body != want {
		t.Errorf("ValidateEvents: %d %s\nwant 429 %s", status, body, want)
	}
	status, body = post(strmlocalv1connect.EventServiceSendEventProcedure, http.Header{})
	if want := `{"code":"unauthenticated","message":"missing stream credentials: send the stream's client id and secret as HTTP Basic authorization, or a bearer token from /auth/realms/streams/protocol/openid-connect/token"}`; status != 401 || body != want {
		t.Errorf("SendEvent without credentials: %d %s\nwant 401 %s", status, body, want)
	}
	status, body = post(strmlocalv1connect.EventServiceSendEventProcedure, http.Header{"Authorization": {"Bearer " + st.Token()}})
	if want := `{"code":"resource_exhausted","message":"the message inflates to more than 1048576 bytes, the server's limit: send less per message"}`; status != 429 || body != want {
		t.Errorf("SendEvent: %d %s\nwant 429 %s", status, body, want)
	}

	// The same over gRPC, in an enveloped message.
	for _, p := range protocols[1:] {
		events := strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, append(p.opts, connect.WithSendGzip())...)
		_, err := events.ValidateEvents(ctx, connect.NewRequest(&v1.ValidateEventsRequest{SchemaRef: demoSchema, Events: [][]byte{make([]byte, 8<<20)}}))
		assertError(t, err, connect.CodeResourceExhausted, "the message inflates to more than 1048576 bytes, the server's limit: send less per message")
	}
}
