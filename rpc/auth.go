package rpc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
)

// adminGuard requires "Authorization: Bearer <token>" on the management
// RPCs, ServerService and reflection when the server has an admin token.
// Without one (loopback only, see Server.Start) they are open, as befits a
// laptop sandbox. It is a request gate: a request without the token is
// refused on its headers, before its body is read or inflated.
type adminGuard struct{ token string }

func (g adminGuard) check(h interface{ Get(string) string }) error {
	if g.token == "" {
		return nil
	}
	scheme, got := splitAuth(h.Get("Authorization"))
	if scheme != "bearer" || subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errAdminToken)
	}
	return nil
}

// gate is the guard as a connect.RequestGateFunc.
func (g adminGuard) gate(ctx context.Context, _ connect.Spec, _ connect.Peer, h http.Header) (context.Context, error) {
	return ctx, g.check(h)
}

var errAdminToken = &adminError{}

type adminError struct{}

func (*adminError) Error() string {
	return "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"
}

// streamGate refuses, on the headers, a call of EventService or
// EgressService without valid stream credentials (ValidateEvents needs
// none). The handlers check the credentials against the stream named in
// the message.
func (s *Server) streamGate(ctx context.Context, spec connect.Spec, _ connect.Peer, h http.Header) (context.Context, error) {
	if spec.Procedure == strmlocalv1connect.EventServiceValidateEventsProcedure {
		return ctx, nil
	}
	_, err := s.streamAuth(h, "")
	if err != nil && strings.HasPrefix(spec.Procedure, "/"+strmlocalv1connect.EventServiceName+"/") {
		// A send refused on its headers: its events were not read, so it
		// counts as one (metrics.go).
		s.metrics.refused("", reasonUnauthenticated, 1)
	}
	return ctx, err
}

// errPermission: credentials of one stream used on another.
var errPermission = errors.New("permission denied")

// streamAuth returns the stream whose credentials the request carries:
// HTTP Basic with the stream's client id and secret, or a bearer access
// token from the token endpoint (both surfaces share one notion of who may
// read or write a stream). name, when not empty, must be that stream.
func (s *Server) streamAuth(h http.Header, name string) (*catalog.Stream, error) {
	auth := h.Get("Authorization")
	var st *catalog.Stream
	if scheme, _ := splitAuth(auth); scheme == "bearer" {
		var err error
		if st, _, err = s.bearerStream(auth); err != nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, err)
		}
	} else {
		id, secret, ok := basicAuth(auth)
		if !ok {
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing stream credentials: send the stream's client id and secret as HTTP Basic authorization, or a bearer token from "+client.TokenPath))
		}
		var err error
		if st, err = s.cat.Authenticate(id, secret); err != nil {
			return nil, toConnect(err)
		}
	}
	if name != "" && name != st.Name {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: these credentials are for stream %q, not %q", errPermission, st.Name, name))
	}
	return st, nil
}

// splitAuth splits an Authorization header into its scheme, lower-cased
// (schemes are case-insensitive, RFC 7235: "bearer" is "Bearer"), and its
// credentials.
func splitAuth(header string) (scheme, credentials string) {
	scheme, credentials, _ = strings.Cut(strings.TrimSpace(header), " ")
	return strings.ToLower(scheme), strings.TrimLeft(credentials, " ")
}

// basicAuth reads HTTP Basic credentials, the scheme in any case.
func basicAuth(header string) (id, secret string, ok bool) {
	scheme, creds := splitAuth(header)
	if scheme != "basic" {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(creds)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}
