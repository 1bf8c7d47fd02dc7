package rpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"github.com/google/uuid"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func fixedClock() func() time.Time { return func() time.Time { return t0 } }

// protocols are the three wire protocols every RPC must work over.
var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
}

func TestStreamServiceOverEveryProtocol(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			sb := strmtest.New(t, strmtest.WithClock(fixedClock()))
			c := strmlocalv1connect.NewStreamServiceClient(sb.HTTPClient, sb.URL, p.opts...)

			created, err := c.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo", Description: "d", Tags: []string{"a", "b"}}))
			if err != nil {
				t.Fatal(err)
			}
			st := created.Msg.Stream
			if st.Name != "demo" || st.Description != "d" || !slices.Equal(st.Tags, []string{"a", "b"}) || !st.CreateTime.AsTime().Equal(t0) {
				t.Fatalf("created %v", st)
			}
			if len(st.Credentials.ClientId) != 36 || len(st.Credentials.ClientSecret) != 52 {
				t.Fatalf("credentials %q / %d-char secret", st.Credentials.ClientId, len(st.Credentials.ClientSecret))
			}
			if _, err := c.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "clicks"})); err != nil {
				t.Fatal(err)
			}

			got, err := c.GetStream(ctx, connect.NewRequest(&v1.GetStreamRequest{Name: "demo"}))
			if err != nil {
				t.Fatal(err)
			}
			if got.Msg.Stream.Credentials.ClientId != st.Credentials.ClientId || got.Msg.Stream.Credentials.ClientSecret != "" {
				t.Fatalf("get returned credentials %v", got.Msg.Stream.Credentials)
			}
			list, err := c.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range list.Msg.Streams {
				names = append(names, s.Name)
				if s.Credentials.ClientSecret != "" {
					t.Fatalf("list returned the secret of %s", s.Name)
				}
			}
			if !slices.Equal(names, []string{"clicks", "demo"}) {
				t.Fatalf("list = %v", names)
			}
			if _, err := c.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "demo"})); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetStream(ctx, connect.NewRequest(&v1.GetStreamRequest{Name: "demo"}))
			assertError(t, err, connect.CodeNotFound, `stream "demo" not found`)
		})
	}
}

func assertError(t *testing.T, err error, code connect.Code, msg string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("error %v: code %v, want %v", err, connect.CodeOf(err), code)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Message() != msg {
		t.Fatalf("message %q, want %q", ce.Message(), msg)
	}
}

func TestStreamServiceErrors(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	if _, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo"})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"duplicate", func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo"}))
			return err
		}, connect.CodeAlreadyExists, `stream "demo" already exists`},
		{"empty name", func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{}))
			return err
		}, connect.CodeInvalidArgument, `invalid stream name "": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"bad character", func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "a/b"}))
			return err
		}, connect.CodeInvalidArgument, `invalid stream name "a/b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"too long", func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: strings.Repeat("x", 101)}))
			return err
		}, connect.CodeInvalidArgument, `invalid stream name "` + strings.Repeat("x", 101) + `": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"bad tag", func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "t", Tags: []string{""}}))
			return err
		}, connect.CodeInvalidArgument, `invalid tag "": tags must be non-empty and hold no comma or newline`},
		{"get unknown", func() error {
			_, err := sb.Streams.GetStream(ctx, connect.NewRequest(&v1.GetStreamRequest{Name: "nope"}))
			return err
		}, connect.CodeNotFound, `stream "nope" not found`},
		{"delete unknown", func() error {
			_, err := sb.Streams.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "nope"}))
			return err
		}, connect.CodeNotFound, `stream "nope" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) { assertError(t, tc.call(), tc.code, tc.msg) })
	}
	// A 100-character name is fine.
	if _, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: strings.Repeat("x", 100)})); err != nil {
		t.Fatal(err)
	}
}

func TestStreamsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := rpc.New(rpc.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := srv.Start(lis); err != nil {
		t.Fatal(err)
	}
	hc := strmtest.NewHTTPClient()
	c := strmlocalv1connect.NewStreamServiceClient(hc, srv.URL())
	created, err := c.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gone", "kept"} {
		if _, err := c.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: n})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "gone"})); err != nil {
		t.Fatal(err)
	}
	// A second server on the same data dir is refused while the first runs.
	if _, err := rpc.New(rpc.Options{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "is locked by another running strmlocal server") {
		t.Fatalf("second server on the same dir: %v", err)
	}
	hc.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	list, err := sb.Streams.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Msg.Streams) != 2 || list.Msg.Streams[0].Name != "demo" || list.Msg.Streams[1].Name != "kept" {
		t.Fatalf("after restart: %v", list.Msg.Streams)
	}
	if list.Msg.Streams[0].Credentials.ClientId != created.Msg.Stream.Credentials.ClientId {
		t.Fatal("client id changed across restart")
	}
	// Names of deleted streams can be used again.
	if _, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "gone"})); err != nil {
		t.Fatal(err)
	}
}

