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
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// DefaultAddr is where the server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:50051"

// Options configure a Server. Every field has a usable zero value.
type Options struct {
	// Addr is the address ListenAndStart listens on. Port 0 picks a free
	// port (see Server.Addr). Default: DefaultAddr.
	Addr string
	// DataDir is the directory of the database. Default: "" — an in-memory
	// store that disappears with the server.
	DataDir string
	// Clock is the one server clock: acceptance times, creation times, key
	// rotation and retention. A *clock.Virtual enables ClockService's
	// AdvanceClock. Default: the wall clock.
	Clock clock.Clock
	// Rotation is how long a key link lasts after its creation.
	// Default: 24h.
	Rotation time.Duration
	// KeyRetention is how long a key is kept after its period ends before it
	// is deleted (crypto-shredding). Default: 7 days.
	KeyRetention time.Duration
	// MasterKey is a master key given from outside (the value of
	// STRMLOCAL_MASTER_KEY). Default: "": <DataDir>/master.key, created on
	// first start; a fresh random key for an in-memory server.
	MasterKey string
	// Logger receives operational messages; never event contents, keys or
	// secrets. Default: discard.
	Logger *slog.Logger
	// AdminToken, when set, is required as a bearer token on management
	// RPCs. It is mandatory when listening on a non-loopback address.
	// Default: "" (no token; loopback only).
	AdminToken string
	// Version is reported by ServerService. Default: "devel".
	Version string
	// NoDemo skips registering the built-in catalogue (SPEC §8). Default:
	// false: schemas and contracts of the catalogue that are not registered
	// yet are registered, ACTIVE, at every start.
	NoDemo bool
	// MaxEventBytes caps the size of one event body.
	// Default: engine.DefaultMaxEventBytes (1 MiB).
	MaxEventBytes int
	// MaxRequestBytes caps the size of one RPC message (a batch of events,
	// a schema definition). Default: 64 MiB.
	MaxRequestBytes int
	// AuthClock is the clock of access and refresh tokens. It is not Clock:
	// drivers refresh on their own wall clock, and advancing a virtual
	// Clock must not log every producer out. Default: the wall clock.
	AuthClock clock.Clock
	// TokenLifetime is how long an access token is valid.
	// Default: 1h. Refresh tokens last 24 times as long.
	TokenLifetime time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (slow-loris clients). Default: 10s.
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds how long one websocket frame may wait for a
	// client that does not read before the client is disconnected.
	// Default: 10s.
	WriteTimeout time.Duration
}

// ErrNeedAdminToken is returned by Start for a non-loopback listener when
// Options.AdminToken is empty.
var ErrNeedAdminToken = errors.New("rpc: a non-loopback address needs an admin token")

// Server is a strmlocal server: construct it with New, Start it on a
// listener, Close it.
type Server struct {
	opts  Options
	start time.Time
	store *store.Store
	log   *log.Log
	cat   *catalog.Streams
	reg   *catalog.Registry
	keys  *keys.Keys
	pipe  *engine.Pipeline
	// tokens issues and checks the access tokens of the compat surface.
	tokens *tokens
	// wsConns counts websocket tails, which http.Server.Shutdown does not
	// track (their connections are hijacked); Close waits for them.
	wsConns sync.WaitGroup

	sweepMu   sync.Mutex // serialises key sweeps
	sweepDone chan struct{}

	closeOnce sync.Once
	closeErr  error

	http *http.Server
	ctx  context.Context // cancelled by Close: ends streaming RPCs
	stop context.CancelFunc

	mu   sync.Mutex
	addr net.Addr // REQUIRES: mu held
	done chan error
}

