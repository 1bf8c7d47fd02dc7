package catalog

import (
	"errors"
	"fmt"
)

// Kinds of failure. Errors returned by this package wrap exactly one of them;
// their messages are complete sentences meant for the user.
var (
	ErrNotFound = errors.New("catalog: not found")
	ErrExists   = errors.New("catalog: already exists")
	ErrInvalid  = errors.New("catalog: invalid argument")
	// ErrState: the entity exists but its state forbids the operation (a
	// schema or contract that is not ACTIVE).
	ErrState = errors.New("catalog: wrong state")
	// ErrUnauthenticated: credentials that match no stream.
	ErrUnauthenticated = errors.New("catalog: unauthenticated")
)

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
