package rpc

import (
	"errors"
	"net/http"

	"github.com/strmlocal/strmlocal/app"
)

// The health endpoints of the original platform. /is-alive answers 200
// while the server serves. /ready answers 503 with the reason while the
// application cannot accept writes (a full disk: docs/storage.md; the
// scale-out mode's services out of reach: docs/scale-out.md), else 200.
func healthHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyHandler(w http.ResponseWriter, r *http.Request) {
	if err := s.app.Ready(); err != nil {
		retry := retryAfterFull
		if errors.Is(err, app.ErrStorageUnavailable) {
			retry = retryAfterUnavailable
		}
		w.Header().Set("Retry-After", retry)
		plainError(w, http.StatusServiceUnavailable, err.Error()+"\n")
		return
	}
	healthHandler(w, r)
}

// retryAfterFull is the Retry-After (seconds) of answers refused for a full
// disk; retryAfterUnavailable of those refused because the scale-out
// mode's PostgreSQL or brokers do not answer (they are checked every
// second: docs/scale-out.md).
const (
	retryAfterFull        = "10"
	retryAfterUnavailable = "1"
)
