package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
)

// Token types, the "typ" claim: an access token is only accepted where an
// access token is due, a refresh token only by the refresh grant.
const (
	typAccess  = "Bearer"
	typRefresh = "Refresh"
)

// tokenIssuer is the "iss" of every token the server signs.
const tokenIssuer = "strmlocal/auth/realms/streams"

// claims are the claims of strmlocal's tokens. ClientID is what the
// original gateway reads to pick the stream.
type claims struct {
	ClientID string `json:"clientId"`
	Type     string `json:"typ"`
	jwt.RegisteredClaims
}

// tokens issues and checks the HS256 JWTs of the compat surface. Their
// times follow Options.AuthClock (the wall clock by default), not the
// server clock: drivers schedule refreshes on their own wall clock, and
// advancing a virtual clock by a day must not log every producer out.
type tokens struct {
	key     []byte
	now     func() time.Time
	access  time.Duration
	refresh time.Duration
	issuer  string
	parser  *jwt.Parser

	// verified caches access tokens already checked, so the hot path of
	// POST /event does not parse and MAC the same token per request. It is
	// cleared when it grows past maxVerified.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	clientID string
	exp      time.Time
}

const maxVerified = 4096

func newTokens(key []byte, now func() time.Time, access, refresh time.Duration) *tokens {
	t := &tokens{
		key: key, now: now, access: access, refresh: refresh,
		issuer:   tokenIssuer,
		verified: make(map[string]verifiedToken),
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	)
	return t
}

