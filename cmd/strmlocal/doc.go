// Command strmlocal is the one binary of strmlocal: the server (serve), the
// CLI over its API (create, list, get, delete, send, egress, keys, clock,
// validate), the simulators (simulate), the terminal UI (tui) and the
// data-dir repair (repair). main is thin: every command is a function over
// explicit options and writers (run in root.go), tested through run.
package main
