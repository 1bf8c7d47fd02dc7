// Package archtest holds the test of strmlocal's import rules, the one-way
// flow of docs/architecture.md: transports → application → engine, keys,
// log, catalog → store. It has no code of its own.
package archtest
