package rpc

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// codes maps the sentinel errors of the packages below to Connect codes.
// It is the only place where that choice is made.
var codes = []struct {
	err  error
	code connect.Code
}{
	// First: an unreadable stored record is the server's problem, whatever
	// its cause would map to on its own.
	{app.ErrUnreadable, connect.CodeInternal},
	// A full disk: the client may retry later (docs/storage.md).
	{app.ErrStorageFull, connect.CodeResourceExhausted},
	// The scale-out mode's PostgreSQL or Kafka out of reach (docs/scale-out.md).
	{app.ErrStorageUnavailable, connect.CodeUnavailable},
	{app.ErrInvalid, connect.CodeInvalidArgument},
	{app.ErrDerived, connect.CodeFailedPrecondition},
	{app.ErrRealClock, connect.CodeFailedPrecondition},
	{app.ErrState, connect.CodeFailedPrecondition},
	// A sandbox document that changes an immutable thing (docs/sandbox.md);
	// a document that cannot be read is app.ErrInvalid.
	{app.ErrConflict, connect.CodeFailedPrecondition},
	// A sink (data connector) that cannot be reached, or that refused.
	{exporter.ErrUnavailable, connect.CodeUnavailable},
	{exporter.ErrRefused, connect.CodeFailedPrecondition},
	{catalog.ErrInvalid, connect.CodeInvalidArgument},
	{catalog.ErrNotFound, connect.CodeNotFound},
	{catalog.ErrExists, connect.CodeAlreadyExists},
	{catalog.ErrState, connect.CodeFailedPrecondition},
	{catalog.ErrUnauthenticated, connect.CodeUnauthenticated},
	{engine.ErrInvalidView, connect.CodeInvalidArgument},
	{keys.ErrClosed, connect.CodeUnavailable},
	{engine.ErrInvalidRef, connect.CodeInvalidArgument},
	{engine.ErrInvalidSchema, connect.CodeInvalidArgument},
	{engine.ErrInvalidContract, connect.CodeInvalidArgument},
	{engine.ErrInvalidEvent, connect.CodeInvalidArgument},
	{engine.ErrRejected, connect.CodeInvalidArgument},
	{log.ErrDropped, connect.CodeNotFound},
	{log.ErrClosed, connect.CodeUnavailable},
	{errUnauthenticated, connect.CodeUnauthenticated},
	{context.Canceled, connect.CodeCanceled},
	{context.DeadlineExceeded, connect.CodeDeadlineExceeded},
}

var errUnauthenticated = errors.New("unauthenticated")

// toConnect turns an error from below into a Connect error with the right
// code. The message is the error's own: those messages are written for the
// caller and never carry secrets or other producers' data. Unknown errors
// are internal.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return connect.NewError(c.code, err)
		}
	}
	return connect.NewError(connect.CodeInternal, err)
}

// invalidArgument is a request the RPC layer itself refuses.
func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}
