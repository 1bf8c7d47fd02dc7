package main

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
)

// streamCredentials reads the saved credentials of a stream, which
// `create stream` saved. Stream-scoped RPCs (send, egress) authenticate with
// them, not with the admin token.
func (e *env) streamCredentials(name string) (*v1.Credentials, error) {
	// The name becomes a file name: no separators, no way out of the dir.
	if err := catalog.ValidateName(name); err != nil {
		return nil, err
	}
	return e.saved().StreamCredentials(name)
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
		name, client.OneLine(msg), e.saved().Path("Stream", name))
}

// streamEvents is an EventService client that sends as the stream.
func (e *env) streamEvents(c *v1.Credentials) strmlocalv1connect.EventServiceClient {
	return e.client().AsStream(c).Events
}

// streamEgress is an EgressService client that reads as the stream.
func (e *env) streamEgress(c *v1.Credentials) strmlocalv1connect.EgressServiceClient {
	return e.client().AsStream(c).Egress
}
