package rpc

import (
	"context"
	"crypto/subtle"
	"strings"

	"connectrpc.com/connect"
)

// adminGuard requires "Authorization: Bearer <token>" on the management
// RPCs when the server has an admin token. Without one (loopback only, see
// Server.Start) they are open, as befits a laptop sandbox.
type adminGuard struct{ token string }

func (g adminGuard) check(h interface{ Get(string) string }) error {
	if g.token == "" {
		return nil
	}
	got, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errAdminToken)
	}
	return nil
}

var errAdminToken = &adminError{}

type adminError struct{}

func (*adminError) Error() string {
	return "this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"
}

func (g adminGuard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := g.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (g adminGuard) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (g adminGuard) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := g.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
