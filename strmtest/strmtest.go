package strmtest

import (
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/rpc"
)

// Sandbox is a running strmlocal server and clients for it.
type Sandbox struct {
	Server *rpc.Server
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// HTTPClient speaks cleartext HTTP/2 (prior knowledge) to the server.
	HTTPClient *http.Client
	// Client holds every service client, with the admin token when the
	// server has one.
	Client *client.Client

	Streams        strmlocalv1connect.StreamServiceClient
	Schemas        strmlocalv1connect.SchemaServiceClient
	EventContracts strmlocalv1connect.EventContractServiceClient
	Events         strmlocalv1connect.EventServiceClient
	Keys           strmlocalv1connect.KeyServiceClient
	ClockService   strmlocalv1connect.ClockServiceClient
	ServerInfo     strmlocalv1connect.ServerServiceClient
	// Clock is the server's virtual clock (nil without WithVirtualClock).
	Clock *VirtualClock

	t testing.TB
}

// Option adjusts the sandbox.
type Option func(*rpc.Options)

// WithClock sets the server's clock to a function.
func WithClock(now func() time.Time) Option {
	return func(o *rpc.Options) { o.Clock = clock.Func(now) }
}

// VirtualClock is a clock that moves only when advanced (serve --clock
// virtual); see WithVirtualClock and Sandbox.Advance.
type VirtualClock = clock.Virtual

// WithVirtualClock runs the server on a virtual clock starting at start;
// Sandbox.Clock is that clock.
func WithVirtualClock(start time.Time) Option {
	return func(o *rpc.Options) { o.Clock = clock.NewVirtual(start) }
}

// WithKeyTimes sets the key rotation period and the key retention.
func WithKeyTimes(rotation, retention time.Duration) Option {
	return func(o *rpc.Options) { o.Rotation, o.KeyRetention = rotation, retention }
}

// WithDataDir keeps the data in dir instead of memory (e.g. t.TempDir()),
// for tests that restart a server on the same data.
func WithDataDir(dir string) Option { return func(o *rpc.Options) { o.DataDir = dir } }

// WithAdminToken makes the server require an admin token; the sandbox's
// clients send it.
func WithAdminToken(token string) Option { return func(o *rpc.Options) { o.AdminToken = token } }

// WithoutCatalogue starts the server without the built-in catalogue
// (serve --no-demo).
func WithoutCatalogue() Option { return func(o *rpc.Options) { o.NoDemo = true } }

// WithMaxEventBytes caps the size of one event body.
func WithMaxEventBytes(n int) Option { return func(o *rpc.Options) { o.MaxEventBytes = n } }

// WithJobRetries sets how jobs retry a failed run: the first wait, the
// longest, and the failed runs in a row that make a job FAILED.
func WithJobRetries(first, longest time.Duration, budget int) Option {
	return func(o *rpc.Options) { o.JobRetryMin, o.JobRetryMax, o.JobRetries = first, longest, budget }
}

// WithConfig applies a sandbox file (YAML or JSON, docs/sandbox.md) at
// start, before the sandbox serves, as serve --init does: a conflict, or
// a document that cannot be applied, fails the test. The plan, with the
// credentials of the streams created, is Sandbox.Server.SandboxPlan().
func WithConfig(path string) Option { return func(o *rpc.Options) { o.SandboxFile = path } }

// WithLogger sends the server's log to l.
func WithLogger(l *slog.Logger) Option { return func(o *rpc.Options) { o.Logger = l } }

// ScaleOut names the services of the scale-out mode (docs/scale-out.md):
// a PostgreSQL database for the state, Kafka brokers for the log, and the
// master key every gateway shares (a Tink JSON keyset, as
// STRMLOCAL_MASTER_KEY takes it).
type ScaleOut struct {
	StateURL    string
	Brokers     []string
	TopicPrefix string // of the log's topics; "" for the default
	MasterKey   string
}

// WithScaleOut runs the sandbox in the scale-out mode, over s: sandboxes
// given the same s are gateways of one sandbox.
func WithScaleOut(s ScaleOut) Option {
	return func(o *rpc.Options) {
		o.StateURL, o.KafkaBrokers, o.KafkaTopicPrefix, o.MasterKey = s.StateURL, s.Brokers, s.TopicPrefix, s.MasterKey
		o.DataDir = ""
	}
}

// Defaults, when set, gives the options that every New applies before its
// own: a test binary's TestMain may set it to run its suite in another
// mode (WithScaleOut over a fresh database for each sandbox, say).
var Defaults func(t testing.TB) []Option

// New starts a sandbox and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts ...Option) *Sandbox {
	t.Helper()
	var o rpc.Options
	if Defaults != nil {
		opts = append(Defaults(t), opts...)
	}
	for _, opt := range opts {
		opt(&o)
	}
	srv, err := rpc.New(o)
	if err != nil {
		t.Fatalf("strmtest: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = srv.Start(lis)
	}
	if err != nil {
		_ = srv.Close()
		t.Fatalf("strmtest: %v", err)
	}
	hc := NewHTTPClient()
	t.Cleanup(func() {
		// Idle HTTP/2 connections would hold Close for the GOAWAY grace.
		hc.CloseIdleConnections()
		if err := srv.Close(); err != nil {
			t.Errorf("strmtest: close: %v", err)
		}
	})
	c := client.New(srv.URL(), client.Options{HTTPClient: hc, AdminToken: o.AdminToken})
	sb := &Sandbox{
		Server:         srv,
		URL:            srv.URL(),
		HTTPClient:     hc,
		Client:         c,
		Streams:        c.Streams,
		Schemas:        c.Schemas,
		EventContracts: c.EventContracts,
		Events:         c.Events,
		Keys:           c.Keys,
		ClockService:   c.Clock,
		ServerInfo:     c.Server,
		t:              t,
	}
	sb.Clock, _ = o.Clock.(*VirtualClock)
	return sb
}

// NewHTTPClient returns a client that speaks cleartext HTTP/2 with prior
// knowledge, which all three protocols (Connect, gRPC, gRPC-Web) work over.
func NewHTTPClient() *http.Client { return client.NewH2CClient() }
