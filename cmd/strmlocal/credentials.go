package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/catalog"
)

// streamCredentials reads the saved credentials of a stream, which
// `create stream` saved. Stream-scoped RPCs (send, egress) authenticate with
// them, not with the admin token.
func (e *env) streamCredentials(name string) (*v1.Credentials, error) {
	// The name becomes a file name: no separators, no way out of the dir.
	if err := catalog.ValidateName(name); err != nil {
		return nil, err
	}
	s := e.saved()
	var st v1.Stream
	err := s.load("Stream", name, &st)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no saved credentials for stream %s: create it with `strmlocal create stream %s`, which saves them in %s; if it was created elsewhere (or with --save=false), save its credentials in that file",
			name, name, s.path("Stream", name))
	}
	if err != nil {
		return nil, err
	}
	c := st.GetCredentials()
	if c.GetClientId() == "" || c.GetClientSecret() == "" {
		return nil, fmt.Errorf("saved stream %s in %s has no client id and secret: add them as \"credentials\": {\"clientId\": ..., \"clientSecret\": ...}, or delete and re-create the stream with this CLI",
			name, s.path("Stream", name))
	}
	return c, nil
}

// refused explains a stream-scoped call that the server answered with
// Unauthenticated: the saved credentials are stale. Other errors pass
// through.
func (e *env) refused(name string, err error) error {
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		return err
	}
	var ce *connect.Error
	msg := err.Error()
	if errors.As(err, &ce) {
		msg = ce.Message()
	}
	return fmt.Errorf("the server refused the saved credentials of stream %s (%s): the stream no longer exists there or was re-created; create it again with this CLI, or save its current credentials in %s",
		name, oneLine(msg), e.saved().path("Stream", name))
}

// basicAuth sets "Authorization: Basic base64(clientId:clientSecret)" on
// every request, unary and streaming.
type basicAuth struct{ header string }

func newBasicAuth(c *v1.Credentials) basicAuth {
	return basicAuth{"Basic " + base64.StdEncoding.EncodeToString([]byte(c.ClientId+":"+c.ClientSecret))}
}

func (b basicAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", b.header)
		return next(ctx, req)
	}
}

func (b basicAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", b.header)
		return conn
	}
}

func (b basicAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// streamEvents is an EventService client that sends as the stream.
func (e *env) streamEvents(c *v1.Credentials) strmlocalv1connect.EventServiceClient {
	return strmlocalv1connect.NewEventServiceClient(e.httpClient(), e.server, connect.WithInterceptors(newBasicAuth(c)))
}

// streamEgress is an EgressService client that reads as the stream.
func (e *env) streamEgress(c *v1.Credentials) strmlocalv1connect.EgressServiceClient {
	return strmlocalv1connect.NewEgressServiceClient(e.httpClient(), e.server, connect.WithInterceptors(newBasicAuth(c)))
}
