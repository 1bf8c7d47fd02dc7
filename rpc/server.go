package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/internal/clock"
)

// DefaultAddr is where the server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:50051"

// Options configure a Server. Every field has a usable zero value.
type Options struct {
	// Addr is the address ListenAndStart listens on. Port 0 picks a free
	// port (see Server.Addr). Default: DefaultAddr.
	Addr string

	// The application's options, passed on as they are: see the fields of
	// the same names in app.Options for what each means and its default.
	// A *clock.Virtual Clock enables ClockService's AdvanceClock.
	DataDir      string
	Clock        clock.Clock
	Rotation     time.Duration
	KeyRetention time.Duration
	MasterKey    string
	// StateURL, KafkaBrokers and KafkaTopicPrefix choose the scale-out
	// mode (docs/scale-out.md).
	StateURL         string
	KafkaBrokers     []string
	KafkaTopicPrefix string
	NoDemo           bool
	MaxEventBytes    int
	PageBytes        int
	JobRetryMin      time.Duration
	JobRetryMax      time.Duration
	JobRetries       int

	// Logger receives operational messages, of the transports and of the
	// application; never event contents, keys or secrets. Default: discard.
	Logger *slog.Logger
	// AdminToken, when set, is required as a bearer token on management
	// RPCs. It is mandatory when listening on a non-loopback address.
	// Default: "" (no token; loopback only).
	AdminToken string
	// Version is reported by ServerService. Default: "devel".
	Version string
	// MaxRequestBytes caps the size of one RPC message (a batch of events,
	// a schema definition). Default: DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxBatchEvents caps the events of one batch (SendEvents,
	// ValidateEvents, each message of SendEventStream); a larger batch is
	// refused whole. Default: DefaultMaxBatchEvents.
	MaxBatchEvents int
	// AuthClock is the clock of access and refresh tokens. It is not Clock:
	// drivers refresh on their own wall clock, and advancing a virtual
	// Clock must not log every producer out. Default: the wall clock.
	AuthClock clock.Clock
	// TokenLifetime is how long an access token is valid.
	// Default: DefaultTokenLifetime. Refresh tokens last 24 times as long.
	TokenLifetime time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (slow-loris clients). Default: DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds how long a request may take to send its body
	// (slow-body clients), streams excepted; a large body gets longer, at
	// MinBodyRate. Default: DefaultBodyTimeout.
	BodyTimeout time.Duration
	// WriteTimeout bounds how long one websocket frame may wait for a
	// client that does not read before the client is disconnected.
	// Default: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// SandboxFile is a sandbox file (YAML or JSON, docs/sandbox.md) that
	// New applies after the built-in catalogue, before anything is served
	// (serve --init); a conflict, or a document that cannot be applied,
	// makes New fail. See Server.SandboxPlan. Default: "" (none).
	SandboxFile string
}

// Defaults of Options (the application's own are in package app).
const (
	DefaultMaxRequestBytes   = 64 << 20
	DefaultMaxBatchEvents    = 10_000
	DefaultTokenLifetime     = time.Hour
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultBodyTimeout       = 10 * time.Second
	// DefaultIdleTimeout closes keep-alive connections nobody uses.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultShutdownGrace is how long Close gives requests in flight.
	DefaultShutdownGrace = 5 * time.Second
)

func (o *Options) fillDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "devel"
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if o.AuthClock == nil {
		o.AuthClock = clock.Real{}
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
}

// appOptions are the options of the application layer below.
func (o *Options) appOptions() app.Options {
	return app.Options{
		DataDir: o.DataDir, Clock: o.Clock, Rotation: o.Rotation, KeyRetention: o.KeyRetention,
		MasterKey: o.MasterKey, Logger: o.Logger, NoDemo: o.NoDemo, MaxEventBytes: o.MaxEventBytes,
		PageBytes: o.PageBytes, JobRetryMin: o.JobRetryMin, JobRetryMax: o.JobRetryMax, JobRetries: o.JobRetries,
		StateURL: o.StateURL, KafkaBrokers: o.KafkaBrokers, KafkaTopicPrefix: o.KafkaTopicPrefix,
	}
}

