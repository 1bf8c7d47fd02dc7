// Package rpc is the serving edge of strmlocal: the Server that assembles the
// store, the log and the catalogue, and everything reachable on its one
// listener — the Connect services (Connect, gRPC and gRPC-Web protocols over
// HTTP/1.1 and cleartext HTTP/2), gRPC reflection, and the health endpoints
// GET /ready and GET /is-alive.
//
// Generated protobuf types stop here: the packages below speak plain Go types,
// and errors.go is the one place where their errors become Connect codes.
package rpc
