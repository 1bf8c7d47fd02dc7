package rpc

import (
	"net/http"
)

// The health endpoints of the original platform. /is-alive answers 200
// while the server serves. /ready answers 503 with the reason while the
// application cannot accept writes (a full disk: docs/storage.md), else 200.
func healthHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyHandler(w http.ResponseWriter, r *http.Request) {
	if err := s.app.Ready(); err != nil {
		w.Header().Set("Retry-After", retryAfterFull)
		plainError(w, http.StatusServiceUnavailable, err.Error()+"\n")
		return
	}
	healthHandler(w, r)
}

// retryAfterFull is the Retry-After (seconds) of answers refused for a full
// disk.
const retryAfterFull = "10"
