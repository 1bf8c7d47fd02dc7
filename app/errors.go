package app

import (
	"errors"
	"fmt"
)

// Sentinel errors of the application layer. Their wrapped messages are
// written for the caller and name what to do.
var (
	// ErrDerived is returned for an operation that needs a source stream
	// (ingest, key links) on a derived stream.
	ErrDerived = errors.New("app: derived stream")
	// ErrRealClock is returned by Advance when the server runs on the real
	// clock.
	ErrRealClock = errors.New("app: real clock")
	// ErrInvalid is returned for an argument the application layer itself
	// refuses.
	ErrInvalid = errors.New("app: invalid argument")
	// ErrState is returned for an operation the state of a thing forbids
	// (resuming a running job, deleting a stream that jobs read).
	ErrState = errors.New("app: wrong state")
	// ErrUnreadable is returned by a Reader for a stored record it cannot
	// read: a defect or a damaged data dir, never the reader's fault. It
	// wraps the cause, whatever that matches as well.
	ErrUnreadable = errors.New("app: stored record unreadable")
)

type unreadableError struct{ err error }

func (e *unreadableError) Error() string   { return e.err.Error() }
func (e *unreadableError) Unwrap() []error { return []error{ErrUnreadable, e.err} }

// kindError carries a message of its own and matches its sentinel with
// errors.Is, so the message reads as written, without a prefix.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func invalidf(format string, args ...any) error {
	return &kindError{ErrInvalid, fmt.Sprintf(format, args...)}
}

func statef(format string, args ...any) error {
	return &kindError{ErrState, fmt.Sprintf(format, args...)}
}
