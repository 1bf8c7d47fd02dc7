//lint:file-ignore SA1019 x/net's HTTP/2 transport is the one that sends :scheme https over h2c, as the Node and Java drivers do

package rpc_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

// The compat surface is tested as the STRM drivers use it: raw HTTP/1.1,
// h2c with prior knowledge and ":scheme: https" (the Node driver), form
// posts to the token endpoint, Avro bodies encoded here, not by strmlocal.

// authAt is an auth clock that tests move by hand.
type authAt struct{ t time.Time }

func (a *authAt) now() time.Time { return a.t }

func withAuthClock(a *authAt) strmtest.Option {
	return func(o *rpc.Options) { o.AuthClock = clockFunc(a.now) }
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// clients are the two transports of the drivers: HTTP/1.1 (Python, curl)
// and h2c with prior knowledge sending :scheme https (Node, Java).
func clients(t *testing.T) map[string]struct {
	c      *http.Client
	scheme string
} {
	h1 := &http.Client{}
	// x/net's HTTP/2 transport is the one that sends :scheme https over a
	// cleartext connection, as those drivers do; net/http's sends http.
	h2c := &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	t.Cleanup(func() { h1.CloseIdleConnections(); h2c.CloseIdleConnections() })
	return map[string]struct {
		c      *http.Client
		scheme string
	}{"HTTP/1.1": {h1, "http"}, "HTTP/2.0": {h2c, "https"}}
}

type tokenReply struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	ExpiresAt        int64  `json:"expires_at"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, basic ...string) (int, string, tokenReply) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var tr tokenReply
	if res.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(body, &tr); err != nil {
			t.Fatalf("token reply %q: %v", body, err)
		}
	}
	return res.StatusCode, res.Header.Get("Content-Type"), tr
}

// jwtClaims decodes a JWT's payload without checking it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenEndpoint(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at))
	st := sb.CreateStream("demo")
	id, secret := st.Credentials.ClientId, st.Credentials.ClientSecret
	u := sb.URL + client.TokenPath
	for name, tr := range clients(t) {
		t.Run(name, func(t *testing.T) {
			u := strings.Replace(u, "http:", tr.scheme+":", 1)
			status, ctype, got := postForm(t, tr.c, u, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
			if status != 200 || ctype != "application/json" || got.TokenType != "Bearer" || got.ExpiresIn != 3600 ||
				got.ExpiresAt != t0.Add(time.Hour).Unix() || got.RefreshExpiresIn != 24*3600 {
				t.Fatalf("client_credentials: %d %s %+v", status, ctype, got)
			}
			claims := jwtClaims(t, got.AccessToken)
			if claims["clientId"] != id || claims["exp"] != float64(t0.Add(time.Hour).Unix()) || claims["typ"] != "Bearer" {
				t.Errorf("access token claims: %v", claims)
			}

			// HTTP Basic, as in the docs' curl example.
			status, _, basic := postForm(t, tr.c, u, url.Values{"grant_type": {"client_credentials"}}, id, secret)
			if status != 200 || jwtClaims(t, basic.AccessToken)["clientId"] != id {
				t.Errorf("basic: %d %+v", status, basic)
			}

			// The refresh grant, with and without the client's credentials.
			for _, form := range []url.Values{
				{"grant_type": {"refresh_token"}, "refresh_token": {got.RefreshToken}},
				{"grant_type": {"refresh_token"}, "refresh_token": {got.RefreshToken}, "client_id": {id}, "client_secret": {secret}},
			} {
				status, _, ref := postForm(t, tr.c, u, form)
				if status != 200 || jwtClaims(t, ref.AccessToken)["clientId"] != id || ref.RefreshToken == "" {
					t.Errorf("refresh %v: %d %+v", form, status, ref)
				}
			}
		})
	}

	other := sb.CreateStream("other").Credentials
	expired := func() string {
		at.t = t0.Add(-25 * time.Hour)
		defer func() { at.t = t0 }()
		_, _, tr := postForm(t, http.DefaultClient, u, url.Values{"grant_type": {"client_credentials"}}, id, secret)
		return tr.RefreshToken
	}()
	_, _, fresh := postForm(t, http.DefaultClient, u, url.Values{"grant_type": {"client_credentials"}}, id, secret)
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		err    string
		desc   string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"nope"}}, nil,
			401, "invalid_client", "Invalid client or Invalid client credentials"},
		{"wrong basic", url.Values{"grant_type": {"client_credentials"}}, []string{id, "nope"},
			401, "invalid_client", "Invalid client or Invalid client credentials"},
		{"no credentials", url.Values{"grant_type": {"client_credentials"}}, nil,
			401, "invalid_client", "missing client_id and client_secret: send them in the form or as HTTP Basic authorization"},
		{"no grant", url.Values{"client_id": {id}}, nil,
			400, "invalid_request", "Missing form parameter: grant_type"},
		{"password grant", url.Values{"grant_type": {"password"}}, nil,
			400, "unsupported_grant_type", `Unsupported grant_type "password": use client_credentials or refresh_token`},
		{"no refresh token", url.Values{"grant_type": {"refresh_token"}}, nil,
			400, "invalid_request", "Missing parameter: refresh_token"},
		{"access token as refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.AccessToken}}, nil,
			400, "invalid_grant", "Invalid refresh token: invalid refresh token: an access token is not a refresh token"},
		{"expired refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {expired}}, nil,
			400, "invalid_grant", "Invalid refresh token: token expired: get a new one from " + client.TokenPath},
		{"garbage refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y.z"}}, nil,
			400, "invalid_grant", "Invalid refresh token: invalid token: not signed by this strmlocal server"},
		{"another client's refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}}, []string{other.ClientId, other.ClientSecret},
			401, "invalid_client", "Invalid client or Invalid client credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, got := postForm(t, http.DefaultClient, u, tc.form, tc.basic...)
			if status != tc.status || ctype != "application/json" || got.Error != tc.err || got.ErrorDescription != tc.desc || got.AccessToken != "" {
				t.Errorf("got %d %s %+v\nwant %d %s %q", status, ctype, got, tc.status, tc.err, tc.desc)
			}
		})
	}
}

// avroDemo encodes a demo/1.0.2 event as a bare Avro binary datum, by the
// Avro spec (zig-zag varints, length-prefixed strings, union branch
// indexes, blocked arrays), independently of strmlocal's codec.
func avroDemo(contractRef string, consent []int64, unique, consistent, sensitive, notSensitive *string) []byte {
	var b []byte
	long := func(v int64) { b = binary.AppendVarint(b, v) }
	str := func(s string) { long(int64(len(s))); b = append(b, s...) }
	optStr := func(s *string) {
		if s == nil {
			long(0)
			return
		}
		long(1)
		str(*s)
	}
	str(contractRef)
	long(0) // nonce: null
	long(0) // timestamp: null
	long(0) // keyLink: null
	long(0) // billingId: null
	if len(consent) > 0 {
		long(int64(len(consent)))
		for _, c := range consent {
			long(c)
		}
	}
	long(0) // end of the consentLevels array
	optStr(unique)
	str(*consistent)
	optStr(sensitive)
	optStr(notSensitive)
	return b
}

func ptr(s string) *string { return &s }

type httpReply struct {
	status int
	ctype  string
	body   string
}

func postEvent(t *testing.T, c *http.Client, u string, header map[string]string, body []byte) httpReply {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return httpReply{res.StatusCode, res.Header.Get("Content-Type"), string(b)}
}

// forgedToken is a well-formed HS256 JWT with the right claims, signed
// with a key that is not the server's.
func forgedToken(clientID string, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"clientId": clientID, "typ": "Bearer", "iss": "strmlocal/auth/realms/streams", "exp": exp.Unix()})
	msg := head + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte("some other key"))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestPostEvent(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at), strmtest.WithMaxEventBytes(2048))
	demoStream := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	token := demoStream.Token()
	at.t = t0.Add(-2 * time.Hour)
	expired := demoStream.Token()
	at.t = t0
	derivedToken := derived.Token()

	valid := []byte(demo("session-1", 2))
	avro := avroDemo("streammachine/example/1.3.0", []int64{2}, ptr("unique-a"), ptr("session-a"), ptr("sensitive-a"), nil)
	hdr := func(kv ...string) map[string]string {
		m := map[string]string{"Authorization": "Bearer " + token, "Strm-Schema-Ref": demoSchema}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	const plain, js = "text/plain; charset=utf-8", "application/json"
	accepted := 0
	for name, tr := range clients(t) {
		u := strings.Replace(sb.URL, "http:", tr.scheme+":", 1) + "/event"
		for _, tc := range []struct {
			name   string
			header map[string]string
			body   []byte
			want   httpReply
		}{
			{"JSON", hdr("Strm-Serialization-Type", "application/json"), valid, httpReply{204, "", ""}},
			{"Avro binary", hdr("Strm-Serialization-Type", "application/x-avro-binary", "Content-Type", "application/octet-stream"), avro, httpReply{204, "", ""}},
			{"Avro binary by default", hdr("Strm-Driver-Version", "3.0.0", "Strm-Driver-Build", "x"), avro, httpReply{204, "", ""}},
			{"legacy schema id, a ref", hdr("Strm-Schema-Ref", "", "Strm-Schema-Id", demoSchema), avro, httpReply{204, "", ""}},
			{"legacy schema id, a name", hdr("Strm-Schema-Ref", "", "Strm-Schema-Id", "demo"), avro, httpReply{204, "", ""}},
			{"regex", hdr("Strm-Serialization-Type", "application/json"), []byte(strings.Replace(string(valid), `"consistentValue": "session-1"`, `"consistentValue": ""`, 1)),
				httpReply{400, plain, "Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"}},
			{"not Avro", hdr(), []byte{0xff}, httpReply{400, plain, "event does not match schema 'streammachine/demo/1.0.2': field 'strmMeta/eventContractRef': unexpected end of data"}},
			{"not JSON", hdr("Strm-Serialization-Type", "application/json"), []byte("{"), httpReply{400, plain, "event does not match schema 'streammachine/demo/1.0.2': invalid JSON at byte 1: unexpected end of input, expected a property name in double quotes"}},
			{"no schema header", hdr("Strm-Schema-Ref", ""), avro, httpReply{400, plain, "missing header Strm-Schema-Ref: set it to the ref of the event's schema, handle/name/version"}},
			{"unknown schema", hdr("Strm-Schema-Ref", "acme/nope/1.0.0"), avro, httpReply{400, plain, "schema acme/nope/1.0.0 not found"}},
			{"unknown legacy id", hdr("Strm-Schema-Ref", "", "Strm-Schema-Id", "nps_unified_v1"), avro, httpReply{400, plain, "Strm-Schema-Id 'nps_unified_v1' names no active schema: send Strm-Schema-Ref: handle/name/version"}},
			{"bad serialization", hdr("Strm-Serialization-Type", "application/xml"), avro, httpReply{400, plain, "unsupported Strm-Serialization-Type 'application/xml': use application/x-avro-binary or application/json"}},
			{"too large", hdr("Strm-Serialization-Type", "application/json"), bytes.Repeat([]byte(" "), 2049), httpReply{413, plain, "event is larger than the limit of 2048 bytes (serve --max-event-size)"}},
			{"no token", hdr("Authorization", ""), avro, httpReply{401, js, `{"error":"missing bearer token: get one from /auth/realms/streams/protocol/openid-connect/token with the stream's client id and secret"}` + "\n"}},
			{"basic auth", hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:b"))), avro, httpReply{401, js, `{"error":"missing bearer token: get one from /auth/realms/streams/protocol/openid-connect/token with the stream's client id and secret"}` + "\n"}},
			{"expired token", hdr("Authorization", "Bearer "+expired), avro, httpReply{401, js, `{"error":"token expired: get a new one from /auth/realms/streams/protocol/openid-connect/token"}` + "\n"}},
			{"forged token", hdr("Authorization", "Bearer "+forgedToken(demoStream.Credentials.ClientId, t0.Add(time.Hour))), avro, httpReply{401, js, `{"error":"invalid token: not signed by this strmlocal server"}` + "\n"}},
			{"garbage token", hdr("Authorization", "Bearer abc"), avro, httpReply{401, js, `{"error":"invalid token: not signed by this strmlocal server"}` + "\n"}},
			{"derived stream's token", hdr("Authorization", "Bearer "+derivedToken), avro, httpReply{403, plain, "stream 'demo-2' is derived from 'demo' and accepts no events: use the credentials of 'demo'"}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				got := postEvent(t, tr.c, u, tc.header, tc.body)
				if got != tc.want {
					t.Errorf("got  %+v\nwant %+v", got, tc.want)
				}
				if got.status == 204 {
					accepted++
				}
			})
		}
	}

	// Exactly the accepted events were appended, encrypted.
	recs := demoStream.Read()
	if len(recs) != accepted || accepted != 10 {
		t.Fatalf("%d records for %d accepted events", len(recs), accepted)
	}
	for _, r := range recs {
		f := fields(t, r.Json)
		if !isCiphertext(f["consistentValue"]) || !isCiphertext(f["uniqueIdentifier"]) {
			t.Errorf("offset %d not encrypted: %s", r.Offset, r.Json)
		}
	}
	// The derived stream decrypts the Avro event as the JSON one.
	got := derived.Read()
	if f := fields(t, got[1].Json); f["consistentValue"] != "session-a" || f["uniqueIdentifier"] != "unique-a" || !isCiphertext(f["someSensitiveValue"]) {
		t.Errorf("derived view of the Avro event: %s", got[1].Json)
	}

	// A deleted stream's token no longer works.
	if _, err := sb.Streams.DeleteStream(context.Background(), connectReq(&v1.DeleteStreamRequest{Name: "demo", Recursive: true})); err != nil {
		t.Fatal(err)
	}
	got401 := postEvent(t, http.DefaultClient, sb.URL+"/event", hdr(), avro)
	if want := (httpReply{401, js, `{"error":"no stream has client id \"` + demoStream.Credentials.ClientId + `\" (deleted?): get new credentials"}` + "\n"}); got401 != want {
		t.Errorf("deleted stream: got %+v, want %+v", got401, want)
	}
}

// The Connect API takes the same bearer tokens as POST /event.
func TestBearerTokenOnConnectAPI(t *testing.T) {
	sb := strmtest.New(t)
	st := sb.CreateStream("demo")
	other := sb.CreateStream("other")
	events := strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(bearerAuth(st.Token())))
	res, err := events.SendEvents(context.Background(), connectReq(&v1.SendEventsRequest{Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(demo("s", 1))}}))
	if err != nil || !res.Msg.Results[0].Accepted {
		t.Fatalf("send with a bearer token: %v %v", res, err)
	}
	_, err = events.SendEvents(context.Background(), connectReq(&v1.SendEventsRequest{Stream: "other", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(demo("s", 1))}}))
	assertError(t, err, 7, `permission denied: these credentials are for stream "demo", not "other"`)
	_ = other
	events = strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(bearerAuth("nonsense")))
	_, err = events.SendEvents(context.Background(), connectReq(&v1.SendEventsRequest{Stream: "demo", SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: [][]byte{[]byte(demo("s", 1))}}))
	assertError(t, err, 16, "invalid token: not signed by this strmlocal server")
}

func connectReq[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }

func bearerAuth(token string) connect.Interceptor { return strmtest.BearerAuth(token) }
