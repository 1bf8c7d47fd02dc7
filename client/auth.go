package client

import (
	"context"
	"encoding/base64"

	"connectrpc.com/connect"
)

// BasicAuth sends a stream's client id and secret as HTTP Basic
// authorization on every call, unary and streaming, as EventService and
// EgressService require.
func BasicAuth(clientID, secret string) connect.Interceptor {
	return authHeader("Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+":"+secret)))
}

// BearerAuth sends a bearer token (the admin token, or an access token from
// TokenPath) on every call, unary and streaming.
func BearerAuth(token string) connect.Interceptor { return authHeader("Bearer " + token) }

// Authorization sends an Authorization header of exactly this value on
// every call, unary and streaming (another scheme, or an odd spelling of
// one in a test).
func Authorization(value string) connect.Interceptor { return authHeader(value) }

// authHeader is the value of the Authorization header. It is never shown or
// logged.
type authHeader string

func (h authHeader) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", string(h))
		return next(ctx, req)
	}
}

func (h authHeader) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", string(h))
		return conn
	}
}

func (h authHeader) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
