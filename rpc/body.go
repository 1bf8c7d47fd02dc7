package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// MinBodyRate is the slowest a request body may arrive, in bytes per
// second, once Options.BodyTimeout is spent: a body may take BodyTimeout
// plus a second per whole MinBodyRate bytes received.
const MinBodyRate = 64 << 10

// envelopeBytes is the prefix of a gRPC (and Connect streaming) message.
const envelopeBytes = 5

// streamingBody reports whether a route's request body is a stream of
// messages with no end in sight (a client or bidirectional stream, a
// websocket): those get no body deadline and no declared-size cap. Their
// credentials are checked on the headers (request gates), so only their
// holders can keep one open.
func streamingBody(path string) bool {
	return path == strmlocalv1connect.EventServiceSendEventStreamProcedure ||
		path == "/ws" || strings.HasPrefix(path, "/grpc.reflection.")
}

// bodyLimits bounds every request body but those of streams: a body must
// arrive within Options.BodyTimeout and at MinBodyRate (slow clients held
// 100 of 100 connections for more than 30 s), and a Connect call that
// declares a body larger than one message may be is refused before
// anything is read (POST /event and the token endpoint refuse theirs
// themselves, in their own words).
func (s *Server) bodyLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strmlocalv1connect.EgressServiceTailProcedure {
			r = withResponseController(r, w)
		}
		if streamingBody(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/strmlocal.v1.") && r.ContentLength > int64(s.opts.MaxRequestBytes)+envelopeBytes {
			tooLarge(w, r, fmt.Sprintf("the request declares %d bytes, more than the server's limit of %d: send less per call", r.ContentLength, s.opts.MaxRequestBytes))
			return
		}
		b := &deadlineBody{rc: readDeadliner(w), body: r.Body, start: time.Now(), timeout: s.opts.BodyTimeout}
		if r.ProtoMajor == 1 {
			b.header = w.Header()
		}
		if b.rc.SetReadDeadline(b.start.Add(b.timeout)) == nil {
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

// deadliner sets a request's read deadline.
type deadliner interface{ SetReadDeadline(time.Time) error }

// readDeadliner returns what sets w's read deadline: net/http's own
// response writers do (one allocation a request less than a
// ResponseController), and a ResponseController finds it behind a
// wrapper.
func readDeadliner(w http.ResponseWriter) deadliner {
	if d, ok := w.(deadliner); ok {
		return d
	}
	return http.NewResponseController(w)
}

// tooLarge refuses a Connect call by its declared size: 413 with the
// Connect error body for the Connect protocol's unary calls, the
// protocol's own error otherwise (gRPC answers in trailers).
func tooLarge(w http.ResponseWriter, r *http.Request, msg string) {
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/proto"), strings.HasPrefix(ct, "application/json"):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": connect.CodeResourceExhausted.String(), "message": msg})
	default:
		_ = connect.NewErrorWriter().Write(w, r, connect.NewError(connect.CodeResourceExhausted, errors.New(msg)))
	}
}

// errSlowBody is the error of a body read past its deadline; Read returns
// it as a Connect error, which connect hands on as it is.
var errSlowBody = fmt.Errorf("the request body did not arrive in time (at least %d bytes per second after the first seconds): send it faster or smaller", MinBodyRate)

// deadlineBody moves a request's read deadline as its body arrives: start
// + timeout + a second per whole MinBodyRate bytes received, moved each
// time another MinBodyRate bytes are in (a body smaller than that, such as
// an event of POST /event, never moves it: each move costs the runtime's
// timer work). At the end of the body the deadline is lifted, so that a
// handler that works longer is not cut off.
type deadlineBody struct {
	rc      deadliner
	body    io.ReadCloser
	start   time.Time
	timeout time.Duration
	n       int64 // bytes received
	granted int64 // bytes the deadline allows for, a multiple of MinBodyRate
	// header is the response's header over HTTP/1.1, where a connection
	// whose body was cut off is closed after the answer: the rest of the
	// body would be read as the next request.
	header http.Header
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		if b.header != nil {
			b.header.Set("Connection", "close")
		}
		return n, connect.NewError(connect.CodeDeadlineExceeded, errSlowBody)
	case b.n-b.granted >= MinBodyRate:
		b.granted = b.n - b.n%MinBodyRate
		_ = b.rc.SetReadDeadline(b.start.Add(b.timeout + time.Duration(b.granted/MinBodyRate)*time.Second))
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }
