package rpc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/strmtest"
)

const demoSchema = "streammachine/demo/1.0.2"

// demo returns a demo event of session with consent levels.
func demo(session string, consent ...int) string {
	levels, _ := json.Marshal(append([]int{}, consent...))
	return fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": %s}, "uniqueIdentifier": "unique-%s", "consistentValue": "%s", "someSensitiveValue": "sensitive-%s", "notSensitiveValue": "plain-%s"}`,
		levels, session, session, session, session)
}

// fields decodes an egress event's top-level string fields.
func fields(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("egress JSON %q: %v", js, err)
	}
	return m
}

// isCiphertext reports whether v looks like Tink output: base64 of
// 0x01 ‖ 4-byte key id ‖ 16-byte SIV ‖ ciphertext.
func isCiphertext(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) >= 21 && b[0] == 1
}

func mustAccept(t *testing.T, res []*v1.EventResult) {
	t.Helper()
	for i, r := range res {
		if !r.Accepted {
			t.Fatalf("event %d rejected: %v", i, r.Rejection)
		}
	}
}

// TestWorkedExample is the worked example of docs/pipeline.md through the real server, and the
// same for GRANULAR sets with gaps.
func TestWorkedExample(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	consents := [][]int{{}, {0}, {1}, {2}, {3}, {1, 3}, {0, 1, 2, 3}, {1, 2}}
	var events []string
	for i, c := range consents {
		events = append(events, demo(fmt.Sprintf("s%d", i), c...))
	}
	mustAccept(t, src.Send(demoSchema, events...))

	for _, tc := range []struct {
		name      string
		stream    *strmtest.Stream
		offsets   []uint64
		plain     []string // PII fields in plaintext in every kept event
		encrypted []string
	}{
		{"CUMULATIVE 2", sb.CreateDerived("demo", 2), []uint64{3, 4, 5, 6, 7},
			[]string{"consistentValue", "uniqueIdentifier"}, []string{"someSensitiveValue"}},
		{"GRANULAR 1,3", sb.CreateDerived("demo", 1, 3), []uint64{5, 6},
			[]string{"someSensitiveValue", "uniqueIdentifier"}, []string{"consistentValue"}},
		{"GRANULAR 0", sb.CreateStreamWith(&v1.CreateStreamRequest{DerivedFrom: "demo", Levels: []int32{0}, ConsentType: v1.ConsentType_CONSENT_TYPE_GRANULAR}),
			[]uint64{1, 6}, nil, []string{"consistentValue", "someSensitiveValue", "uniqueIdentifier"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := tc.stream.Read()
			var offsets []uint64
			for _, r := range recs {
				offsets = append(offsets, r.Offset)
				m := fields(t, r.Json)
				session := fmt.Sprintf("s%d", r.Offset)
				want := map[string]string{"consistentValue": session, "uniqueIdentifier": "unique-" + session, "someSensitiveValue": "sensitive-" + session}
				for _, f := range tc.plain {
					if m[f] != want[f] {
						t.Errorf("offset %d: %s = %v, want plaintext %q", r.Offset, f, m[f], want[f])
					}
				}
				for _, f := range tc.encrypted {
					if !isCiphertext(m[f]) {
						t.Errorf("offset %d: %s = %v, want ciphertext", r.Offset, f, m[f])
					}
				}
				if m["notSensitiveValue"] != "plain-"+session || r.Shredded {
					t.Errorf("offset %d: notSensitiveValue %v, shredded %v", r.Offset, m["notSensitiveValue"], r.Shredded)
				}
				if !slices.Equal(r.Decrypted, tc.plain) || !slices.Equal(r.Encrypted, tc.encrypted) {
					t.Errorf("offset %d: decrypted %v encrypted %v", r.Offset, r.Decrypted, r.Encrypted)
				}
			}
			if !slices.Equal(offsets, tc.offsets) {
				t.Fatalf("offsets %v, want %v", offsets, tc.offsets)
			}
		})
	}

	// The source stream shows every event, every PII field encrypted, and
	// strmMeta filled in.
	recs := src.Read()
	if len(recs) != len(consents) {
		t.Fatalf("source has %d records", len(recs))
	}
	for _, r := range recs {
		m := fields(t, r.Json)
		for _, f := range []string{"consistentValue", "uniqueIdentifier", "someSensitiveValue"} {
			if !isCiphertext(m[f]) {
				t.Errorf("source offset %d: %s = %v", r.Offset, f, m[f])
			}
		}
		meta := m["strmMeta"].(map[string]any)
		if meta["keyLink"] != r.KeyLink || meta["nonce"] == nil || meta["timestamp"] == nil || r.EventContractRef != "streammachine/example/1.3.0" {
			t.Errorf("source offset %d: strmMeta %v", r.Offset, meta)
		}
	}
}

