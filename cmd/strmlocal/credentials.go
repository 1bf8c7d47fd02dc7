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
// `create stream` saved: from the server's own folder, else the legacy one
// (see saved.go). Stream-scoped RPCs (send, egress) authenticate with them,
// not with the admin token.
func (e *env) streamCredentials(name string) (*v1.Credentials, error) {
	// The name becomes a file name: no separators, no way out of the dir.
	if err := catalog.ValidateName(name); err != nil {
		return nil, err
	}
	c, _, err := e.streamCredentialsFile(name)
	return c, err
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
	path := e.saved().Path("Stream", name)
	from := ""
	if read := e.credentialsFile(name); read != "" && read != path {
		// Legacy credentials, which another server's may be.
		from = " read from " + read
	}
	return fmt.Errorf("the server refused the saved credentials of stream %s%s (%s): the stream no longer exists there or was re-created; create it again with this CLI, or save its current credentials in %s",
		name, from, client.OneLine(msg), path)
}

// streamEvents is an EventService client that sends as the stream.
func (e *env) streamEvents(c *v1.Credentials) strmlocalv1connect.EventServiceClient {
	return e.client().AsStream(c).Events
}

// streamEgress is an EgressService client that reads as the stream.
func (e *env) streamEgress(c *v1.Credentials) strmlocalv1connect.EgressServiceClient {
	return e.client().AsStream(c).Egress
}
