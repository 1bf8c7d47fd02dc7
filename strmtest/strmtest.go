package strmtest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/rpc"
)

// Sandbox is a running strmlocal server and clients for it.
type Sandbox struct {
	Server *rpc.Server
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// HTTPClient speaks cleartext HTTP/2 (prior knowledge) to the server.
	HTTPClient *http.Client

	Streams        strmlocalv1connect.StreamServiceClient
	Schemas        strmlocalv1connect.SchemaServiceClient
	EventContracts strmlocalv1connect.EventContractServiceClient
	Events         strmlocalv1connect.EventServiceClient
	ServerInfo     strmlocalv1connect.ServerServiceClient
}

// Option adjusts the sandbox.
type Option func(*rpc.Options)

// WithClock sets the server's clock.
func WithClock(now func() time.Time) Option { return func(o *rpc.Options) { o.Now = now } }

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

// WithLogger sends the server's log to l.
func WithLogger(l *slog.Logger) Option { return func(o *rpc.Options) { o.Logger = l } }

// New starts a sandbox and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts ...Option) *Sandbox {
	t.Helper()
	var o rpc.Options
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
	var copts []connect.ClientOption
	if o.AdminToken != "" {
		copts = append(copts, connect.WithInterceptors(bearer(o.AdminToken)))
	}
	return &Sandbox{
		Server:         srv,
		URL:            srv.URL(),
		HTTPClient:     hc,
		Streams:        strmlocalv1connect.NewStreamServiceClient(hc, srv.URL(), copts...),
		Schemas:        strmlocalv1connect.NewSchemaServiceClient(hc, srv.URL(), copts...),
		EventContracts: strmlocalv1connect.NewEventContractServiceClient(hc, srv.URL(), copts...),
		Events:         strmlocalv1connect.NewEventServiceClient(hc, srv.URL(), copts...),
		ServerInfo:     strmlocalv1connect.NewServerServiceClient(hc, srv.URL(), copts...),
	}
}

// NewHTTPClient returns a client that speaks cleartext HTTP/2 with prior
// knowledge, which all three protocols (Connect, gRPC, gRPC-Web) work over.
func NewHTTPClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

// bearer adds an Authorization header to every request.
func bearer(token string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
}
