// Package pgtest runs a real PostgreSQL server for tests, from the binaries
// of the installed Debian packages (`make test-deps` installs postgresql):
// initdb makes a cluster in a fresh directory under os.TempDir(), and the
// server listens on a free loopback port (127.0.0.1 only) and on a unix
// socket in that directory. Nothing of the system's own cluster (Debian's
// 5432 service) is used or touched.
//
// Start gives a test a server of its own, stopped and removed when the test
// ends; its Stop and Start stop and restart it on the same data and port, for
// fault tests. Shared gives every test of a package one server, started on
// first use and stopped by StopShared, which the package's TestMain calls
// through Main; NewDatabase gives a test a fresh database on a server, so
// that tests sharing a server do not see each other's tables.
//
// The server trusts every local connection (no password) and runs with
// fsync off: a test cluster need not survive a crash of the machine.
//
// When the tests run as root, PostgreSQL refuses to run; initdb and the
// server then run as the `postgres` OS user, which the Debian package
// creates. A test is skipped only when no PostgreSQL binaries are found.
package pgtest
