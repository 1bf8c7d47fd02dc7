// Package rpc is the transports of strmlocal, mounted over one application
// (package app) on one listener: the Connect services (Connect, gRPC and
// gRPC-Web protocols over HTTP/1.1 and cleartext HTTP/2), gRPC reflection,
// the STRM-compatible surface (POST /event, the OAuth2 token endpoint,
// GET /ws; docs/compat.md), the health endpoints GET /ready and
// GET /is-alive, and GET /metrics (metrics.go, docs/metrics.md).
//
// rpc translates between wire types and the application's plain Go values
// and holds no domain logic: ingest, reads, deletion, forgetting and the
// clock are app's. Generated protobuf types stop here, and errors.go is the
// one place where the errors from below become Connect codes (the compat
// handlers derive their HTTP statuses from those codes).
package rpc
