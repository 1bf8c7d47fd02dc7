// Package s3test runs a real S3 server for tests: the Versity S3 Gateway
// (versitygw) with its POSIX backend on a temporary directory, as a
// process of its own on a loopback port. `make test-deps` installs the
// pinned versitygw in $(go env GOPATH)/bin.
//
// Its read-back helpers (List, Get) use a plain minio-go client, not the
// code under test.
package s3test
