package pgkv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/strmlocal/strmlocal/internal/store"
)

// Options tune a KV; the zero value is the defaults.
type Options struct {
	// MaxConns bounds the pool's connections (default: the DSN's
	// pool_max_conns, else pgx's: 4 or the number of CPUs). An open
	// Snapshot holds one until it is closed; a Watch holds a connection of
	// its own, outside the pool.
	MaxConns int32
	// ConnectTimeout bounds each connection attempt (default 5s), unless
	// the DSN sets connect_timeout.
	ConnectTimeout time.Duration
	// Timeout bounds each query or round trip (default 30s): a server
	// that has not answered by then counts as unavailable.
	Timeout time.Duration
	// PageRows is how many rows a Scan reads per query (default 1000).
	PageRows int
	// Logger receives operational messages (a watch that lost its
	// connection, found it again); never keys, values or passwords. Nil:
	// none.
	Logger *slog.Logger

	// tracer, for this package's tests, sees every query.
	tracer pgx.QueryTracer
}

const (
	defaultConnectTimeout = 5 * time.Second
	defaultTimeout        = 30 * time.Second
	defaultPageRows       = 1000
)

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.PageRows <= 0 {
		o.PageRows = defaultPageRows
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrUnavailable is matched (errors.Is) by the errors of operations that
// could not reach PostgreSQL; their messages start with "storage
// unavailable:". It is store.ErrUnavailable, which the other network
// backends' errors match too.
var ErrUnavailable = store.ErrUnavailable

// errClosed is returned by the operations of a closed KV.
var errClosed = errors.New("postgres state: the KV is closed")

// KV is store.KV on one PostgreSQL database. It is safe for concurrent use.
type KV struct {
	pool   *pgxpool.Pool
	config *pgxpool.Config
	opts   Options
	addr   string // host:port (or the socket), for messages
	id     string // this KV's instance id in notifications

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup // the Watch goroutines

	mu        sync.Mutex
	snapshots map[*snapshot]struct{} // open ones, closed by Close

	serialRetries atomic.Int64 // commits retried after a deadlock, for tests
}

var _ store.KV = (*KV)(nil)

// Open connects to the database of dsn (a postgres:// URL or key=value
// pairs, as libpq's) and brings its schema up to date. It fails at once
// when the server cannot be reached, with an error matching
// ErrUnavailable; no message of Open's shows the DSN's password.
func Open(ctx context.Context, dsn string, opts Options) (*KV, error) {
	opts = opts.withDefaults()
	config, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres state: invalid connection string %s: %s", RedactDSN(dsn), scrub(parseReason(err), dsnPasswords(dsn)...))
	}
	cc := config.ConnConfig
	if cc.ConnectTimeout <= 0 {
		cc.ConnectTimeout = opts.ConnectTimeout
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "strmlocal"
	}
	cc.Tracer = opts.tracer
	if opts.MaxConns > 0 {
		config.MaxConns = opts.MaxConns
	}

	kv := &KV{
		config:    config,
		opts:      opts,
		addr:      address(cc.Host, cc.Port),
		id:        instanceID(),
		snapshots: map[*snapshot]struct{}{},
	}
	kv.ctx, kv.cancel = context.WithCancel(context.Background())
	if kv.pool, err = pgxpool.NewWithConfig(ctx, config); err != nil {
		kv.cancel()
		return nil, fmt.Errorf("postgres state: %s", scrub(err.Error(), cc.Password))
	}
	pingCtx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout+opts.Timeout)
	err = kv.pool.Ping(pingCtx)
	cancel()
	if err != nil {
		kv.pool.Close()
		kv.cancel()
		return nil, kv.connectError(err)
	}
	if err := kv.migrate(ctx); err != nil {
		kv.pool.Close()
		kv.cancel()
		return nil, err
	}
	return kv, nil
}

