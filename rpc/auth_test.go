package rpc_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// authorization sends an Authorization header exactly as given.
type authorization string

func (a authorization) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", string(a))
		return next(ctx, req)
	}
}

func (a authorization) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", string(a))
		return conn
	}
}

func (a authorization) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

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