// ErrNeedAdminToken is returned by Start for a non-loopback listener when
// Options.AdminToken is empty.
var ErrNeedAdminToken = errors.New("rpc: a non-loopback address needs an admin token")

// Server is a strmlocal server: the transports mounted over one
// application (package app). Construct it with New, Start it on a listener,
// Close it.
type Server struct {
	opts Options
	app  *app.App
	cat  *catalog.Streams  // app.Streams()
	reg  *catalog.Registry // app.Registry()
	// tokens issues and checks the access tokens of the compat surface.
	tokens *tokens
	// metrics are served at GET /metrics (metrics.go).
	metrics *metrics
	// wsConns counts websocket tails, which http.Server.Shutdown does not
	// track (their connections are hijacked); Close waits for them.
	wsConns sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	http *http.Server
	ctx  context.Context // cancelled by Close: ends streaming RPCs
	stop context.CancelFunc

	// sandboxPlan is what applying Options.SandboxFile did (nil without one).
	sandboxPlan *app.Plan

	mu   sync.Mutex
	addr net.Addr // REQUIRES: mu held
	done chan error
}

// New opens the application (the store and everything on it) and mounts
// the transports. It does not listen.
func New(opts Options) (*Server, error) { return NewContext(context.Background(), opts) }

// NewContext is New that stops when ctx ends (see app.OpenContext).
func NewContext(ctx context.Context, opts Options) (*Server, error) {
	opts.fillDefaults()
	m := newMetrics()
	appOpts := opts.appOptions()
	appOpts.OnCommit = m.onCommit
	a, err := app.OpenContext(ctx, appOpts)
	if err != nil {
		return nil, err
	}
	m.reg.MustRegister(newAppCollector(a))
	s := &Server{opts: opts, app: a, cat: a.Streams(), reg: a.Registry(), metrics: m}
	s.tokens = newTokens(a.DeriveSecret("access tokens"), opts.AuthClock.Now, opts.TokenLifetime, 24*opts.TokenLifetime)
	if err := s.applySandboxFile(ctx); err != nil { // sandbox.go
		return nil, errors.Join(err, a.Close())
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.http = &http.Server{
		Handler:           s.bodyLimits(s.routes()),
		Protocols:         protocols(),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// protocols serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge and
// upgrade-less h2c) on the same port.
func protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// Responses are not compressed: clients are on loopback or a LAN,
	// where gzip costs far more CPU than it saves in transfer time.
	noGzip := connect.WithCompressMinBytes(math.MaxInt)
	limits := connect.WithHandlerOptions(
		connect.WithReadMaxBytes(s.opts.MaxRequestBytes),
		boundedGzip(s.opts.MaxRequestBytes),
		noGzip,
	)
	// Credentials are checked by request gates, on the headers: a request
	// without them is refused before its body is read or inflated.
	admin := connect.WithHandlerOptions(connect.WithRequestGate(adminGuard{s.opts.AdminToken}.gate), limits)
	mux.Handle(strmlocalv1connect.NewStreamServiceHandler(&streamService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewSchemaServiceHandler(&schemaService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewEventContractServiceHandler(&contractService{s: s}, admin))
	open := connect.WithHandlerOptions(connect.WithRequestGate(s.streamGate), limits)
	mux.Handle(strmlocalv1connect.NewEventServiceHandler(&eventService{s: s}, open))
	mux.Handle(strmlocalv1connect.NewEgressServiceHandler(&egressService{s: s}, open))
	mux.Handle(strmlocalv1connect.NewKeyServiceHandler(&keyService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewClockServiceHandler(&clockService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewConnectorServiceHandler(&connectorService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewJobServiceHandler(&jobService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewSandboxServiceHandler(&sandboxService{s: s}, admin))
	// ServerService tells the version and the data dir; reflection lists
	// every service: admin's business too. Health stays open.
	mux.Handle(strmlocalv1connect.NewServerServiceHandler(&serverService{s: s}, admin))
	reflector := grpcreflect.NewStaticReflector(
		strmlocalv1connect.StreamServiceName,
		strmlocalv1connect.SchemaServiceName,
		strmlocalv1connect.EventContractServiceName,
		strmlocalv1connect.EventServiceName,
		strmlocalv1connect.EgressServiceName,
		strmlocalv1connect.KeyServiceName,
		strmlocalv1connect.ClockServiceName,
		strmlocalv1connect.ConnectorServiceName,
		strmlocalv1connect.JobServiceName,
		strmlocalv1connect.SandboxServiceName,
		strmlocalv1connect.ServerServiceName,
	)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, admin))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, admin))
	mux.HandleFunc("POST /event", s.eventHandler)
	mux.HandleFunc("/cloudevents", s.cloudEventsHandler) // POST; OPTIONS for webhook validation
	mux.HandleFunc("POST "+client.TokenPath, s.tokenHandler)
	mux.HandleFunc("POST "+client.LegacyAuthPath, s.legacyAuthHandler)       // drivers up to 2.x
	mux.HandleFunc("POST "+client.LegacyRefreshPath, s.legacyRefreshHandler) // drivers up to 2.x
	mux.HandleFunc("GET /ws", s.wsHandler)
	mux.HandleFunc("GET /ready", s.readyHandler)
	mux.HandleFunc("GET /is-alive", healthHandler)
	mux.Handle("GET /metrics", s.metricsHandler()) // admin's, like ServerService
	s.aetherRoutes(mux)
	return mux
}

// ListenAndStart listens on Options.Addr and serves there in the background.
func (s *Server) ListenAndStart() error {
	lis, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w; is another server running there? pick another --addr", s.opts.Addr, err)
	}
	if err := s.Start(lis); err != nil {
		_ = lis.Close()
		return err
	}
	return nil
}

// Start serves on lis in the background. It refuses a non-loopback listener
// when the server has no admin token.
func (s *Server) Start(lis net.Listener) error {
	if s.opts.AdminToken == "" && !isLoopback(lis.Addr()) {
		return fmt.Errorf("%w: %s is reachable from other machines; set an admin token (--admin-token or STRMLOCAL_ADMIN_TOKEN) or listen on 127.0.0.1", ErrNeedAdminToken, lis.Addr())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errors.New("rpc: server already started")
	}
	s.addr, s.done = lis.Addr(), make(chan error, 1)
	go func() {
		err := s.http.Serve(lis)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.opts.Logger.Info("strmlocal serving", "addr", lis.Addr().String(), "data_dir", s.opts.DataDir)
	return nil
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	return tcp.IP.IsLoopback()
}

// Addr is the address the server listens on (nil before Start). With port 0
// it is the port actually chosen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the base URL of the server, e.g. "http://127.0.0.1:50051".
func (s *Server) URL() string {
	if a := s.Addr(); a != nil {
		return "http://" + a.String()
	}
	return ""
}

// Wait blocks until the server stops serving and returns why.
func (s *Server) Wait() error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return errors.New("rpc: server not started")
	}
	err := <-done
	done <- err // let other waiters see it too
	return err
}

// Close stops serving — open streams are ended at once (a tail writing to
// a client that does not read is cut off after a moment), requests in
// flight are given DefaultShutdownGrace, then their connections are
// closed — and closes the application.
// Closing again returns the first Close's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownGrace)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			// Requests still running after the grace: their connections are
			// closed. The server has stopped all the same; that is no
			// failure of Close.
			s.opts.Logger.Warn("requests still running at shutdown: connections closed", "grace", DefaultShutdownGrace, "error", err)
			_ = s.http.Close()
		}
		s.wsConns.Wait()
		s.closeErr = s.app.Close()
	})
	return s.closeErr
}

// App is the application the server serves, for embedding programs and
// tests.
func (s *Server) App() *app.App { return s.app }

// Registry is the server's schema and contract registry, for embedding
// programs and tests.
func (s *Server) Registry() *catalog.Registry { return s.reg }
