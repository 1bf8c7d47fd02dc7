// Package tui is the terminal UI of strmlocal (`strmlocal tui`): a browser
// of streams, events and keys built on bubbletea v2 that talks to a server
// only through the public Connect API, so it works against any strmlocal
// server.
//
// # Components
//
// Model (app.go) is the tea.Model: it draws the frame (header, body,
// status line, key help), keeps the way back between screens, and routes
// messages. Each screen is a component of its own, one file each, with
// update, view, title, status, resize and its bindings (screenModel):
//
//   - streamsModel (streams.go): source streams with their derived streams
//     as a tree, consent rules, event counts, live rates and live key
//     links, and each stream's jobs under it (name, kind, state, lag); it
//     refreshes itself on a timer whichever screen is open.
//   - tailModel (tail.go): live events of one stream as a table: follow or
//     pause, jump to an offset or a time, filter by a field value, scroll
//     back through the rows held in memory (ring.go).
//   - detailModel (detail.go): one event as pretty JSON with its PII fields
//     marked by level, ciphertexts distinct from plaintext, its key link
//     and period.
//   - sideModel (sidebyside.go): a source event beside the same offset of a
//     derived stream, or why the derived stream dropped it.
//   - keysModel (keys.go): the key links of a stream and the server clock,
//     as a list: K on an event selects its key link, x shows the shredded
//     ones only, enter shows the selected one's period and shred state.
//   - jobModel (job.go): one job's status and config; p pauses it and r
//     resumes it (PauseJob, ResumeJob).
//
// The help overlay (helpModel, help.go) and the one-line prompt (prompt.go)
// are components too, drawn over the open screen rather than instead of
// it. Every component holds the one *common (common.go): options, client,
// the UI's context, terminal size, styles, key map, and what the server
// said about event contracts, key links and its clock. It changes only on
// the program's goroutine.
//
// # Navigation by message
//
// A component's update returns a command and, for Model, a message:
// openTailMsg, openDetailMsg, openSideMsg, openKeysMsg, openJobMsg,
// backMsg (esc), statusMsg, openPromptMsg; the prompt answers with
// promptDoneMsg, which Model hands to the screen that opened it, or
// promptClosedMsg. Model
// handles that message before Update returns, so a key that opens a screen
// has opened it in the same Update. Components never reach into one
// another. Answers of the server go to the component that asked.
//
// # Scrolling
//
// Every list and pager scrolls with one scroller (scroller.go): cursor,
// offset, height and len, with update(key) for up, down, page up, page
// down, top and bottom, fit(len, height) from the view, and click(row).
// Lists (the tree, the tail, the key links) move a cursor the window
// follows; pagers (an event, the side by side) move the window.
//
// # I/O and goroutines
//
// I/O happens only in tea.Cmds (client.go) that return typed messages;
// commands capture copies of what they need, never the model. The tail is
// the one long-lived reader (tailer.go): a goroutine drains the Tail
// stream into a bounded buffer, and one command per frame hands what has
// accumulated to Update as a single message, so 10k events/s cost one
// Update and one View per frame, not one per event. Update never waits:
// stopping a tail cancels its reader and moves on, and messages of a
// stopped tail carry an old generation and are dropped. Readers run on a
// group that Close joins after canceling the UI's context, so none
// outlives Close.
//
// Stream credentials come from Options.Credentials (the CLI reads the
// saved entities); a stream without them shows a one-line explanation in
// its pane. Management calls (streams, jobs, keys, clock, contracts) use
// Options.ClientOptions, e.g. an admin-token interceptor.
package tui
