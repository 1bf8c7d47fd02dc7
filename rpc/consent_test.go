package rpc_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// TestDefect7ConsentLevelsOverTransports: through POST /event and Connect,
// an event with more than 64 consent levels (a 1 MiB Avro event with
// 1,048,476 of them was accepted) or a level above 1023 is refused with 400 or
// InvalidArgument naming the field and the rule, and accepted levels are
// stored sorted and without duplicates, in the event and in the record
// metadata, and filtered on as such (docs/pipeline.md, "Ingest").
func TestDefect7ConsentLevelsOverTransports(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 3)
	ctx := context.Background()
	const tooMany = "Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' holds more than 64 consent levels (at most 64 values, each from 0 to 1023)"
	const tooHigh = "Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' with value: '1024' is not a valid consent level (must be an integer from 0 to 1023)"

	huge := make([]int64, 1_048_476)
	hugeAvro := avroDemo("streammachine/example/1.3.0", huge, nil, ptr("session-huge"), nil, nil)
	if len(hugeAvro) > 1<<20 {
		t.Fatalf("test event is %d bytes, over the default limit", len(hugeAvro))
	}
	sixtyFive := make([]int, 65)

	u := sb.URL + "/event"
	hdr := map[string]string{"Authorization": "Bearer " + src.Token(), "Strm-Schema-Ref": demoSchema}
	jsonHdr := map[string]string{"Strm-Serialization-Type": "application/json"}
	for k, v := range hdr {
		jsonHdr[k] = v
	}
	const plain = "text/plain; charset=utf-8"
	for _, tc := range []struct {
		name   string
		header map[string]string
		body   []byte
		want   httpReply
	}{
		{"a million levels, Avro", hdr, hugeAvro, httpReply{400, plain, tooMany}},
		{"65 levels, JSON", jsonHdr, []byte(demo("s65", sixtyFive...)), httpReply{400, plain, tooMany}},
		{"level 1024", jsonHdr, []byte(demo("s1024", 1, 1024)), httpReply{400, plain, tooHigh}},
		{"duplicates", jsonHdr, []byte(demo("dup", 2, 2, 2, 3, 3)), httpReply{204, "", ""}},
	} {
		t.Run("POST /event/"+tc.name, func(t *testing.T) {
			if got := postEvent(t, strmtest.NewHTTPClient(), u, tc.header, tc.body); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}

	_, err := src.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{SchemaRef: demoSchema, Event: hugeAvro}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.HasSuffix(err.Error(), tooMany) {
		t.Errorf("SendEvent of a million levels: %v", err)
	}
	res := src.Send(demoSchema, demo("s65", sixtyFive...), demo("unsorted", 3, 1, 3, 0))
	if r := res[0].Rejection; res[0].Accepted || r.Error != tooMany || r.Field != "strmMeta/consentLevels" || r.Rule != "consentLevels" {
		t.Errorf("SendEvents of 65 levels: %+v", res[0])
	}
	if !res[1].Accepted {
		t.Fatalf("SendEvents of [3,1,3,0]: %+v", res[1])
	}

	for _, tc := range []struct {
		stream *strmtest.Stream
		want   [][]int32
	}{
		{src, [][]int32{{2, 3}, {0, 1, 3}}},
		{derived, [][]int32{{2, 3}, {0, 1, 3}}},
	} {
		recs := tc.stream.Read()
		if len(recs) != len(tc.want) {
			t.Fatalf("%s: %d records, want %d", tc.stream.Name, len(recs), len(tc.want))
		}
		for i, r := range recs {
			if !slices.Equal(r.ConsentLevels, tc.want[i]) {
				t.Errorf("%s offset %d: record consent levels %v, want %v", tc.stream.Name, r.Offset, r.ConsentLevels, tc.want[i])
			}
			got := fields(t, r.Json)["strmMeta"].(map[string]any)["consentLevels"].([]any)
			var levels []int32
			for _, l := range got {
				levels = append(levels, int32(l.(float64)))
			}
			if !slices.Equal(levels, tc.want[i]) {
				t.Errorf("%s offset %d: event consent levels %v, want %v", tc.stream.Name, r.Offset, levels, tc.want[i])
			}
		}
	}
}
