package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/sim"
	"github.com/strmlocal/strmlocal/strmtest"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// simulate runs a generator against stream of sb, through the Connect API
// or (http) the compat surface.
func simulate(t testing.TB, sb *strmtest.Sandbox, stream *strmtest.Stream, name string, cfg sim.Config, o sim.Options, http bool) *sim.Summary {
	t.Helper()
	ctx := context.Background()
	defs, err := sim.Definitions(ctx, sb.Schemas, name)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := sim.New(name, cfg, defs)
	if err != nil {
		t.Fatal(err)
	}
	var send sim.Sender = &sim.ConnectSender{Events: stream.Events, Stream: stream.Name}
	if http {
		client := sim.NewHTTPClient(4)
		// Connections dialled but never used would hold the server's
		// Close for its 5s grace for new connections.
		t.Cleanup(client.CloseIdleConnections)
		send = &sim.HTTPSender{Client: client, URL: sb.URL,
			ClientID: stream.Credentials.ClientId, ClientSecret: stream.Credentials.ClientSecret}
	}
	sum, err := sim.Run(ctx, gen, send, &sim.ConnectForgetter{Keys: sb.Keys}, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func stepConfig(seed uint64, invalid float64) sim.Config {
	return sim.Config{Seed: seed, InvalidRatio: invalid, Clock: sim.StepClock(t0, time.Second)}
}

// TestAgainstServer sends each generator's events, a fifth of them
// invalid, to a real server, through the Connect API and through POST
// /event: every valid event is accepted and stored, every invalid one is
// rejected for the reason it was made to break, and both paths agree.
func TestAgainstServer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rejections map[sim.Verdict]int64
		forgotten  uint64
	}{
		{"demo", map[sim.Verdict]int64{
			{Rule: "consentLevels", Field: "strmMeta/consentLevels"}:    69,
			{Rule: "decode", Field: "consistentValue"}:                  68,
			{Rule: "eventContract", Field: "strmMeta/eventContractRef"}: 74,
			{Rule: "regex", Field: "consistentValue"}:                   168,
		}, 0},
		{"clickstream", map[sim.Verdict]int64{
			{Rule: "consentLevels", Field: "strmMeta/consentLevels"}:    86,
			{Rule: "decode", Field: "conversion"}:                       95,
			{Rule: "eventContract", Field: "strmMeta/eventContractRef"}: 85,
			{Rule: "keyField", Field: "producerSessionId"}:              74,
			{Rule: "regex", Field: "customer/id"}:                       34,
			{Rule: "regex", Field: "url"}:                               35,
		}, 1},
		{"sensors", map[sim.Verdict]int64{
			{Rule: "consentLevels", Field: "strmMeta/consentLevels"}: 52,
			{Rule: "decode"}:                                            38, // machineId missing from a JSON event
			{Rule: "decode", Field: "rpm"}:                              81,
			{Rule: "decode", Field: "strmMeta/consentLevels/1"}:         11,
			{Rule: "decode", Field: "strmMeta/consentLevels/2"}:         20,
			{Rule: "eventContract", Field: "strmMeta/eventContractRef"}: 68,
			{Rule: "regex", Field: "machineId"}:                         55,
			{Rule: "regex", Field: "siteId"}:                            67,
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sums []*sim.Summary
			for _, http := range []bool{false, true} {
				sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
				st := sb.CreateStream("s")
				sum := simulate(t, sb, st, tc.name, stepConfig(5, 0.2), sim.Options{Count: 2000}, http)
				if f := sum.Failures(); f != 0 {
					var b strings.Builder
					sum.Write(&b)
					t.Fatalf("http %v: %d unexpected results:\n%s", http, f, b.String())
				}
				if stored := int64(len(st.Read())); sum.Sent() != 2000 || sum.Rejected != sum.Invalid || stored != sum.Accepted {
					t.Errorf("http %v: sent %d, rejected %d of %d invalid, stored %d of %d accepted", http, sum.Sent(), sum.Rejected, sum.Invalid, stored, sum.Accepted)
				}
				if !maps.Equal(sum.Rejections, tc.rejections) {
					t.Errorf("http %v: rejections %v, want %v", http, sum.Rejections, tc.rejections)
				}
				if sum.Forgotten != tc.forgotten {
					t.Errorf("http %v: forgot %d, want %d", http, sum.Forgotten, tc.forgotten)
				}
				sums = append(sums, sum)
			}
			if sums[0].Accepted != sums[1].Accepted {
				t.Errorf("accepted %d through Connect, %d through POST /event", sums[0].Accepted, sums[1].Accepted)
			}
		})
	}
}

