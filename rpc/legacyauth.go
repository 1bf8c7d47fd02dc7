package rpc

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/strmlocal/strmlocal/client"
)

// The token endpoints of the STRM drivers up to 2.x, which predate the
// OAuth2 one (docs/compat.md, "Legacy tokens"):
//
//   - POST /auth takes {"billingId", "clientId", "clientSecret"}; billingId is
//     accepted and ignored, as strmlocal has no billing accounts.
//   - POST /refresh takes the token the driver holds: the Node driver sends
//     back all of {"idToken", "refreshToken", "expiresAt"}, the Java and
//     Python drivers {"refreshToken"} alone. Only refreshToken is read.
//
// Both answer {"idToken", "refreshToken", "expiresAt"} (epoch seconds) and
// nothing else: the Python driver passes the keys to a constructor, which
// fails on any other. The idToken is an access token of the OAuth2 endpoint
// (same signing key, lifetimes and checks), so it works wherever a bearer
// token does. The paths are client.LegacyAuthPath and client.LegacyRefreshPath.

type legacyAuthRequest struct {
	BillingID    string `json:"billingId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

type legacyRefreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

type legacyToken struct {
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresAt    int64  `json:"expiresAt"`
}

// Why a legacy token request is refused; the messages go to the driver.
var (
	errLegacyNoCredentials = errors.New("missing clientId and clientSecret: send {\"billingId\": ..., \"clientId\": ..., \"clientSecret\": ...} with the stream's client id and secret")
	errLegacyCredentials   = errors.New("invalid clientId or clientSecret: no stream has these credentials")
	errLegacyNoRefresh     = errors.New("missing refreshToken: send the token " + client.LegacyAuthPath + " returned, {\"refreshToken\": ...}")
)

// readLegacyJSON reads a legacy token request's body, a JSON object, into
// v. It answers the request itself and returns false when it cannot.
func readLegacyJSON(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	if r.ContentLength > tokenBodyBytes {
		w.Header().Set("Connection", "close")
		legacyError(w, http.StatusRequestEntityTooLarge, "the body must be a JSON object "+shape+" of at most 64 KiB")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, tokenBodyBytes))
	switch {
	case errors.Is(err, errSlowBody):
		legacyError(w, http.StatusRequestTimeout, errSlowBody.Error())
		return false
	case err != nil:
		legacyError(w, http.StatusBadRequest, "the body must be a JSON object "+shape+" of at most 64 KiB")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		legacyError(w, http.StatusBadRequest, "the body must be a JSON object "+shape+": "+err.Error())
		return false
	}
	return true
}

// legacyAuthHandler serves POST /auth: client credentials for a token.
func (s *Server) legacyAuthHandler(w http.ResponseWriter, r *http.Request) {
	var req legacyAuthRequest
	if !readLegacyJSON(w, r, &req, `{"billingId", "clientId", "clientSecret"}`) {
		return
	}
	if req.ClientID == "" {
		legacyError(w, http.StatusUnauthorized, errLegacyNoCredentials.Error())
		return
	}
	st, err := s.cat.Authenticate(req.ClientID, req.ClientSecret)
	if err != nil {
		legacyError(w, http.StatusUnauthorized, errLegacyCredentials.Error())
		return
	}
	s.legacyIssue(w, st.ClientID)
}

// legacyRefreshHandler serves POST /refresh: a refresh token for a fresh
// token.
func (s *Server) legacyRefreshHandler(w http.ResponseWriter, r *http.Request) {
	var req legacyRefreshRequest
	if !readLegacyJSON(w, r, &req, `{"refreshToken"}`) {
		return
	}
	if req.RefreshToken == "" {
		legacyError(w, http.StatusBadRequest, errLegacyNoRefresh.Error())
		return
	}
	id, _, err := s.tokens.verify(req.RefreshToken, typRefresh)
	if err == nil {
		_, err = s.cat.ByClientID(id)
	}
	switch {
	case errors.Is(err, errTokenExpired):
		legacyError(w, http.StatusUnauthorized, "refresh token expired: log in again at "+client.LegacyAuthPath)
		return
	case err != nil:
		legacyError(w, http.StatusUnauthorized, "invalid refresh token: "+err.Error()+"; log in again at "+client.LegacyAuthPath)
		return
	}
	s.legacyIssue(w, id)
}

func (s *Server) legacyIssue(w http.ResponseWriter, clientID string) {
	t, err := s.tokens.issue(clientID)
	if err != nil {
		s.opts.Logger.Error("cannot sign a token", "error", err)
		legacyError(w, http.StatusInternalServerError, "cannot sign a token")
		return
	}
	writeJSON(w, http.StatusOK, legacyToken{IDToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: t.ExpiresAt})
}

// legacyError answers {"error": msg}, as POST /event answers a refused
// token.
func legacyError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