// Close closes the open snapshots, stops the watches and closes the pool.
func (kv *KV) Close() {
	kv.mu.Lock()
	already := kv.closed.Swap(true)
	kv.mu.Unlock()
	if already {
		return
	}
	kv.cancel()
	kv.wg.Wait()
	kv.mu.Lock()
	snaps := make([]*snapshot, 0, len(kv.snapshots))
	for s := range kv.snapshots {
		snaps = append(snaps, s)
	}
	kv.mu.Unlock()
	for _, s := range snaps {
		_ = s.Close()
	}
	kv.pool.Close()
}

// opCtx bounds one query or round trip.
func (kv *KV) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(kv.ctx, kv.opts.Timeout)
}

// connectError is Open's error when the first connection fails.
func (kv *KV) connectError(err error) error {
	cause := causeText(err, kv.opts.ConnectTimeout)
	cause = scrub(cause, kv.config.ConnConfig.Password)
	e := &openError{msg: fmt.Sprintf("postgres state: cannot connect to %s: %s", kv.addr, cause), cause: err}
	if unreachable(err) {
		e.unavailable = true
	}
	return e
}

type openError struct {
	msg         string
	cause       error
	unavailable bool
}

func (e *openError) Error() string { return e.msg }

func (e *openError) Unwrap() []error {
	if e.unavailable {
		return []error{ErrUnavailable, e.cause}
	}
	return []error{e.cause}
}

// unavailableError is an operation's error when the server could not be
// reached.
type unavailableError struct {
	msg   string
	cause error
}

func (e *unavailableError) Error() string   { return e.msg }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// fail wraps the error of operation op: ErrUnavailable when the server
// could not be reached, errClosed once the KV is closed.
func (kv *KV) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, errClosed) || errors.Is(err, store.ErrConflict) {
		return err
	}
	if kv.closed.Load() {
		return errClosed
	}
	if unreachable(err) {
		return &unavailableError{
			msg:   fmt.Sprintf("storage unavailable: postgres state at %s: %s: %s", kv.addr, op, causeText(err, kv.opts.Timeout)),
			cause: err,
		}
	}
	return fmt.Errorf("postgres state: %s: %w", op, err)
}

// unreachable says whether err means the server could not be reached or
// answered that it cannot serve (shutting down, starting up, too many
// connections), rather than that it refused the statement.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdowns, starting up
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed):
		return true
	}
	return pgconn.SafeToRetry(err)
}

// retryable says whether a failed read can be tried again at once, on
// another connection: the server was unreachable, yet answered quickly
// (a connection of the pool that a restart of the server had broken).
func retryable(err error) bool {
	return unreachable(err) && !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err)
}

// causeText is the short reason of a failure: the dial error, the
// server's message, or how long there was no answer.
func causeText(err error, timeout time.Duration) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fmt.Sprintf("no answer within %v", timeout)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the server closed the connection"
	}
	return err.Error()
}

// address names the server of host and port for messages.
func address(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return filepath.Join(host, ".s.PGSQL."+strconv.Itoa(int(port)))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func instanceID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return hex.EncodeToString(b[:])
}

var (
	urlPassword = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*):([^@/?#]*)@`)
	kvPassword  = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// RedactDSN returns dsn with its password, if any, replaced by xxxxx, in
// the URL's user info, in a password= query parameter, or in a password=
// pair.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	dsn = urlPassword.ReplaceAllString(dsn, "$1:xxxxx@")
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// dsnPasswords finds the passwords written in dsn, to scrub them from
// messages that may quote it.
func dsnPasswords(dsn string) []string {
	var pw []string
	if m := urlPassword.FindStringSubmatch(dsn); m != nil {
		pw = append(pw, m[2])
		if dec, err := url.PathUnescape(m[2]); err == nil {
			pw = append(pw, dec)
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		pw = append(pw, strings.Trim(m[2], "'"))
		if dec, err := url.QueryUnescape(m[2]); err == nil {
			pw = append(pw, dec)
		}
	}
	return pw
}

// parseReason is why pgx could not parse a DSN, without the DSN that its
// message repeats.
func parseReason(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "cannot parse `"); ok {
		if _, reason, ok := strings.Cut(rest, "`: "); ok {
			return reason
		}
	}
	return msg
}

// scrub replaces every secret in msg with xxxxx.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
