package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

type egressOptions struct {
	fromBeginning bool
	fromOffset    uint64
	fromTime      string
	fromEnd       bool
	follow        bool
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
exists. --records prints each whole record instead (offset, time, key link,
consent levels, which fields are decrypted, masked or still encrypted, and
whether its key was shredded) as one line of JSON.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args[0])
			if err != nil {
				return err
			}
			creds, err := e.streamCredentials(args[0])
			if err != nil {
				return err
			}
			return e.refused(args[0], e.egress(cmd, creds, req, o.records))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the first event (the default)")
	f.Uint64Var(&o.fromOffset, "from-offset", 0, "start at this offset")
	f.StringVar(&o.fromTime, "from-time", "", "start at the first event accepted at or after this time (RFC 3339)")
	f.BoolVar(&o.fromEnd, "from-end", false, "start with the next new event")
	f.BoolVar(&o.follow, "follow", true, "keep following new events; false stops at the end")
	f.BoolVar(&o.records, "records", false, "print whole records (metadata and event) as JSON lines")
	return cmd
}

// egress prints what Tail sends until it ends or the command's context is
// canceled, which is a clean end (exit 0).
func (e *env) egress(cmd *cobra.Command, creds *v1.Credentials, req *v1.TailRequest, records bool) error {
	ctx := cmd.Context()
	stream, err := e.streamEgress(creds).Tail(ctx, connect.NewRequest(req))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer stream.Close()
	w := bufio.NewWriter(e.stdout)
	for stream.Receive() {
		for _, r := range stream.Msg().Records {
			if err := writeRecord(w, r, records); err != nil {
				return err
			}
		}
		// Each message is flushed, so that a follower sees events as they come.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return stream.Err()
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
