// Package tui is the terminal UI of strmlocal (`strmlocal tui`): a browser
// of streams, events and keys built on bubbletea v2 that talks to a server
// only through the public Connect API, so it works against any strmlocal
// server.
//
// Screens, one file each:
//
//   - streams.go: source streams with their derived streams as a tree,
//     consent rules, event counts, live rates and live key links.
//   - tail.go: live events of one stream as a table: follow or pause, jump
//     to an offset or a time, filter by a field value, scroll back through
//     the rows held in memory (ring.go).
//   - detail.go: one event as pretty JSON with its PII fields marked by
//     level, ciphertexts distinct from plaintext, its key link and period.
//   - sidebyside.go: a source event beside the same offset of a derived
//     stream, or why the derived stream dropped it.
//   - keys.go: the key links of a stream and the server clock.
//   - help.go: the key bindings.
//
// The program follows the Elm split: Model holds all state, Update is the
// only place it changes, View renders it. I/O happens only in tea.Cmds
// (client.go) that return typed messages; commands capture copies of what
// they need, never the model. The tail is the one long-lived reader: a
// goroutine drains the Tail stream into a bounded buffer, and one command
// per frame hands what has accumulated to Update as a single message, so
// 10k events/s cost one Update and one View per frame, not one per event.
//
// Stream credentials come from Options.Credentials (the CLI reads the
// saved entities); a stream without them shows a one-line explanation in
// its pane. Management calls (streams, keys, clock, contracts) use
// Options.ClientOptions, e.g. an admin-token interceptor.
package tui
