package rpc_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// authorization sends an Authorization header exactly as given.
func authorization(value string) connect.Interceptor { return client.Authorization(value) }

// Authorization schemes are case-insensitive (RFC 7235): "bearer" and
// "basic" work wherever "Bearer" and "Basic" do.
func TestAuthSchemeIsCaseInsensitive(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t, strmtest.WithAdminToken("s3cret"))
	st := sb.CreateStream("demo")
	id, secret := st.Credentials.ClientId, st.Credentials.ClientSecret
	basic := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
	token := st.Token()

	for _, scheme := range []string{"bearer", "BEARER", "bEaReR"} {
		got := postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
			"Authorization": scheme + " " + token, "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json",
		}, []byte(demo("s", 1)))
		if got != (httpReply{204, "", ""}) {
			t.Errorf("POST /event with %q: %+v", scheme, got)
		}
	}
	for _, auth := range []string{"bearer " + token, "BEARER " + token, "basic " + basic, "BASIC " + basic, "Basic  " + basic} {
		events := strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(authorization(auth)))
		res, err := events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
			Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(demo("s", 1))},
		}))
		if err != nil {
			t.Errorf("SendEvents with %.6s…: %v", auth, err)
			continue
		}
		mustAccept(t, res.Msg.Results)
	}
	for _, auth := range []string{"bearer s3cret", "BEARER s3cret"} {
		streams := strmlocalv1connect.NewStreamServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(authorization(auth)))
		if _, err := streams.ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{})); err != nil {
			t.Errorf("ListStreams with %q: %v", auth, err)
		}
	}
	req, _ := http.NewRequest("POST", sb.URL+client.TokenPath, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "basic "+basic)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("token endpoint with basic: %d", res.StatusCode)
	}
}

// On a server with an admin token, ServerService (which tells the data
// dir) and reflection need the token like every management RPC; the
// health endpoints stay open.
func TestServerInfoAndReflectionNeedTheAdminToken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sb := strmtest.New(t, strmtest.WithAdminToken("s3cret"), strmtest.WithDataDir(dir))
	const msg = "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"
	for _, auth := range []string{"", "Bearer wrong"} {
		opts := []connect.ClientOption{}
		if auth != "" {
			opts = append(opts, connect.WithInterceptors(authorization(auth)))
		}
		info := strmlocalv1connect.NewServerServiceClient(sb.HTTPClient, sb.URL, opts...)
		_, err := info.GetServerInfo(ctx, connect.NewRequest(&v1.GetServerInfoRequest{}))
		assertError(t, err, connect.CodeUnauthenticated, msg)

		stream := grpcreflect.NewClient(sb.HTTPClient, sb.URL, opts...).NewStream(ctx)
		_, err = stream.ListServices()
		stream.Close()
		assertError(t, err, connect.CodeUnauthenticated, msg)
	}
	// The sandbox's clients send the token.
	res, err := sb.ServerInfo.GetServerInfo(ctx, connect.NewRequest(&v1.GetServerInfoRequest{}))
	if err != nil || res.Msg.DataDir != dir {
		t.Fatalf("GetServerInfo with the token: %v, %v", res, err)
	}
	stream := grpcreflect.NewClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(authorization("Bearer s3cret"))).NewStream(ctx)
	defer stream.Close()
	if names, err := stream.ListServices(); err != nil || len(names) != 11 {
		t.Fatalf("reflection with the token: %v, %v", names, err)
	}
	for _, path := range []string{"/ready", "/is-alive"} {
		res, err := http.Get(sb.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
}
