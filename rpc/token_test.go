package rpc_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strmlocal/strmlocal/strmtest"
)

// Tokens signed with the server's own key but wrong in one claim are each
// refused with what is wrong, not with "not signed by this server".
func TestTokenErrorsSayWhatIsWrong(t *testing.T) {
	at := &authAt{t0}
	sb := strmtest.New(t, withAuthClock(at))
	st := sb.CreateStream("demo")
	key := sb.Server.App().DeriveSecret("access tokens")
	id := st.Credentials.ClientId
	sign := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const iss = "strmlocal/auth/realms/streams"
	exp := t0.Add(time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   string
	}{
		{"no exp", jwt.MapClaims{"clientId": id, "typ": "Bearer", "iss": iss},
			`{"error":"invalid token: it has no expiry (exp)"}`},
		{"wrong issuer", jwt.MapClaims{"clientId": id, "typ": "Bearer", "iss": "keycloak", "exp": exp},
			`{"error":"invalid token: not issued by this strmlocal server (iss must be \"strmlocal/auth/realms/streams\")"}`},
		{"no issuer", jwt.MapClaims{"clientId": id, "typ": "Bearer", "exp": exp},
			`{"error":"invalid token: not issued by this strmlocal server (iss must be \"strmlocal/auth/realms/streams\")"}`},
		{"future nbf", jwt.MapClaims{"clientId": id, "typ": "Bearer", "iss": iss, "exp": exp, "nbf": t0.Add(time.Minute).Unix()},
			`{"error":"invalid token: not valid before 2026-11-22T12:01:00Z (nbf)"}`},
		{"no typ", jwt.MapClaims{"clientId": id, "iss": iss, "exp": exp},
			`{"error":"invalid token: it has no token type (typ): get an access token from /auth/realms/streams/protocol/openid-connect/token"}`},
		{"other typ", jwt.MapClaims{"clientId": id, "typ": "ID", "iss": iss, "exp": exp},
			`{"error":"invalid token: its type (typ) is not Bearer, the type of access tokens"}`},
		{"refresh token", jwt.MapClaims{"clientId": id, "typ": "Refresh", "iss": iss, "exp": exp},
			`{"error":"invalid token: a refresh token is not an access token"}`},
		{"no client id", jwt.MapClaims{"typ": "Bearer", "iss": iss, "exp": exp},
			`{"error":"Client ID is missing in the provided JWT"}`},
		{"expired", jwt.MapClaims{"clientId": id, "typ": "Bearer", "iss": iss, "exp": t0.Add(-time.Second).Unix()},
			`{"error":"token expired: get a new one from /auth/realms/streams/protocol/openid-connect/token"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := postEvent(t, http.DefaultClient, sb.URL+"/event", map[string]string{
				"Authorization": "Bearer " + sign(tc.claims), "Strm-Schema-Ref": demoSchema,
			}, []byte("{}"))
			if want := (httpReply{401, "application/json", tc.want + "\n"}); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}