// TestClassifyMatchesServer checks that Classify, which the HTTP path
// needs, reads every rejection message of the server as the server's own
// Verdict rule and field say.
func TestClassifyMatchesServer(t *testing.T) {
	sb := strmtest.New(t)
	for _, name := range sim.Names {
		events := generate(t, name, stepConfig(9, 1), 400)
		seen := map[sim.Verdict]bool{}
		for _, e := range events {
			if e.Forget != "" {
				continue
			}
			ser := v1.Serialization_SERIALIZATION_AVRO_BINARY
			if e.JSON {
				ser = v1.Serialization_SERIALIZATION_JSON
			}
			res, err := sb.Events.ValidateEvents(context.Background(), connect.NewRequest(&v1.ValidateEventsRequest{
				SchemaRef: e.Schema, Serialization: ser, Events: [][]byte{e.Body}}))
			if err != nil {
				t.Fatal(err)
			}
			v := res.Msg.Verdicts[0]
			want := sim.Verdict{Rule: v.Rule, Field: v.Field}
			if want != e.Expect {
				t.Errorf("%s: %s event: server says %v, generator expected %v", name, e.Invalid, want, e.Expect)
			}
			if got := sim.Classify(v.Error); got != want {
				t.Errorf("Classify(%q) = %v, want %v", v.Error, got, want)
			}
			seen[want] = true
		}
		// demo's contract has its regex on its key field: 4 verdicts.
		if len(seen) < 4 {
			t.Errorf("%s: only %d kinds of rejection seen: %v", name, len(seen), slices.Collect(maps.Keys(seen)))
		}
	}
}

// clickView is what the tests compare of a clickstream event.
type clickView struct {
	session, customer, url, eventType, consent string
}

func (c clickView) String() string {
	return fmt.Sprintf("%s %s %s %s %s", c.consent, c.session, c.customer, c.eventType, c.url)
}

// TestMarketingView runs the clickstream and reads a GRANULAR [0,1]
// derived stream: it holds exactly the events sent with marketing consent,
// in order, with the session and customer decrypted, except for customers
// who were forgotten, whose sessions stay encrypted.
func TestMarketingView(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	src := sb.CreateStream("demo-clicks")
	marketing := sb.CreateDerived("demo-clicks", 0, 1)
	cfg := stepConfig(42, 0.05)
	const count = 3000
	sum := simulate(t, sb, src, "clickstream", cfg, sim.Options{Count: count, Concurrency: 1}, false)
	if sum.Failures() != 0 || sum.Forgotten == 0 {
		t.Fatalf("%d failures, %d forgotten", sum.Failures(), sum.Forgotten)
	}

	// What the generator made, played again offline with the same seed.
	defs := catalogue(t)
	var want []clickView
	var shreddedWant []bool
	sessionCustomer := map[string]string{}
	forgotten := map[string]bool{}
	made := 0
	for _, e := range generate(t, "clickstream", stepConfig(42, 0.05), count+100) {
		if e.Forget != "" {
			forgotten[e.Forget] = true
			continue
		}
		if made++; made > count {
			break
		}
		if e.Invalid != sim.Valid {
			continue
		}
		m := decoded(t, defs, e)
		v := clickView{field(m, "producerSessionId"), field(m, "customer/id"), field(m, "url"), field(m, "eventType"), field(m, "strmMeta/consentLevels")}
		if v.customer != "anonymous" {
			sessionCustomer[v.session] = v.customer
		}
		if v.consent == "[0 1]" {
			want = append(want, v)
		}
	}
	for _, v := range want {
		shreddedWant = append(shreddedWant, forgotten[sessionCustomer[v.session]])
	}

	records := marketing.Read()
	if len(records) != len(want) {
		t.Fatalf("the marketing view holds %d events, want %d", len(records), len(want))
	}
	shredded := 0
	for i, r := range records {
		var ev struct {
			StrmMeta          struct{ ConsentLevels []int32 }
			ProducerSessionID string
			URL               string
			EventType         string
			Customer          struct{ ID string }
		}
		if err := json.Unmarshal([]byte(r.Json), &ev); err != nil {
			t.Fatal(err)
		}
		got := clickView{ev.ProducerSessionID, ev.Customer.ID, ev.URL, ev.EventType, fmt.Sprint(ev.StrmMeta.ConsentLevels)}
		if r.Shredded != shreddedWant[i] {
			t.Fatalf("record %d: shredded %v, want %v", i, r.Shredded, shreddedWant[i])
		}
		if r.Shredded {
			// Forgotten: the PII stays ciphertext, the rest is as sent.
			shredded++
			got.session, got.customer = want[i].session, want[i].customer
			if !slices.Equal(r.Encrypted, []string{"customer/id", "producerSessionId"}) {
				t.Errorf("record %d: encrypted %v", i, r.Encrypted)
			}
		}
		if got != want[i] {
			t.Fatalf("record %d:\n got %v\nwant %v", i, got, want[i])
		}
	}
	if shredded == 0 {
		t.Error("no forgotten customer had marketing consent: pick a seed that shows one")
	}
	t.Logf("%d events, %d in the marketing view, %d of them forgotten", count, len(records), shredded)
}