func TestKeyLinksRotationAndRetention(t *testing.T) {
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	sb := strmtest.New(t, strmtest.WithVirtualClock(start))
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 3)
	mustAccept(t, src.Send(demoSchema, demo("alpha", 3), demo("alpha", 3), demo("beta", 3)))

	recs := src.Read()
	a, b, other := fields(t, recs[0].Json), fields(t, recs[1].Json), fields(t, recs[2].Json)
	if recs[0].KeyLink != recs[1].KeyLink || recs[0].KeyLink == recs[2].KeyLink {
		t.Fatalf("key links %s %s %s", recs[0].KeyLink, recs[1].KeyLink, recs[2].KeyLink)
	}
	prefix := func(v any) string {
		raw, _ := base64.StdEncoding.DecodeString(v.(string))
		return string(raw[:5])
	}
	for _, f := range []string{"consistentValue", "uniqueIdentifier", "someSensitiveValue"} {
		if a[f] != b[f] || a[f] == other[f] {
			t.Errorf("%s: same session %v / %v, other session %v", f, a[f], b[f], other[f])
		}
		if prefix(a[f]) != prefix(a["consistentValue"]) {
			t.Errorf("%s: ciphertext prefix differs from the other fields of the event", f)
		}
	}

	sb.Advance(25 * time.Hour)
	mustAccept(t, src.Send(demoSchema, demo("alpha", 3)))
	recs = src.Read()
	next := fields(t, recs[3].Json)
	if recs[3].KeyLink == recs[0].KeyLink || next["consistentValue"] == a["consistentValue"] {
		t.Fatalf("after 25h: key link %s (was %s), ciphertext changed: %v", recs[3].KeyLink, recs[0].KeyLink, next["consistentValue"] != a["consistentValue"])
	}
	for _, r := range derived.Read() {
		if m := fields(t, r.Json); m["consistentValue"] != "alpha" && m["consistentValue"] != "beta" || r.Shredded {
			t.Fatalf("before retention: offset %d shows %v (shredded %v)", r.Offset, m["consistentValue"], r.Shredded)
		}
	}

	// The first period ended at +24h; its keys go 7 days later.
	sb.Advance(7*24*time.Hour - time.Hour)
	got := derived.Read()
	for _, r := range got {
		m := fields(t, r.Json)
		old := r.Offset < 3
		if r.Shredded != old || isCiphertext(m["consistentValue"]) != old {
			t.Errorf("after retention: offset %d shredded %v, consistentValue %v", r.Offset, r.Shredded, m["consistentValue"])
		}
	}
	links, err := sb.Keys.ListKeyLinks(context.Background(), connect.NewRequest(&v1.ListKeyLinksRequest{Stream: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, l := range links.Msg.KeyLinks {
		states = append(states, fmt.Sprintf("%s shredded=%v", l.CreateTime.AsTime().Sub(start), l.Shredded))
	}
	if want := []string{"0s shredded=true", "0s shredded=true", "25h0m0s shredded=false"}; !slices.Equal(states, want) {
		t.Fatalf("key links %v, want %v", states, want)
	}
}

func click(session, customer, url string, consent ...int) string {
	levels, _ := json.Marshal(append([]int{}, consent...))
	return fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": %s}, "producerSessionId": "%s", "url": "%s", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": ["a"], "customer": {"id": "%s"}}`,
		levels, session, url, customer)
}

func TestForgetDataSubject(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	src := sb.CreateStream("clicks")
	derived := sb.CreateDerived("clicks", 0, 1)
	mustAccept(t, src.Send("streammachine/clickstream/1.0.0",
		click("sa1", "alice", "https://shop.example/a", 0, 1),
		click("sb1", "bob", "https://shop.example/b", 0, 1),
		click("sa2", "alice", "https://shop.example/c", 0, 1),
		click("sa2", "alice", "https://shop.example/d", 0, 1),
	))
	res, err := sb.Keys.ForgetDataSubject(ctx, connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.KeyLinks != 2 || res.Msg.Events != 3 {
		t.Fatalf("forget alice: %d key links, %d events; want 2, 3", res.Msg.KeyLinks, res.Msg.Events)
	}
	for _, r := range derived.Read() {
		m := fields(t, r.Json)
		customer := m["customer"].(map[string]any)["id"]
		bob := r.Offset == 1
		if r.Shredded == bob || (customer == "bob") != bob || isCiphertext(customer) == bob {
			t.Errorf("offset %d: customer %v, shredded %v", r.Offset, customer, r.Shredded)
		}
	}
	again, err := sb.Keys.ForgetDataSubject(ctx, connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: "alice"}))
	if err != nil || again.Msg.KeyLinks != 0 || again.Msg.Events != 0 {
		t.Fatalf("forget alice again: %v %v", again, err)
	}
}

// TestExportedKeysDecrypt decrypts egress ciphertext with exported keysets
// and plain Tink calls.
func TestExportedKeysDecrypt(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	mustAccept(t, src.Send(demoSchema, demo("s1", 0), demo("s2", 0)))
	exp, err := sb.Keys.ExportKeys(context.Background(), connect.NewRequest(&v1.ExportKeysRequest{Stream: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	keysets := map[string]string{}
	for _, k := range exp.Msg.Keys {
		keysets[k.KeyLink] = k.Keyset
	}
	if len(keysets) != 2 {
		t.Fatalf("%d keys exported", len(keysets))
	}
	for _, r := range src.Read() {
		h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(keysets[r.KeyLink])))
		if err != nil {
			t.Fatal(err)
		}
		d, err := daead.New(h)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(fields(t, r.Json)["uniqueIdentifier"].(string))
		pt, err := d.DecryptDeterministically(ct, []byte("uniqueIdentifier"))
		if want := fmt.Sprintf("unique-s%d", r.Offset+1); err != nil || string(pt) != want {
			t.Fatalf("offset %d: decrypted %q (%v), want %q", r.Offset, pt, err, want)
		}
	}
}

// TestNoPlaintextOnDisk sends events with recognisable PII through the real
// server on a real data dir, closes it, and scans every file.
func TestNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	src := sb.CreateStream("clicks")
	secrets := []string{"SESSION-PLAINTEXT-9f1c", "CUSTOMER-PLAINTEXT-77ab"}
	var events []string
	for i := range 50 {
		events = append(events, click(fmt.Sprintf("%s-%d", secrets[0], i), fmt.Sprintf("%s-%d", secrets[1], i), "https://shop.example/p", 0, 1))
	}
	mustAccept(t, src.Send("streammachine/clickstream/1.0.0", events...))
	// A rejected event's value must not reach the disk either.
	bad := click("REJECTED-PLAINTEXT-1", "x", "url", 0)
	if res := src.Send("streammachine/clickstream/1.0.0", bad); res[0].Accepted {
		t.Fatal("invalid event accepted")
	}
	sb.CreateDerived("clicks", 0, 1).Read()
	if _, err := sb.Keys.ForgetDataSubject(context.Background(), connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: secrets[1] + "-3"})); err != nil {
		t.Fatal(err)
	}
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}
	var files int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, s := range append(secrets, "REJECTED-PLAINTEXT") {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds plaintext %q", p, s)
			}
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("scanned %d files: %v", files, err)
	}
}

func TestStreamAndSendRefusals(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	other := sb.CreateStream("other")
	derived := sb.CreateDerived("demo", 2)
	create := func(req *v1.CreateStreamRequest) func() error {
		return func() error {
			_, err := sb.Streams.CreateStream(ctx, connect.NewRequest(req))
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"send to a derived stream", func() error {
			_, err := derived.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{SchemaRef: demoSchema, Event: []byte(demo("s", 0))}))
			return err
		}, connect.CodeFailedPrecondition, `stream "demo-2" is derived from "demo" and accepts no events; send to "demo"`},
		{"credentials of another stream", func() error {
			_, err := other.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{Stream: "demo", SchemaRef: demoSchema, Event: []byte(demo("s", 0))}))
			return err
		}, connect.CodePermissionDenied, `permission denied: these credentials are for stream "other", not "demo"`},
		{"no credentials", func() error {
			_, err := sb.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{Stream: "demo", SchemaRef: demoSchema, Event: []byte(demo("s", 0))}))
			return err
		}, connect.CodeUnauthenticated, "missing stream credentials: send the stream's client id and secret as HTTP Basic authorization, or a bearer token from /auth/realms/streams/protocol/openid-connect/token"},
		{"wrong secret", func() error {
			c := strmtest.BasicAuth(src.Credentials.ClientId, "nope")
			_, err := strmtestEvents(sb, c).SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{SchemaRef: demoSchema, Event: []byte(demo("s", 0))}))
			return err
		}, connect.CodeUnauthenticated, "invalid client credentials"},
		{"rejected event", func() error {
			_, err := src.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Event: []byte(strings.Replace(demo("s", 0), `"consistentValue": "s"`, `"consistentValue": ""`, 1))}))
			return err
		}, connect.CodeInvalidArgument, "Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"},
		{"negative consent", func() error {
			_, err := src.Events.SendEvent(ctx, connect.NewRequest(&v1.SendEventRequest{SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Event: []byte(demo("s", -1))}))
			return err
		}, connect.CodeInvalidArgument, "Field: 'strmMeta/consentLevels' in event with schema: 'streammachine/demo/1.0.2' with value: '-1' is not a valid consent level (must be an integer from 0 to 1023)"},
		{"derived over derived", create(&v1.CreateStreamRequest{DerivedFrom: "demo-2", Levels: []int32{1}}), connect.CodeInvalidArgument,
			`derivedFrom: "demo-2" is itself derived from "demo"; derive from the source stream "demo" instead`},
		{"unknown source", create(&v1.CreateStreamRequest{DerivedFrom: "nope", Levels: []int32{1}}), connect.CodeNotFound, `derivedFrom: source stream "nope" not found`},
		{"levels missing", create(&v1.CreateStreamRequest{DerivedFrom: "demo"}), connect.CodeInvalidArgument, "levels: at least one consent level is required"},
		{"several levels with CUMULATIVE", create(&v1.CreateStreamRequest{DerivedFrom: "demo", Levels: []int32{0, 1}}), connect.CodeInvalidArgument,
			"levels: a CUMULATIVE stream takes exactly one level (got 0,1); use --consent-type granular for a set of levels"},
		{"masked field not in contract", create(&v1.CreateStreamRequest{DerivedFrom: "demo", Levels: []int32{1}, MaskedFields: []*v1.MaskedFields{{ContractRef: "streammachine/example/1.3.0", Fields: []string{"nope"}}}}),
			connect.CodeInvalidArgument, "masked: 'nope' (contract 'streammachine/example/1.3.0') does not exist in schema 'streammachine/demo/1.0.2'"},
		{"masked fields of unknown contract", create(&v1.CreateStreamRequest{DerivedFrom: "demo", Levels: []int32{1}, MaskedFields: []*v1.MaskedFields{{ContractRef: "acme/none/1.0.0", Fields: []string{"x"}}}}),
			connect.CodeInvalidArgument, "masked: event contract acme/none/1.0.0 not found"},
		{"levels on a source stream", create(&v1.CreateStreamRequest{Name: "x", Levels: []int32{1}}), connect.CodeInvalidArgument,
			"derivedFrom: consent type, levels, masked fields and emit filters are for derived streams; name the source stream to derive from"},
		{"delete source with derived", func() error {
			_, err := sb.Streams.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "demo"}))
			return err
		}, connect.CodeFailedPrecondition, `stream "demo" has derived streams (demo-2); delete them first, or delete recursively (--recursive)`},
		{"keys of a derived stream", func() error {
			_, err := sb.Keys.ListKeyLinks(ctx, connect.NewRequest(&v1.ListKeyLinksRequest{Stream: "demo-2"}))
			return err
		}, connect.CodeFailedPrecondition, `stream "demo-2" is derived from "demo"; key links belong to the source stream "demo"`},
		{"advance a real clock", func() error {
			_, err := sb.ClockService.AdvanceClock(ctx, connect.NewRequest(&v1.AdvanceClockRequest{}))
			return err
		}, connect.CodeFailedPrecondition, "the server runs on the real clock; start it with --clock virtual to move time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertError(t, tc.call(), tc.code, tc.msg)
		})
	}
	if n := len(src.Read()); n != 0 {
		t.Fatalf("refused sends appended %d records", n)
	}
	del, err := sb.Streams.DeleteStream(ctx, connect.NewRequest(&v1.DeleteStreamRequest{Name: "demo", Recursive: true}))
	if err != nil || !slices.Equal(del.Msg.Deleted, []string{"demo-2", "demo"}) {
		t.Fatalf("recursive delete: %v %v", del, err)
	}
}

func strmtestEvents(sb *strmtest.Sandbox, auth connect.Interceptor) interface {
	SendEvent(context.Context, *connect.Request[v1.SendEventRequest]) (*connect.Response[v1.SendEventResponse], error)
} {
	return strmlocalv1connect.NewEventServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(auth))
}

// A following tail of an empty stream answers at once with a message
// without records; the first event follows.
func TestTailAnswersAtOnce(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tail, err := src.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Follow: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	if !tail.Receive() || len(tail.Msg().Records) != 0 {
		t.Fatalf("first message: %v %v", tail.Msg(), tail.Err())
	}
	mustAccept(t, src.Send(demoSchema, demo("s", 1)))
	if !tail.Receive() || len(tail.Msg().Records) != 1 || tail.Msg().Records[0].Offset != 0 {
		t.Fatalf("second message: %v %v", tail.Msg(), tail.Err())
	}
}
