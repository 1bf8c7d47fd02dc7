package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
)

type egressOptions struct {
	fromBeginning bool
	fromOffset    uint64
	fromTime      string
	fromEnd       bool
	follow        bool
	reconnect     bool
	records       bool
}

// request builds the TailRequest. With no start flag the CLI starts from
// the beginning, unlike the RPC, whose default is the end: a user who asks
// to see a stream wants what is in it.
func (o egressOptions) request(cmd *cobra.Command, stream string) (*v1.TailRequest, error) {
	var given []string
	for _, name := range []string{"from-beginning", "from-offset", "from-time", "from-end"} {
		if cmd.Flags().Changed(name) {
			given = append(given, "--"+name)
		}
	}
	if len(given) > 1 {
		return nil, fmt.Errorf("%s exclude each other: give one start position", joinAnd(given))
	}
	req := &v1.TailRequest{Stream: stream, Follow: o.follow}
	switch {
	case cmd.Flags().Changed("from-offset"):
		req.Start = &v1.TailRequest_FromOffset{FromOffset: o.fromOffset}
	case cmd.Flags().Changed("from-time"):
		t, err := time.Parse(time.RFC3339Nano, o.fromTime)
		if err != nil {
			return nil, fmt.Errorf("invalid --from-time %q: use RFC 3339, e.g. 2026-11-22T12:00:00Z", o.fromTime)
		}
		req.Start = &v1.TailRequest_FromTime{FromTime: timestamppb.New(t)}
	case o.fromEnd:
		// The RPC's default: only events appended from now on.
	default:
		req.Start = &v1.TailRequest_FromBeginning{FromBeginning: true}
	}
	return req, nil
}

// joinAnd is "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func newEgressCmd(e *env) *cobra.Command {
	var o egressOptions
	cmd := &cobra.Command{
		Use:   "egress STREAM [--from-beginning|--from-offset N|--from-time T|--from-end] [--follow=true]",
		Short: "Print the events of a stream, and follow new ones",
		Long: `Print the events of a stream, one JSON document per line (strmMeta plus the
fields, as the stream shows them), authenticated with the stream's saved
credentials (see create stream). A source stream shows PII encrypted; a
derived stream only the events its consent rules keep, with the PII fields of
its levels decrypted.

Without a start flag, egress starts from the beginning of the stream.
--from-offset N starts at offset N (offsets of a derived stream are its
source's), --from-time T at the first event accepted at or after T (RFC 3339),
--from-end with the next new event. The start flags exclude each other.

By default egress keeps following new events until interrupted (Ctrl-C, which
ends it with exit code 0); --follow=false stops once it has printed what
exists. When the server closes the stream (it stops or restarts), a following
egress says so on stderr, reconnects (waiting 100ms, then up to 5s between
tries) and goes on from the next offset, so that no event is lost or printed
twice; --reconnect=false ends it instead, with exit code 1. --records prints each whole record instead (offset, time, key link,
consent levels, which fields are decrypted, masked or still encrypted, and
whether its key was shredded) as one line of JSON.`,
		Example: `  strmlocal egress demo
  strmlocal egress demo-2 --follow=false
  strmlocal egress demo --from-offset 100 --records
  strmlocal egress demo --from-time 2026-11-22T12:00:00Z --follow=false
  strmlocal egress demo --from-end --reconnect=false`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args[0])
			if err != nil {
				return err
			}
			creds, err := e.sendingCredentials(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return e.refused(args[0], e.egress(cmd, creds, req, o.records, o.reconnect))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the first event (the default)")
	f.Uint64Var(&o.fromOffset, "from-offset", 0, "start at this offset")
	f.StringVar(&o.fromTime, "from-time", "", "start at the first event accepted at or after this time (RFC 3339)")
	f.BoolVar(&o.fromEnd, "from-end", false, "start with the next new event")
	f.BoolVar(&o.follow, "follow", true, "keep following new events; false stops at the end")
	f.BoolVar(&o.reconnect, "reconnect", true, "when following, reconnect after the server closes the stream and go on from the next offset; false ends with exit code 1")
	f.BoolVar(&o.records, "records", false, "print whole records (metadata and event) as JSON lines")
	return cmd
}

// The waits between tries to reconnect: the first, doubling up to the
// longest.
var (
	reconnectFirst   = 100 * time.Millisecond
	reconnectLongest = 5 * time.Second
)

