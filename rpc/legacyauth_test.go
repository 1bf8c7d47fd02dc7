package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/strmtest"
)

// postLegacy posts a JSON body as the 1.x and 2.x drivers do and returns
// the status and the body's keys and values.
func postLegacy(t *testing.T, u, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(u, "application/json; charset=UTF-8", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, body %q", u, ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %q: %v", u, b, err)
	}
	return res.StatusCode, m
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// The token endpoints of the drivers up to 2.x: POST /auth and POST
// /refresh, JSON in and out. The idToken is a bearer token like any other.
func TestLegacyAuth(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at))
	st := sb.CreateStream("demo")
	other := sb.CreateStream("other")
	id, secret := st.Credentials.ClientId, st.Credentials.ClientSecret
	login := func(billing, id, secret string) (int, map[string]any) {
		body, _ := json.Marshal(map[string]string{"billingId": billing, "clientId": id, "clientSecret": secret})
		return postLegacy(t, sb.URL+"/auth", string(body))
	}

	status, tok := login("any-billing-id", id, secret)
	if status != 200 || !slices.Equal(keysOf(tok), []string{"expiresAt", "idToken", "refreshToken"}) || tok["expiresAt"] != float64(t0.Add(time.Hour).Unix()) {
		t.Fatalf("login: %d %v", status, tok)
	}
	if c := jwtClaims(t, tok["idToken"].(string)); c["clientId"] != id || c["typ"] != "Bearer" {
		t.Errorf("idToken claims %v", c)
	}
	if c := jwtClaims(t, tok["refreshToken"].(string)); c["clientId"] != id || c["typ"] != "Refresh" || c["exp"] != float64(t0.Add(24*time.Hour).Unix()) {
		t.Errorf("refreshToken claims %v", c)
	}
	if status, _ := login("", id, secret); status != 200 {
		t.Errorf("login without billingId: %d", status)
	}

	// The idToken works as a bearer token: POST /event, the Connect API.
	idToken := tok["idToken"].(string)
	if got := postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
		"Authorization": "Bearer " + idToken, "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json",
	}, []byte(demo("s-1", 1))); got != (httpReply{204, "", ""}) {
		t.Errorf("POST /event with the idToken: %+v", got)
	}
	egress := strmlocalv1connect.NewEgressServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(bearerAuth(idToken)))
	res, err := egress.ReadEvents(context.Background(), connectReq(&v1.ReadEventsRequest{Stream: "demo"}))
	if err != nil || len(res.Msg.Records) != 1 {
		t.Errorf("ReadEvents with the idToken: %v %v", res, err)
	}

	// Refresh, as the Java and Python drivers send it and as the Node
	// driver does (the whole token back).
	at.t = t0.Add(50 * time.Minute)
	whole, _ := json.Marshal(tok)
	for name, body := range map[string]string{
		"refreshToken only": `{"refreshToken": "` + tok["refreshToken"].(string) + `"}`,
		"whole token":       string(whole),
	} {
		status, fresh := postLegacy(t, sb.URL+"/refresh", body)
		if status != 200 || !slices.Equal(keysOf(fresh), []string{"expiresAt", "idToken", "refreshToken"}) ||
			fresh["expiresAt"] != float64(at.t.Add(time.Hour).Unix()) || jwtClaims(t, fresh["idToken"].(string))["clientId"] != id {
			t.Errorf("refresh, %s: %d %v", name, status, fresh)
		}
	}

	at.t = t0.Add(-25 * time.Hour)
	_, old := login("", id, secret)
	at.t = t0
	_, otherTok := login("", other.Credentials.ClientId, other.Credentials.ClientSecret)
	for _, tc := range []struct {
		name, path, body string
		status           int
		err              string
	}{
		{"wrong secret", "/auth", `{"billingId": "b", "clientId": "` + id + `", "clientSecret": "nope"}`, 401,
			"invalid clientId or clientSecret: no stream has these credentials"},
		{"unknown client", "/auth", `{"clientId": "nope", "clientSecret": "nope"}`, 401,
			"invalid clientId or clientSecret: no stream has these credentials"},
		{"no credentials", "/auth", `{"billingId": "b"}`, 401,
			`missing clientId and clientSecret: send {"billingId": ..., "clientId": ..., "clientSecret": ...} with the stream's client id and secret`},
		{"not JSON", "/auth", `clientId=x`, 400,
			`the body must be a JSON object {"billingId", "clientId", "clientSecret"}: invalid character 'c' looking for beginning of value`},
		{"wrong type", "/auth", `{"clientId": 5}`, 400,
			`the body must be a JSON object {"billingId", "clientId", "clientSecret"}: json: cannot unmarshal number into Go struct field legacyAuthRequest.clientId of type string`},
		{"refresh not JSON", "/refresh", `{"refreshToken":`, 400,
			`the body must be a JSON object {"refreshToken"}: unexpected end of JSON input`},
		{"no refresh token", "/refresh", `{"idToken": "x"}`, 400,
			`missing refreshToken: send the token /auth returned, {"refreshToken": ...}`},
		{"expired refresh token", "/refresh", `{"refreshToken": "` + old["refreshToken"].(string) + `"}`, 401,
			"refresh token expired: log in again at /auth"},
		{"garbage refresh token", "/refresh", `{"refreshToken": "x.y.z"}`, 401,
			"invalid refresh token: invalid token: not signed by this strmlocal server; log in again at /auth"},
		{"idToken as refresh token", "/refresh", `{"refreshToken": "` + idToken + `"}`, 401,
			"invalid refresh token: invalid refresh token: an access token is not a refresh token; log in again at /auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got := postLegacy(t, sb.URL+tc.path, tc.body)
			if status != tc.status || !slices.Equal(keysOf(got), []string{"error"}) || got["error"] != tc.err {
				t.Errorf("got %d %v\nwant %d %q", status, got, tc.status, tc.err)
			}
		})
	}

	// Another stream's idToken is that stream's.
	if got := postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
		"Authorization": "Bearer " + otherTok["idToken"].(string), "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json",
	}, []byte(demo("s-2", 1))); got != (httpReply{204, "", ""}) {
		t.Errorf("POST /event with the other idToken: %+v", got)
	}
	if n, m := len(st.Read()), len(other.Read()); n != 1 || m != 1 {
		t.Errorf("records: demo %d, other %d; want 1 and 1", n, m)
	}
}