// tokenResponse is the body of a successful token request: the fields the
// STRM drivers read (expires_at for the Node driver).
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	ExpiresAt        int64  `json:"expires_at"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	TokenType        string `json:"token_type"`
}

func (t *tokens) sign(clientID, typ string, now time.Time, life time.Duration) (string, error) {
	c := claims{ClientID: clientID, Type: typ, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   clientID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(life)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
}

// issue mints an access and a refresh token for a stream's client.
func (t *tokens) issue(clientID string) (*tokenResponse, error) {
	now := t.now().Truncate(time.Second)
	access, err := t.sign(clientID, typAccess, now, t.access)
	if err != nil {
		return nil, err
	}
	refresh, err := t.sign(clientID, typRefresh, now, t.refresh)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{
		AccessToken:      access,
		ExpiresIn:        int64(t.access / time.Second),
		ExpiresAt:        now.Add(t.access).Unix(),
		RefreshToken:     refresh,
		RefreshExpiresIn: int64(t.refresh / time.Second),
		TokenType:        typAccess,
	}, nil
}

// Why a token is refused; the messages go to the token's holder.
var (
	errTokenMissing = errors.New("missing bearer token: get one from " + client.TokenPath + " with the stream's client id and secret")
	errTokenExpired = errors.New("token expired: get a new one from " + client.TokenPath)
	errTokenInvalid = errors.New("invalid token: not signed by this strmlocal server")
	//lint:ignore ST1005 the original gateway's wording, which drivers may match
	errTokenNoClient = errors.New("Client ID is missing in the provided JWT")
	errTokenType     = errors.New("invalid token: a refresh token is not an access token")
	errTokenNoType   = errors.New("invalid token: it has no token type (typ): get an access token from " + client.TokenPath)
	errTokenNoExpiry = errors.New("invalid token: it has no expiry (exp)")
	errTokenIssuer   = errors.New(`invalid token: not issued by this strmlocal server (iss must be "` + tokenIssuer + `")`)
)

// verify checks a token of type typ and returns its client id and expiry.
func (t *tokens) verify(token, typ string) (string, time.Time, error) {
	if typ == typAccess {
		t.mu.Lock()
		v, ok := t.verified[token]
		t.mu.Unlock()
		if ok {
			if !t.now().Before(v.exp) {
				return "", time.Time{}, errTokenExpired
			}
			return v.clientID, v.exp, nil
		}
	}
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil })
	if err != nil {
		return "", time.Time{}, claimsError(err, &c)
	}
	switch {
	case c.ClientID == "":
		return "", time.Time{}, errTokenNoClient
	case c.Type != typ:
		return "", time.Time{}, typeError(c.Type, typ)
	}
	exp := c.ExpiresAt.Time
	if typ == typAccess {
		t.mu.Lock()
		if len(t.verified) >= maxVerified {
			clear(t.verified)
		}
		t.verified[token] = verifiedToken{clientID: c.ClientID, exp: exp}
		t.mu.Unlock()
	}
	return c.ClientID, exp, nil
}

// claimsError says what is wrong with a token the parser refused. The
// signature is checked before any claim, so a token that is not the
// server's never gets as far as its claims.
func claimsError(err error, c *claims) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errTokenInvalid
	case errors.Is(err, jwt.ErrTokenExpired):
		return errTokenExpired
	case c.ExpiresAt == nil:
		return errTokenNoExpiry
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), c.Issuer != tokenIssuer:
		return errTokenIssuer
	case errors.Is(err, jwt.ErrTokenNotValidYet) && c.NotBefore != nil:
		return fmt.Errorf("invalid token: not valid before %s (nbf)", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("invalid token: %w", err)
}

// typeError refuses a token whose "typ" is not the one wanted.
func typeError(got, want string) error {
	if want == typRefresh {
		switch got {
		case "":
			return errors.New("invalid refresh token: it has no token type (typ)")
		case typAccess:
			return errors.New("invalid refresh token: an access token is not a refresh token")
		}
		return errors.New("invalid refresh token: its type (typ) is not " + typRefresh)
	}
	switch got {
	case "":
		return errTokenNoType
	case typRefresh:
		return errTokenType
	}
	return errors.New("invalid token: its type (typ) is not " + typAccess + ", the type of access tokens")
}

// bearerStream returns the stream an access token in an Authorization
// header belongs to, and when the token expires.
func (s *Server) bearerStream(header string) (*catalog.Stream, time.Time, error) {
	scheme, token := splitAuth(header)
	if scheme != "bearer" || token == "" {
		return nil, time.Time{}, errTokenMissing
	}
	id, exp, err := s.tokens.verify(token, typAccess)
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := s.cat.ByClientID(id)
	if err != nil {
		return nil, time.Time{}, err
	}
	return st, exp, nil
}

// tokenBodyBytes caps a token request's body: a form of a few fields.
const tokenBodyBytes = 64 << 10

// tokenHandler serves the OAuth2 token endpoint: the client_credentials
// and refresh_token grants, credentials in the form or as HTTP Basic.
// Errors use the OAuth2 error body ({"error", "error_description"}).
func (s *Server) tokenHandler(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > tokenBodyBytes {
		// Refused before anything is read.
		w.Header().Set("Connection", "close")
		oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body must be a form (application/x-www-form-urlencoded) of at most 64 KiB")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, tokenBodyBytes)
	if err := r.ParseForm(); err != nil {
		if errors.Is(err, errSlowBody) {
			oauthError(w, http.StatusRequestTimeout, "invalid_request", errSlowBody.Error())
			return
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be a form (application/x-www-form-urlencoded) of at most 64 KiB")
		return
	}
	id, secret, basic := basicAuth(r.Header.Get("Authorization"))
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	var clientID string
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "client_credentials":
		if id == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "missing client_id and client_secret: send them in the form or as HTTP Basic authorization")
			return
		}
		st, err := s.cat.Authenticate(id, secret)
		if err != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")
			return
		}
		clientID = st.ClientID
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Missing parameter: refresh_token")
			return
		}
		got, _, err := s.tokens.verify(rt, typRefresh)
		if err == nil {
			_, err = s.cat.ByClientID(got)
		}
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token: "+err.Error())
			return
		}
		// Drivers send their client credentials along; when they do, they
		// must be the token's.
		if id != "" {
			if st, err := s.cat.Authenticate(id, secret); err != nil || st.ClientID != got {
				oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")
				return
			}
		}
		clientID = got
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Unsupported grant_type %q: use client_credentials or refresh_token", grant))
		return
	}
	resp, err := s.tokens.issue(clientID)
	if err != nil {
		s.opts.Logger.Error("cannot sign a token", "error", err)
		oauthError(w, http.StatusInternalServerError, "server_error", "cannot sign a token")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