// egress prints what Tail sends until it ends or the command's context is
// canceled, which is a clean end (exit 0). A following egress whose stream
// the server ends (it stops; a follow never ends on its own) reconnects,
// unless told not to, and goes on from the offset after the last record
// printed.
func (e *env) egress(cmd *cobra.Command, creds *v1.Credentials, req *v1.TailRequest, records, reconnect bool) error {
	ctx := cmd.Context()
	eg := e.streamEgress(creds)
	t := &tailer{e: e, eg: eg, req: req, records: records, w: bufio.NewWriter(e.stdout)}
	reconnect = reconnect && req.Follow
	if reconnect {
		if err := t.pinStart(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	wait := reconnectFirst
	for {
		err := t.tail(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case !req.Follow || !t.answered || !closedByServer(err):
			// Not following, an answer, or no server to begin with.
			return err
		case !reconnect && err == nil:
			return errors.New("server closed the stream")
		case !reconnect:
			return fmt.Errorf("server closed the stream (%s)", client.Message(err))
		}
		if t.connected {
			// A new outage: the waits start over.
			fmt.Fprintln(e.stderr, "strmlocal: server closed the stream; reconnecting…")
			t.connected, t.down = false, true
			wait = reconnectFirst
		}
		if t.pinned {
			t.req.Start = &v1.TailRequest_FromOffset{FromOffset: t.next}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, reconnectLongest)
	}
}

// tailer is one egress over its connections.
type tailer struct {
	e       *env
	eg      strmlocalv1connect.EgressServiceClient
	req     *v1.TailRequest
	records bool
	w       *bufio.Writer

	next      uint64 // the offset after the last record printed
	pinned    bool   // next is known: a reconnection starts there
	answered  bool   // a Tail has answered
	connected bool   // the current Tail has answered
	down      bool   // an outage was reported and is not over
}

// pinStart turns a start that depends on when it is asked (the end) into
// an offset, and notes a start that is one, so that a reconnection before
// the first record starts where the first connection did. A start at a
// time is asked again as it is: it gives the same records.
func (t *tailer) pinStart(ctx context.Context) error {
	switch st := t.req.Start.(type) {
	case nil:
		// Where the next appended event goes: from-end with an offset. An
		// event appended between this and the Tail is printed, as it would
		// be had it come just after.
		res, err := t.eg.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{Stream: t.req.Stream, FromOffset: math.MaxUint64, Limit: 1}))
		if err != nil {
			return err
		}
		t.next, t.pinned = res.Msg.EndOffset, true
		t.req.Start = &v1.TailRequest_FromOffset{FromOffset: t.next}
	case *v1.TailRequest_FromOffset:
		t.next, t.pinned = st.FromOffset, true
	case *v1.TailRequest_FromBeginning:
		t.next, t.pinned = 0, true
	}
	return nil
}

// tail runs one Tail to its end and returns why it ended.
func (t *tailer) tail(ctx context.Context) error {
	stream, err := t.eg.Tail(ctx, connect.NewRequest(t.req))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
		if !t.connected {
			t.connected, t.answered = true, true
			if t.down {
				t.down = false
				if t.pinned {
					fmt.Fprintf(t.e.stderr, "strmlocal: reconnected at offset %d\n", t.next)
				} else {
					fmt.Fprintln(t.e.stderr, "strmlocal: reconnected")
				}
			}
		}
		for _, r := range stream.Msg().Records {
			if err := writeRecord(t.w, r, t.records); err != nil {
				return err
			}
			t.next, t.pinned = r.Offset+1, true
		}
		// Each message is flushed, so that a follower sees events as they come.
		if err := t.w.Flush(); err != nil {
			return err
		}
	}
	return stream.Err()
}

// closedByServer reports whether a follow ended because the server went
// away: the end of the stream (a follow does not end on its own), or a
// connection that failed or broke. Other errors are answers, not outages.
func closedByServer(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeAborted:
		return true
	case connect.CodeUnknown, connect.CodeInternal:
		return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	return false
}

// writeRecord writes one line: the event's JSON as the server sent it, or
// the whole record as compact protojson.
func writeRecord(w *bufio.Writer, r *v1.Record, whole bool) error {
	if !whole {
		w.WriteString(strings.TrimRight(r.Json, "\n"))
		return w.WriteByte('\n')
	}
	// Zero values too (offset 0, shredded false, empty lists), so that every
	// line has the same keys for jq and the like.
	b, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(r)
	if err != nil {
		return err
	}
	// protojson varies its whitespace; compacting makes lines byte-stable.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
