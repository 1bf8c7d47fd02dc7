package rpc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/strmtest"
)

// Egress pages are bounded in bytes, not only in records: a page of large
// events stops at app.DefaultPageBytes (4 MiB) and says where to go on, and
// so does every message of a non-following Tail. Nothing is lost or
// repeated across the pages.
func TestPagesBoundedInBytes(t *testing.T) {
	sb := strmtest.New(t)
	demoStream := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	const events, big = 13, 1000000 // just under the 1 MiB event cap
	filler := strings.Repeat("x", big)
	for i := range events {
		ev := fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [2]}, "consistentValue": "s-%d", "notSensitiveValue": %q}`, i, filler)
		mustAccept(t, demoStream.Send(demoSchema, ev))
	}
	ctx := context.Background()
	for _, st := range []*strmtest.Stream{demoStream, derived} {
		t.Run(st.Name, func(t *testing.T) {
			// ReadEvents with the largest limit: 4 records of ~1 MB a page.
			var sizes []int
			var offsets []uint64
			for from := uint64(0); from < events; {
				res, err := st.Egress.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: app.MaxPageRecords}))
				if err != nil {
					t.Fatal(err)
				}
				if n := proto.Size(res.Msg); n > app.DefaultPageBytes {
					t.Errorf("page from %d is %d bytes, over %d", from, n, app.DefaultPageBytes)
				}
				sizes = append(sizes, len(res.Msg.Records))
				for _, r := range res.Msg.Records {
					offsets = append(offsets, r.Offset)
				}
				if res.Msg.EndOffset != events {
					t.Errorf("endOffset = %d, want %d", res.Msg.EndOffset, events)
				}
				from = res.Msg.NextOffset
			}
			if want := []int{4, 4, 4, 1}; fmt.Sprint(sizes) != fmt.Sprint(want) {
				t.Errorf("ReadEvents page sizes = %v, want %v", sizes, want)
			}
			if want := "[0 1 2 3 4 5 6 7 8 9 10 11 12]"; fmt.Sprint(offsets) != want {
				t.Errorf("ReadEvents offsets = %v, want %s", offsets, want)
			}

			// Tail without follow: the same pages, one message each.
			tail, err := st.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Start: &v1.TailRequest_FromBeginning{FromBeginning: true}}))
			if err != nil {
				t.Fatal(err)
			}
			sizes, offsets = nil, nil
			for tail.Receive() {
				if n := proto.Size(tail.Msg()); n > app.DefaultPageBytes {
					t.Errorf("tail message is %d bytes, over %d", n, app.DefaultPageBytes)
				}
				sizes = append(sizes, len(tail.Msg().Records))
				for _, r := range tail.Msg().Records {
					offsets = append(offsets, r.Offset)
				}
			}
			if err := tail.Err(); err != nil {
				t.Fatal(err)
			}
			if want := []int{4, 4, 4, 1}; fmt.Sprint(sizes) != fmt.Sprint(want) {
				t.Errorf("Tail message sizes = %v, want %v", sizes, want)
			}
			if want := "[0 1 2 3 4 5 6 7 8 9 10 11 12]"; fmt.Sprint(offsets) != want {
				t.Errorf("Tail offsets = %v, want %s", offsets, want)
			}
		})
	}
}
