package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Bucket is a place objects are written to: a directory, an S3 bucket.
// Implementations are safe for concurrent use.
type Bucket interface {
	// Put writes the object name ('/'-separated, relative to the bucket's
	// root) with what body yields, replacing an object of that name, and
	// returns the bytes written. Readers of the bucket see the whole object
	// or none of it (or the object it replaces), never a part. Put reads
	// body as it writes: an object of any size takes bounded memory.
	Put(ctx context.Context, name string, body io.Reader) (int64, error)
	// Delete deletes the object name; a missing object is no error.
	Delete(ctx context.Context, name string) error
	// String names the bucket in messages: `directory "/x"`,
	// `bucket "b" at http://host:port`. Never a secret.
	String() string
}

// Errors of sinks, to be matched with errors.Is. A sink wraps one of them
// with a message that names where and what failed.
var (
	// ErrUnavailable: the sink could not be reached (connection refused, a
	// timeout, DNS); trying again later may work.
	ErrUnavailable = errors.New("sink unavailable")
	// ErrRefused: the sink answered and refused (no such bucket, bad
	// credentials, permission denied, not a directory).
	ErrRefused = errors.New("sink refused")
	// ErrPermanent: the sink refused in a way retrying cannot mend (a
	// webhook's 400): the job fails at once, with the sink's answer.
	ErrPermanent = errors.New("sink refused for good")
)

// RetryAfter returns the wait a sink asked for before the next try (a
// Retry-After header), if err carries one: an error with a method
// RetryAfter() time.Duration.
func RetryAfter(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter(), true
	}
	return 0, false
}

// Error is a sink's failure: Where names the sink (Bucket.String), Code is
// the sink's own error code when it has one (S3's NoSuchBucket), and Kind
// is ErrUnavailable or ErrRefused.
type Error struct {
	Where string
	Op    string // "put", "delete"; "" for a connection check
	Name  string // the object, if any
	Code  string
	Kind  error
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Where)
	if e.Op != "" {
		fmt.Fprintf(&b, ": %s %s", e.Op, e.Name)
	}
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// ProbePrefix starts the name of the object Probe writes.
const ProbePrefix = ".strmlocal-probe-"

// Probe checks that b can be written to: it writes and deletes an empty
// object .strmlocal-probe-<uuid> under prefix ("" for the root) and says
// what it did.
func Probe(ctx context.Context, b Bucket, prefix string) (string, error) {
	name := ProbePrefix + uuid.NewString()
	if prefix != "" {
		name = prefix + "/" + name
	}
	if _, err := b.Put(ctx, name, strings.NewReader("")); err != nil {
		return "", err
	}
	if err := b.Delete(ctx, name); err != nil {
		return "", err
	}
	return fmt.Sprintf("wrote and deleted %s in %s", name, b), nil
}

// Message is one event for a Publisher.
type Message struct {
	// Key groups messages (the key link: a session's events stay in order
	// on one Kafka partition).
	Key string
	// Value is the event as JSON, as egress shows it.
	Value []byte
	// Attrs is the event's metadata, in order: Kafka headers, CloudEvents
	// attributes and extensions.
	Attrs []Attr
	// Time is when strmlocal accepted the event.
	Time time.Time
}

// Attr is one metadata attribute of a Message.
type Attr struct{ Key, Value string }

// Publisher sends messages to a sink that takes events one by one: a Kafka
// topic, a webhook. Implementations are safe for concurrent use.
type Publisher interface {
	// Publish sends msgs, in order, and returns once the sink acknowledged
	// every one. After an error some may have been delivered: the caller
	// sends them all again (at least once; the Kafka sink's idempotent
	// producer makes that exactly once while it lives).
	Publish(ctx context.Context, msgs []Message) error
	// Close releases the connections.
	Close() error
	// String names the sink in messages; never a secret.
	String() string
}