func TestAdminToken(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t, strmtest.WithAdminToken("s3cret"))
	if _, err := sb.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: "demo"})); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, token := range []string{"", "wrong"} {
		c := strmlocalv1connect.NewStreamServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(connect.UnaryInterceptorFunc(
			func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					if token != "" {
						req.Header().Set("Authorization", "Bearer "+token)
					}
					return next(ctx, req)
				}
			})))
		_, err := c.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
		assertError(t, err, connect.CodeUnauthenticated, "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN")
	}
}

func TestListenAndStartOnAddr(t *testing.T) {
	srv, err := rpc.New(rpc.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.ListenAndStart(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.URL() + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()
	// The same address again cannot be had.
	other, err := rpc.New(rpc.Options{Addr: srv.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = other.ListenAndStart()
	want := "cannot listen on " + srv.Addr().String() + ": listen tcp " + srv.Addr().String() + ": bind: address already in use; is another server running there? pick another --addr"
	if err == nil || err.Error() != want {
		t.Fatalf("second ListenAndStart: %v", err)
	}
}

func TestNonLoopbackNeedsAdminToken(t *testing.T) {
	srv, err := rpc.New(rpc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	lis, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	err = srv.Start(lis)
	if !errors.Is(err, rpc.ErrNeedAdminToken) || !strings.HasSuffix(err.Error(), "is reachable from other machines; set an admin token (--admin-token or STRMLOCAL_ADMIN_TOKEN) or listen on 127.0.0.1") {
		t.Fatalf("Start on 0.0.0.0: %v", err)
	}
}

func TestHealthOverHTTP1AndH2C(t *testing.T) {
	sb := strmtest.New(t)
	for name, tr := range clients(t) {
		for _, path := range []string{"/ready", "/is-alive"} {
			res, err := tr.c.Get(strings.Replace(sb.URL, "http:", tr.scheme+":", 1) + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(body) != "ok\n" || res.Proto != name {
				t.Errorf("%s %s: %d %q over %s", name, path, res.StatusCode, body, res.Proto)
			}
		}
	}
}

func TestReflectionListsServices(t *testing.T) {
	sb := strmtest.New(t)
	stream := grpcreflect.NewClient(sb.HTTPClient, sb.URL).NewStream(context.Background())
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range names {
		got = append(got, string(n))
	}
	slices.Sort(got)
	want := []string{
		"strmlocal.v1.ClockService", "strmlocal.v1.ConnectorService", "strmlocal.v1.EgressService", "strmlocal.v1.EventContractService",
		"strmlocal.v1.EventService", "strmlocal.v1.JobService", "strmlocal.v1.KeyService", "strmlocal.v1.SandboxService", "strmlocal.v1.SchemaService",
		"strmlocal.v1.ServerService", "strmlocal.v1.StreamService",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
}

func TestServerInfo(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithClock(fixedClock()))
	res, err := sb.ServerInfo.GetServerInfo(context.Background(), connect.NewRequest(&v1.GetServerInfoRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.Version != "devel" || res.Msg.DataDir != "" || res.Msg.FormatVersion != 1 || !res.Msg.StartTime.AsTime().Equal(t0) {
		t.Fatalf("info = %v", res.Msg)
	}
	if id, err := uuid.Parse(res.Msg.ServerId); err != nil || id.Version() != 4 {
		t.Errorf("server id %q: %v", res.Msg.ServerId, err)
	}
	// The same for as long as the data dir lives.
	dir := t.TempDir()
	ids := map[string]bool{}
	for range 2 {
		sb := strmtest.New(t, strmtest.WithDataDir(dir))
		res, err := sb.ServerInfo.GetServerInfo(context.Background(), connect.NewRequest(&v1.GetServerInfoRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		ids[res.Msg.ServerId] = true
		if err := sb.Server.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 1 || ids[res.Msg.ServerId] {
		t.Errorf("server ids %v: want one for the data dir, not the in-memory server's", ids)
	}
}