// TestEgressDeterministic runs the same seed against two fresh servers on
// virtual clocks and compares what egress shows: the source stream with its
// PII fields blanked (their ciphertexts depend on random keys) and a
// GRANULAR [0,1] derived stream with the fields it leaves encrypted
// blanked; nonce and keyLink (random) are blanked in both. Everything else,
// offsets and timestamps included, must be identical.
func TestEgressDeterministic(t *testing.T) {
	for _, tc := range []struct {
		name string
		pii  []string
	}{
		{"clickstream", []string{"producerSessionId", "customer/id"}},
		{"sensors", []string{"operatorBadge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var views [2][2][]string
			for run := range 2 {
				sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
				src := sb.CreateStream("s")
				derived := sb.CreateDerived("s", 0, 1)
				sum := simulate(t, sb, src, tc.name, stepConfig(7, 0.1), sim.Options{Count: 1500, Concurrency: 1}, false)
				if sum.Failures() != 0 {
					t.Fatalf("run %d: %d failures", run, sum.Failures())
				}
				for _, r := range src.Read() {
					views[run][0] = append(views[run][0], blank(t, r, tc.pii))
				}
				for _, r := range derived.Read() {
					views[run][1] = append(views[run][1], blank(t, r, r.Encrypted))
				}
			}
			for i, what := range []string{"source", "derived"} {
				a, b := views[0][i], views[1][i]
				if len(a) == 0 || len(a) != len(b) {
					t.Fatalf("%s: %d and %d records", what, len(a), len(b))
				}
				for j := range a {
					if a[j] != b[j] {
						t.Fatalf("%s record %d differs:\n%s\n%s", what, j, a[j], b[j])
					}
				}
			}
		})
	}
}

// blank renders a record with nonce, keyLink and the given fields blanked.
func blank(t *testing.T, r *v1.Record, fields []string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Json), &m); err != nil {
		t.Fatal(err)
	}
	meta := m["strmMeta"].(map[string]any)
	meta["nonce"], meta["keyLink"] = "<nonce>", "<keyLink>"
	for _, f := range fields {
		parent := m
		parts := strings.Split(f, "/")
		for _, p := range parts[:len(parts)-1] {
			parent = parent[p].(map[string]any)
		}
		if parent[parts[len(parts)-1]] != nil {
			parent[parts[len(parts)-1]] = "<ciphertext>"
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s %s %v %v %v %v %s", r.Offset, r.Time.AsTime().Format(time.RFC3339Nano), r.EventContractRef,
		r.ConsentLevels, r.Decrypted, r.Encrypted, r.Shredded, b)
}
