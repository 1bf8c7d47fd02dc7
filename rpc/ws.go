package rpc

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/strmlocal/strmlocal/app"
)

// wsHandler serves GET /ws (docs/compat.md): a websocket tail of the stream the
// bearer token belongs to, source or derived, from the end of the stream
// on, one event per text frame as the plain JSON event. "?asJson=true" is
// accepted and changes nothing: JSON is the only form.
//
// The tail reads the log as the client reads frames, so a client that
// falls behind holds no server memory beyond the socket buffers; one that
// stops reading is disconnected when a frame cannot be written within
// Options.WriteTimeout. The connection is closed with 1000 (normal) when
// the token expires or the server stops, which the STRM CLI answers by
// fetching a new token and dialling again.
func (s *Server) wsHandler(w http.ResponseWriter, r *http.Request) {
	st, exp, err := s.bearerStream(r.Header.Get("Authorization"))
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	rd, err := s.app.Reader(st)
	if err != nil {
		s.httpError(w, err)
		return
	}
	from, err := rd.Seek(app.FromEnd())
	if err != nil {
		s.httpError(w, err)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the request
	}
	s.wsConns.Add(1)
	defer s.wsConns.Done()
	defer c.CloseNow()
	s.metrics.wsSubscribers.Inc()
	defer s.metrics.wsSubscribers.Dec()

	// ctx ends when the client closes, the token expires or the server
	// stops. CloseRead gets a context of its own: cancelling its context
	// drops the connection at once, before our close frame is sent.
	ctx, cancel := context.WithTimeoutCause(s.ctx, exp.Sub(s.tokens.now()), errTokenExpired)
	defer cancel()
	stop := context.AfterFunc(c.CloseRead(context.Background()), cancel)
	defer stop()

	f := rd.Follow(from)
	for {
		recs, err := f.Next(ctx)
		if err != nil {
			s.wsClose(c, ctx, err)
			return
		}
		start := time.Now()
		for _, rec := range recs {
			// The write's context is not derived from ctx: the websocket
			// library arms a close of the connection on the write's context,
			// and now and then that close still fired when ctx ended after
			// the write had finished, dropping the connection before our
			// close frame. A write blocked at shutdown waits out WriteTimeout.
			wctx, wcancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
			err := c.Write(wctx, websocket.MessageText, []byte(rec.JSON))
			slow := errors.Is(context.Cause(wctx), context.DeadlineExceeded)
			wcancel()
			if err != nil {
				if slow {
					s.opts.Logger.Info("websocket client not reading: disconnected", "stream", st.Name)
				}
				return
			}
		}
		s.metrics.egressed(egressWS, start)
	}
}

// wsClose ends a websocket tail for the reason ctx ended with.
func (s *Server) wsClose(c *websocket.Conn, ctx context.Context, err error) {
	switch {
	case errors.Is(context.Cause(ctx), errTokenExpired):
		_ = c.Close(websocket.StatusNormalClosure, "token expired: get a new token and reconnect")
	case s.ctx.Err() != nil:
		_ = c.Close(websocket.StatusNormalClosure, "server stopping")
	case ctx.Err() != nil:
		// The client closed: CloseRead has answered its close frame.
		_ = c.CloseNow()
	default:
		if !errors.Is(err, app.ErrUnreadable) { // the reader has logged those
			s.opts.Logger.Error("websocket tail failed", "error", err)
		}
		_ = c.Close(websocket.StatusInternalError, "cannot read the stream: see the server log")
	}
}