// New opens the store and everything on it. It does not listen.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "devel"
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.MaxEventBytes <= 0 {
		opts.MaxEventBytes = engine.DefaultMaxEventBytes
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 64 << 20
	}
	if opts.AuthClock == nil {
		opts.AuthClock = clock.Real{}
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 10 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = wsWriteTimeout
	}
	sopts := store.Options{Dir: opts.DataDir, Logger: opts.Logger}
	if opts.DataDir == "" {
		sopts.FS, sopts.Dir = vfs.NewMem(), "strmlocal"
	}
	st, err := store.Open(sopts)
	if err != nil {
		return nil, err
	}
	now := opts.Clock.Now
	s := &Server{opts: opts, start: now(), store: st}
	s.log, err = log.Open(st.DB, log.Options{Now: now, Logger: opts.Logger})
	if err == nil {
		s.cat, err = catalog.OpenStreams(st.DB, now)
	}
	if err == nil {
		s.reg, err = catalog.OpenRegistry(st.DB, now)
	}
	if err == nil {
		var master tink.AEAD
		if opts.DataDir != "" && opts.MasterKey == "" {
			err = keys.MissingMaster(opts.DataDir, st.DB)
		}
		if err == nil {
			master, err = keys.LoadMaster(opts.DataDir, opts.MasterKey)
		}
		if err == nil {
			s.keys, err = keys.Open(st.DB, keys.Options{
				Now: now, Rotation: opts.Rotation, Retention: opts.KeyRetention, Master: master, Logger: opts.Logger,
			})
		}
	}
	if err == nil && !opts.NoDemo {
		s.registerCatalogue()
	}
	if err != nil {
		s.closeStorage()
		return nil, err
	}
	s.tokens = newTokens(s.keys.DeriveSecret("access tokens"), opts.AuthClock.Now, opts.TokenLifetime, 24*opts.TokenLifetime)
	s.pipe = &engine.Pipeline{Log: s.log, Keys: s.keys, Now: now, MaxEventBytes: opts.MaxEventBytes}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.sweepDone = make(chan struct{})
	go s.sweepLoop()
	s.http = &http.Server{
		Handler:           s.routes(),
		Protocols:         protocols(),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       5 * time.Minute,
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
	admin := connect.WithHandlerOptions(
		connect.WithInterceptors(adminGuard{s.opts.AdminToken}),
		connect.WithReadMaxBytes(s.opts.MaxRequestBytes),
		noGzip,
	)
	mux.Handle(strmlocalv1connect.NewStreamServiceHandler(&streamService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewSchemaServiceHandler(&schemaService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewEventContractServiceHandler(&contractService{s: s}, admin))
	open := connect.WithHandlerOptions(connect.WithReadMaxBytes(s.opts.MaxRequestBytes), noGzip)
	mux.Handle(strmlocalv1connect.NewEventServiceHandler(&eventService{s: s}, open))
	mux.Handle(strmlocalv1connect.NewEgressServiceHandler(&egressService{s: s}, open))
	mux.Handle(strmlocalv1connect.NewKeyServiceHandler(&keyService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewClockServiceHandler(&clockService{s: s}, admin))
	mux.Handle(strmlocalv1connect.NewServerServiceHandler(&serverService{s: s}))
	reflector := grpcreflect.NewStaticReflector(
		strmlocalv1connect.StreamServiceName,
		strmlocalv1connect.SchemaServiceName,
		strmlocalv1connect.EventContractServiceName,
		strmlocalv1connect.EventServiceName,
		strmlocalv1connect.EgressServiceName,
		strmlocalv1connect.KeyServiceName,
		strmlocalv1connect.ClockServiceName,
		strmlocalv1connect.ServerServiceName,
	)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.HandleFunc("POST /event", s.eventHandler)
	mux.HandleFunc("POST "+TokenPath, s.tokenHandler)
	mux.HandleFunc("GET /ws", s.wsHandler)
	mux.HandleFunc("GET /ready", healthHandler)
	mux.HandleFunc("GET /is-alive", healthHandler)
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

// Close stops serving — open streams are ended, requests in flight are
// given a few seconds — then closes the log and the store.
// Closing again returns the first Close's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.http.Shutdown(ctx)
		s.wsConns.Wait()
		<-s.sweepDone
		s.closeErr = errors.Join(err, s.closeStorage())
	})
	return s.closeErr
}

// registerCatalogue registers the parts of the built-in catalogue that are
// not registered yet. What cannot be registered (a ref the user took for
// something else) is logged and skipped: it must not stop the server.
func (s *Server) registerCatalogue() {
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		// The catalogue is embedded and tested; this is a build defect.
		panic(err)
	}
	added, err := s.reg.RegisterCatalogue(schemas, contracts)
	if len(added) > 0 {
		s.opts.Logger.Debug("registered the built-in catalogue", "refs", added)
	}
	if err != nil {
		s.opts.Logger.Warn("built-in catalogue only partly registered", "error", err)
	}
}

func (s *Server) closeStorage() error {
	var errs []error
	if s.keys != nil {
		errs = append(errs, s.keys.Close())
	}
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	return errors.Join(append(errs, s.store.Close())...)
}

// Registry is the server's schema and contract registry, for embedding
// programs and tests.
func (s *Server) Registry() *catalog.Registry { return s.reg }
