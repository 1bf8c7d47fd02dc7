package rpc

import "net/http"

// The health endpoints of the original platform: plain 200s. The store is
// opened before the listener serves anything, so serving means ready.
func healthHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok\n"))
}
