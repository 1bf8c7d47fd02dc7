package rpc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// ceInbox is what a test receiver got: the events, in order, and the
// Content-Type of each request.
type ceInbox struct {
	mu           sync.Mutex
	events       []event.Event
	contentTypes []string
	batches      []int // batch receivers: the events of each request
}

func (b *ceInbox) add(ct string, events ...event.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.contentTypes = append(b.contentTypes, ct)
	b.events = append(b.events, events...)
	b.batches = append(b.batches, len(events))
}

func (b *ceInbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

func (b *ceInbox) snapshot() ([]event.Event, []string, []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events), slices.Clone(b.contentTypes), slices.Clone(b.batches)
}

// sdkReceiver starts a receiver made with the CloudEvents SDK's own HTTP
// client (binary and structured mode) on a loopback listener and returns
// its URL.
func sdkReceiver(t testing.TB) (string, *ceInbox) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box := &ceInbox{}
	cts := make(chan string, 1)
	c, err := cloudevents.NewClientHTTP(cehttp.WithListener(lis), cehttp.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cts <- r.Header.Get("Content-Type")
			next.ServeHTTP(w, r)
		})
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.StartReceiver(ctx, func(e event.Event) { box.add(<-cts, e) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	return "http://" + lis.Addr().String() + "/", box
}

// batchReceiver starts a receiver of JSON batches, parsed with the SDK's
// batch parsing, and returns its URL.
func batchReceiver(t testing.TB) (string, *ceInbox) {
	t.Helper()
	box := &ceInbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cehttp.IsHTTPBatch(r.Header) {
			http.Error(w, "not a batch", http.StatusBadRequest)
			return
		}
		events, err := cehttp.NewEventsFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		box.add(r.Header.Get("Content-Type"), events...)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/batches", box
}

// ceView is a CloudEvent's attributes and data as strings, to compare.
type ceView struct {
	SpecVersion, ID, Source, Type, Subject, Time, DataSchema, DataContentType string
	Extensions                                                                map[string]string
	Data                                                                      string
}

func viewOf(e event.Event) ceView {
	ext := map[string]string{}
	for k, v := range e.Extensions() {
		ext[k] = fmt.Sprint(v)
	}
	return ceView{e.SpecVersion(), e.ID(), e.Source(), e.Type(), e.Subject(), e.Time().UTC().Format(time.RFC3339Nano), e.DataSchema(), e.DataContentType(), ext, string(e.Data())}
}

// wantView is the CloudEvent a sink of st sends for r.
func wantView(st *strmtest.Stream, serverID string, r *v1.Record, typ string) ceView {
	levels := make([]string, len(r.ConsentLevels))
	for i, l := range r.ConsentLevels {
		levels[i] = fmt.Sprint(l)
	}
	return ceView{
		SpecVersion: "1.0", ID: fmt.Sprintf("%s-%d", st.Uuid, r.Offset), Source: "strmlocal://" + serverID + "/streams/" + st.Name,
		Type: typ, Subject: r.KeyLink, Time: r.Time.AsTime().UTC().Format(time.RFC3339Nano), DataSchema: "strmlocal:schema:" + r.SchemaRef,
		DataContentType: "application/json",
		Extensions:      map[string]string{"strmcontractref": r.EventContractRef, "strmconsentlevels": strings.Join(levels, ","), "strmoffset": fmt.Sprint(r.Offset)},
		Data:            r.Json,
	}
}

func serverID(t testing.TB, sb *strmtest.Sandbox) string {
	t.Helper()
	res, err := sb.ServerInfo.GetServerInfo(context.Background(), connect.NewRequest(&v1.GetServerInfoRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.ServerId
}

// Three sinks of one stream (binary mode, structured mode with a type of
// its own, batches of 3) deliver every event, in order, to receivers of
// the SDK, with every attribute as docs/cloudevents.md says.
func TestCloudEventsSinkAttributes(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	src := sb.CreateStream("demo")
	binURL, binBox := sdkReceiver(t)
	strURL, strBox := sdkReceiver(t)
	batURL, batBox := batchReceiver(t)
	createConnector(t, sb, "bin", "http", map[string]any{"url": binURL})
	createConnector(t, sb, "str", "http", map[string]any{"url": strURL, "headers": map[string]any{"X-Tenant": "t1"}})
	createConnector(t, sb, "bat", "http", map[string]any{"url": batURL})
	job := createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "bin"})
	if got, want := job.Config.AsMap(), map[string]any{"structured": false, "batch": float64(1), "includeExistingEvents": false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config with defaults %v, want %v", got, want)
	}
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "str", Config: config(t, map[string]any{"structured": true, "type": "com.example.demo"})})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "bat", Config: config(t, map[string]any{"batch": 3})})

	mustAccept(t, src.Send(demoSchema, demo("a", 0, 1, 2), demo("b"), demo("a", 1), demo("c", 2), demo("b", 0)))
	waitUntil(t, func() bool { return binBox.len() == 5 && strBox.len() == 5 && batBox.len() == 5 })
	recs := src.Read()
	id := serverID(t, sb)
	for _, c := range []struct {
		name, typ string
		box       *ceInbox
		ct        string
		batches   []int
	}{
		{"binary", "streammachine.demo", binBox, "application/json", []int{1, 1, 1, 1, 1}},
		{"structured", "com.example.demo", strBox, "application/cloudevents+json", []int{1, 1, 1, 1, 1}},
		{"batch", "streammachine.demo", batBox, "application/cloudevents-batch+json", []int{3, 2}},
	} {
		events, cts, batches := c.box.snapshot()
		for i, e := range events {
			if got, want := viewOf(e), wantView(src, id, recs[i], c.typ); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: event %d\n got %+v\nwant %+v", c.name, i, got, want)
			}
		}
		for _, ct := range cts {
			if ct != c.ct {
				t.Errorf("%s: Content-Type %q, want %q", c.name, ct, c.ct)
			}
		}
		if !slices.Equal(batches, c.batches) {
			t.Errorf("%s: events per request %v, want %v", c.name, batches, c.batches)
		}
	}
	// Exact values for one of them, not only as wantView computes them.
	e, _, _ := binBox.snapshot()
	if v := viewOf(e[0]); v.ID != src.Uuid+"-0" || v.Time != "2026-11-22T12:00:00Z" || v.DataSchema != "strmlocal:schema:streammachine/demo/1.0.2" ||
		v.Extensions["strmconsentlevels"] != "0,1,2" || v.Extensions["strmcontractref"] != "streammachine/example/1.3.0" || v.Subject == "" ||
		!strings.HasPrefix(v.Source, "strmlocal://") || !strings.HasSuffix(v.Source, "/streams/demo") {
		t.Errorf("first event %+v", v)
	}
	if v := viewOf(e[1]); v.Extensions["strmconsentlevels"] != "" || v.ID != src.Uuid+"-1" {
		t.Errorf("an event without consent: %+v", v)
	}
	for _, name := range []string{"bin-demo", "str-demo", "bat-demo"} {
		if st := getJob(t, sb, name).Status; st.State != v1.JobState_JOB_STATE_RUNNING || st.Cursor != 5 || st.Lag != 0 || st.EventsExported != 5 || st.LastError != "" {
			t.Errorf("%s: status %v", name, st)
		}
	}
}

// hookRequest is one request a scripted webhook got.
type hookRequest struct {
	at     time.Time
	ids    []string
	status int
}

// hook is a webhook whose answers a test scripts.
type hook struct {
	URL    string
	mu     sync.Mutex
	log    []hookRequest
	answer func(n int, ids []string, w http.ResponseWriter, r *http.Request) int
}

// startHook starts a webhook that parses each request with the SDK and
// answers with answer(n, ids, w, r), n counting requests from 0; answer
// writes the response and returns its status.
func startHook(t testing.TB, answer func(n int, ids []string, w http.ResponseWriter, r *http.Request) int) *hook {
	h := &hook{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ids []string
		if cehttp.IsHTTPBatch(r.Header) {
			events, err := cehttp.NewEventsFromHTTPRequest(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for _, e := range events {
				ids = append(ids, e.ID())
			}
		} else {
			e, err := cehttp.NewEventFromHTTPRequest(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ids = []string{e.ID()}
		}
		h.mu.Lock()
		n := len(h.log)
		h.log = append(h.log, hookRequest{at: time.Now(), ids: ids})
		h.mu.Unlock()
		status := h.answer(n, ids, w, r)
		h.mu.Lock()
		h.log[n].status = status
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/hook"
	return h
}

func (h *hook) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log)
}

// delivered is the ids of the events answered 2xx, in order.
func (h *hook) delivered() []string {
	var out []string
	for _, r := range h.requests() {
		if r.status >= 200 && r.status < 300 {
			out = append(out, r.ids...)
		}
	}
	return out
}

func ids(st *strmtest.Stream, offsets ...int) []string {
	out := make([]string, len(offsets))
	for i, o := range offsets {
		out[i] = fmt.Sprintf("%s-%d", st.Uuid, o)
	}
	return out
}

// A webhook that answers 500 once gets the event again, then the rest:
// each delivered once, in order.
func TestCloudEventsSinkRetriesA500(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithJobRetries(10*time.Millisecond, time.Second, 100))
	src := sb.CreateStream("demo")
	h := startHook(t, func(n int, _ []string, w http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return 500
		}
		w.WriteHeader(http.StatusOK)
		return 200
	})
	createConnector(t, sb, "hook", "http", map[string]any{"url": h.URL})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo"})
	mustAccept(t, src.Send(demoSchema, demo("a", 0), demo("b", 0), demo("c", 0)))
	waitUntil(t, func() bool { return len(h.delivered()) == 3 })
	if got, want := h.delivered(), ids(src, 0, 1, 2); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	reqs := h.requests()
	if len(reqs) != 4 || reqs[0].status != 500 || !slices.Equal(reqs[0].ids, ids(src, 0)) {
		t.Errorf("requests %v, want event 0 answered 500, then 0, 1, 2", reqs)
	}
	waitUntil(t, func() bool { return getJob(t, sb, "hook-demo").Status.Cursor == 3 })
	st := getJob(t, sb, "hook-demo").Status
	if want := fmt.Sprintf("webhook %s: post event %s-0: HTTP 500 Internal Server Error: boom", h.URL, src.Uuid); st.LastError != want ||
		st.State != v1.JobState_JOB_STATE_RUNNING || st.Retries != 0 || st.EventsExported != 3 || st.Lag != 0 {
		t.Errorf("status %v\nwant last error %s", st, want)
	}
}

// A webhook that answers 429 with Retry-After is left alone that long,
// though the job's own wait is far shorter.
func TestCloudEventsSinkHonoursRetryAfter(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithJobRetries(10*time.Millisecond, 5*time.Second, 100))
	src := sb.CreateStream("demo")
	h := startHook(t, func(n int, _ []string, w http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return 429
		}
		w.WriteHeader(http.StatusAccepted)
		return 202
	})
	createConnector(t, sb, "hook", "http", map[string]any{"url": h.URL})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo"})
	mustAccept(t, src.Send(demoSchema, demo("a", 0), demo("b", 0)))
	waitUntil(t, func() bool { return len(h.delivered()) == 2 })
	reqs := h.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests %v, want 3", reqs)
	}
	if wait := reqs[1].at.Sub(reqs[0].at); wait < time.Second {
		t.Errorf("retried after %s, want at least the 1s of Retry-After", wait)
	}
	if got, want := h.delivered(), ids(src, 0, 1); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if st := getJob(t, sb, "hook-demo").Status; st.LastError != fmt.Sprintf("webhook %s: post event %s-0: HTTP 429 Too Many Requests: slow down (Retry-After: 1s)", h.URL, src.Uuid) {
		t.Errorf("last error %q", st.LastError)
	}
}

// A webhook that answers 400 fails the job at once, with the status and
// the body in its status; ResumeJob sends the event again.
func TestCloudEventsSinkFailsOnA400(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithJobRetries(10*time.Millisecond, time.Second, 100))
	src := sb.CreateStream("demo")
	var mu sync.Mutex
	refuse := true
	h := startHook(t, func(n int, _ []string, w http.ResponseWriter, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, `{"error": "unknown event type streammachine.demo"}`, http.StatusBadRequest)
			return 400
		}
		w.WriteHeader(http.StatusNoContent)
		return 204
	})
	createConnector(t, sb, "hook", "http", map[string]any{"url": h.URL, "bearerToken": "tok"})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo"})
	mustAccept(t, src.Send(demoSchema, demo("a", 0), demo("b", 0)))
	waitUntil(t, func() bool { return getJob(t, sb, "hook-demo").Status.State == v1.JobState_JOB_STATE_FAILED })
	st := getJob(t, sb, "hook-demo").Status
	want := fmt.Sprintf(`webhook %s: post event %s-0: HTTP 400 Bad Request: {"error": "unknown event type streammachine.demo"}`, h.URL, src.Uuid)
	if st.LastError != want || st.Retries != 1 || st.Cursor != 0 || st.Lag != 2 || st.NextRunTime != nil {
		t.Errorf("status %v\nwant last error %s", st, want)
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want 1: a 400 is not retried", n)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if _, err := sb.Client.Jobs.ResumeJob(context.Background(), connect.NewRequest(&v1.ResumeJobRequest{Name: "hook-demo"})); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return getJob(t, sb, "hook-demo").Status.Cursor == 2 })
	if got, want := h.delivered(), ids(src, 0, 1); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if st := getJob(t, sb, "hook-demo").Status; st.State != v1.JobState_JOB_STATE_RUNNING || st.Lag != 0 {
		t.Errorf("after resume: %v", st)
	}
}

// A webhook that does not answer holds its own job only: POST /event
// answers, and another job delivers, while it is stuck.
func TestCloudEventsSlowWebhookBlocksNothingElse(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	stuck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := startHook(t, func(n int, _ []string, w http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			once.Do(func() { close(stuck) })
			select {
			case <-release:
			case <-r.Context().Done():
				return 0
			}
		}
		w.WriteHeader(http.StatusOK)
		return 200
	})
	fastURL, fast := sdkReceiver(t)
	createConnector(t, sb, "slow", "http", map[string]any{"url": slow.URL})
	createConnector(t, sb, "fast", "http", map[string]any{"url": fastURL})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "slow"})
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "fast"})
	mustAccept(t, src.Send(demoSchema, demo("a", 0)))
	<-stuck // the slow job's runner waits for the webhook from now on

	// POST /event answers while the webhook is stuck.
	reply := postEvent(t, sb.HTTPClient, sb.URL+"/event", map[string]string{"Authorization": "Bearer " + src.Token(), "Strm-Schema-Ref": demoSchema, "Strm-Serialization-Type": "application/json"}, []byte(demo("b", 0)))
	if reply.status != http.StatusNoContent {
		t.Fatalf("POST /event: %+v", reply)
	}
	// The other job delivers both events while it is stuck.
	waitUntil(t, func() bool { return fast.len() == 2 })
	select {
	case <-release:
		t.Fatal("released early")
	default:
	}
	if n := len(slow.requests()); n != 1 {
		t.Errorf("the slow webhook got %d requests, want 1 (still answering the first)", n)
	}
	// Pausing the stuck job does not wait for the webhook: its request is
	// cancelled, and its cursor stays.
	if _, err := sb.Client.Jobs.PauseJob(context.Background(), connect.NewRequest(&v1.PauseJobRequest{Name: "slow-demo"})); err != nil {
		t.Fatal(err)
	}
	if st := getJob(t, sb, "slow-demo").Status; st.State != v1.JobState_JOB_STATE_PAUSED || st.Cursor != 0 || st.Lag != 2 {
		t.Errorf("paused: %v", st)
	}
	close(release)
	if _, err := sb.Client.Jobs.ResumeJob(context.Background(), connect.NewRequest(&v1.ResumeJobRequest{Name: "slow-demo"})); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(slow.delivered()) == 2 })
	if got, want := slow.delivered(), ids(src, 0, 1); !slices.Equal(got, want) {
		t.Errorf("slow delivered %v, want %v", got, want)
	}
}

// stripMeta removes the strmMeta fields a server sets itself at ingest.
func stripMeta(t *testing.T, js string, fields ...string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	meta := m["strmMeta"].(map[string]any)
	for _, f := range fields {
		delete(meta, f)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Two servers chained: a sink of a derived stream of the first that
// decrypts every field POSTs to /cloudevents of the second, with the
// bearer token of the second's stream. The second holds the same events,
// encrypted under its own keys: its derived stream of the same levels
// shows exactly what the first's does, but for the key link and nonce
// (its own) and the timestamp (its own clock's), and the events of one
// session share one key link on both servers.
func TestCloudEventsChainedServers(t *testing.T) {
	a := strmtest.New(t, strmtest.WithVirtualClock(t0))
	b := strmtest.New(t, strmtest.WithVirtualClock(t0.Add(time.Hour)))
	aSrc := a.CreateStream("demo")
	aDerived := a.CreateDerived("demo", 3) // every PII field decrypted (the levels go to 3)
	bSrc := b.CreateStream("demo")
	bDerived := b.CreateDerived("demo", 3)
	createConnector(t, a, "b", "http", map[string]any{"url": b.URL + "/cloudevents", "username": bSrc.Credentials.ClientId, "password": bSrc.Credentials.ClientSecret})

	res, err := a.Client.Connectors.TestDataConnector(context.Background(), connect.NewRequest(&v1.TestDataConnectorRequest{Name: "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("webhook %s/cloudevents answered OPTIONS with HTTP 200 OK (Allow: OPTIONS, POST; WebHook-Allowed-Origin: *)", b.URL); res.Msg.Result != want {
		t.Errorf("test: %s\nwant %s", res.Msg.Result, want)
	}
	createJob(t, a, &v1.Job{Kind: "cloudevents-sink", Stream: aDerived.Name, Config: config(t, map[string]any{"batch": 4})})
	var events []string
	for i := range 10 {
		consent := []int{0, 1, 2, 3}
		if i%3 == 2 {
			consent = []int{0, 1} // not shown by the derived stream: not sent
		}
		events = append(events, demo(fmt.Sprint("s", i%4), consent...))
	}
	mustAccept(t, aSrc.Send(demoSchema, events...))
	waitUntil(t, func() bool { return len(bSrc.Read()) == 7 })

	want, got := aDerived.Read(), bDerived.Read()
	if len(want) != 7 || len(got) != 7 {
		t.Fatalf("%d events shown on the first, %d on the second, want 7", len(want), len(got))
	}
	linksA, linksB := map[string]string{}, map[string]string{}
	for i := range want {
		if w, g := stripMeta(t, want[i].Json, "keyLink", "nonce", "timestamp"), stripMeta(t, got[i].Json, "keyLink", "nonce", "timestamp"); w != g {
			t.Errorf("event %d\nfirst  %s\nsecond %s", i, w, g)
		}
		if f := fields(t, want[i].Json); !strings.HasPrefix(f["someSensitiveValue"].(string), "sensitive-s") {
			t.Errorf("event %d: the first's derived stream does not decrypt everything: %s", i, want[i].Json)
		}
		ts := fields(t, got[i].Json)["strmMeta"].(map[string]any)["timestamp"]
		if ts != float64(t0.Add(time.Hour).UnixMilli()) {
			t.Errorf("event %d: timestamp %v, want the second's clock", i, ts)
		}
		if want[i].KeyLink == got[i].KeyLink {
			t.Errorf("event %d: the second kept the first's key link", i)
		}
		// One session, one key link, on both.
		if l, ok := linksA[want[i].KeyLink]; ok && l != got[i].KeyLink {
			t.Errorf("event %d: a session of the first is split on the second", i)
		}
		if l, ok := linksB[got[i].KeyLink]; ok && l != want[i].KeyLink {
			t.Errorf("event %d: sessions of the first are one on the second", i)
		}
		linksA[want[i].KeyLink], linksB[got[i].KeyLink] = got[i].KeyLink, want[i].KeyLink
	}
	if len(linksA) != 4 {
		t.Errorf("%d sessions, want 4", len(linksA))
	}
	// The second's source stream holds its own ciphertext.
	for _, r := range bSrc.Read() {
		if f := fields(t, r.Json); !isCiphertext(f["uniqueIdentifier"]) || !isCiphertext(f["consistentValue"]) {
			t.Errorf("offset %d not encrypted on the second: %s", r.Offset, r.Json)
		}
	}
}

// POST /cloudevents takes binary, structured and batch mode, and refuses
// with the reason, naming the attribute; a batch gets one result per
// event, and its good events are stored once.
func TestCloudEventsIngestRefusals(t *testing.T) {
	sb := strmtest.New(t)
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	token, derivedToken := src.Token(), derived.Token()
	u := sb.URL + "/cloudevents"
	good := demo("s1", 0, 1)
	bin := func(kv ...string) map[string]string {
		m := map[string]string{"Authorization": "Bearer " + token, "Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Source": "/test", "Ce-Type": "t",
			"Ce-Dataschema": "strmlocal:schema:" + demoSchema, "Content-Type": "application/json"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	structured := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/cloudevents+json"}
	doc := func(drop string, kv ...any) []byte {
		m := map[string]any{"specversion": "1.0", "id": "e1", "source": "/test", "type": "t", "dataschema": "strmlocal:schema:" + demoSchema, "datacontenttype": "application/json", "data": json.RawMessage(good)}
		delete(m, drop)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return b
	}
	const plain = "text/plain; charset=utf-8"
	accepted := 0
	for _, c := range []struct {
		name   string
		header map[string]string
		body   []byte
		want   httpReply
	}{
		{"binary", bin(), []byte(good), httpReply{204, "", ""}},
		{"binary, a bare ref", bin("Ce-Dataschema", demoSchema), []byte(good), httpReply{204, "", ""}},
		{"binary, the ref in Strm-Schema-Ref", bin("Ce-Dataschema", "", "Strm-Schema-Ref", demoSchema), []byte(good), httpReply{204, "", ""}},
		{"structured", structured, doc(""), httpReply{204, "", ""}},
		{"structured, data_base64", structured, doc("data", "data_base64", base64Std(good)), httpReply{204, "", ""}},
		{"binary, no specversion", bin("Ce-Specversion", ""), []byte(good), httpReply{400, plain, `missing CloudEvents attribute "specversion": send a CloudEvent 1.0 in binary mode (headers ce-specversion: 1.0, ce-id, ce-source, ce-type; the event as the body) or structured mode (Content-Type: application/cloudevents+json)`}},
		{"binary, specversion 0.3", bin("Ce-Specversion", "0.3"), []byte(good), httpReply{400, plain, `unsupported specversion "0.3": send CloudEvents 1.0`}},
		{"binary, specversion 2.0", bin("Ce-Specversion", "2.0"), []byte(good), httpReply{400, plain, `unsupported specversion "2.0": send CloudEvents 1.0`}},
		{"structured, specversion 0.3", structured, doc("", "specversion", "0.3"), httpReply{400, plain, `unsupported specversion "0.3": send CloudEvents 1.0`}},
		{"binary, no id", bin("Ce-Id", ""), []byte(good), httpReply{400, plain, `missing CloudEvents attribute "id"`}},
		{"binary, no source", bin("Ce-Source", ""), []byte(good), httpReply{400, plain, `missing CloudEvents attribute "source"`}},
		{"binary, no type", bin("Ce-Type", ""), []byte(good), httpReply{400, plain, `missing CloudEvents attribute "type"`}},
		{"binary, no id nor type", bin("Ce-Id", "", "Ce-Type", ""), []byte(good), httpReply{400, plain, `missing CloudEvents attributes "id", "type"`}},
		{"structured, no specversion", structured, doc("specversion"), httpReply{400, plain, `missing CloudEvents attribute "specversion"`}},
		{"structured, no source", structured, doc("source"), httpReply{400, plain, `missing CloudEvents attribute "source"`}},
		{"structured, no id", structured, doc("id"), httpReply{400, plain, `missing CloudEvents attribute "id"`}},
		{"structured, no type", structured, doc("type"), httpReply{400, plain, `missing CloudEvents attribute "type"`}},
		{"unknown dataschema", bin("Ce-Dataschema", "strmlocal:schema:acme/nope/1.0.0"), []byte(good), httpReply{400, plain, "dataschema strmlocal:schema:acme/nope/1.0.0: schema acme/nope/1.0.0 not found"}},
		{"foreign dataschema", bin("Ce-Dataschema", "https://example.com/demo.json"), []byte(good), httpReply{400, plain, `dataschema "https://example.com/demo.json" is not a strmlocal schema: want strmlocal:schema:<handle/name/version>`}},
		{"no dataschema", bin("Ce-Dataschema", ""), []byte(good), httpReply{400, plain, "missing dataschema: set it to strmlocal:schema:<handle/name/version> of the event's schema (or send the header Strm-Schema-Ref)"}},
		{"binary, data not JSON", bin(), []byte(`{"strmMeta": `), httpReply{400, plain, "data is not JSON: unexpected end of JSON input"}},
		{"binary, text data", bin("Content-Type", "text/plain"), []byte(good), httpReply{400, plain, `datacontenttype "text/plain": send the event as JSON (application/json)`}},
		{"binary, no data", bin(), nil, httpReply{400, plain, "missing data: the event goes in data, as JSON"}},
		{"structured, data not JSON", structured, doc("data", "datacontenttype", "text/plain", "data", "hello"), httpReply{400, plain, `datacontenttype "text/plain": send the event as JSON (application/json)`}},
		{"structured, not JSON at all", structured, []byte(`{"specversion": "1.0", "id": `), httpReply{400, plain, "invalid CloudEvent: unexpected end of JSON input"}},
		{"the event breaks a rule", bin(), []byte(strings.Replace(good, `"consistentValue": "s1"`, `"consistentValue": ""`, 1)),
			httpReply{400, plain, "Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'"}},
		{"no token", bin("Authorization", ""), []byte(good), httpReply{401, "application/json", `{"error":"missing stream credentials: send the stream's client id and secret as HTTP Basic authorization, or a bearer token from /auth/realms/streams/protocol/openid-connect/token"}` + "\n"}},
		{"derived stream's token", bin("Authorization", "Bearer "+derivedToken), []byte(good), httpReply{403, plain, "stream 'demo-2' is derived from 'demo' and accepts no events: use the credentials of 'demo'"}},
		{"not a batch", map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/cloudevents-batch+json"}, []byte(`{"id": 1}`), httpReply{400, plain, "the batch is not a JSON array of CloudEvents: json: cannot unmarshal object into Go value of type []json.RawMessage"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := postEvent(t, sb.HTTPClient, u, c.header, c.body)
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if got.status == 204 {
				accepted++
			}
		})
	}
	if n := len(src.Read()); n != accepted || accepted != 5 {
		t.Fatalf("%d events stored for %d accepted, want 5", n, accepted)
	}

	// A batch: each event judged on its own; the good ones stored once, in
	// order, a run of one schema in one write.
	batch := fmt.Sprintf(`[
		{"specversion": "1.0", "id": "b0", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:%[1]s", "data": %[2]s},
		{"specversion": "1.0", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:%[1]s", "data": %[2]s},
		{"specversion": "1.0", "id": "b2", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:%[1]s", "data": {"strmMeta": 1}},
		{"specversion": "1.0", "id": "b3", "source": "/t", "type": "t", "data": %[2]s},
		{"specversion": "1.0", "id": "b4", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:streammachine/clickstream/1.0.0", "data": %[3]s},
		{"id": "b5", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:%[1]s", "data": %[2]s},
		{"specversion": "1.0", "id": "b6", "source": "/t", "type": "t", "dataschema": "strmlocal:schema:acme/nope/1.0.0", "data": %[2]s},
		{"specversion": "1.0", "id": "b7", "source": "/t", "type": "t", "dataschema": "%[1]s", "data": %[2]s}
	]`, demoSchema, demo("s9", 0), click("sess", "cust", "https://shop.example/p/1", 0))
	got := postEvent(t, sb.HTTPClient, u, map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/cloudevents-batch+json"}, []byte(batch))
	want := httpReply{200, "application/json", `[{"id":"b0","accepted":true,"offset":5},` +
		`{"id":"","accepted":false,"error":"missing CloudEvents attribute \"id\""},` +
		`{"id":"b2","accepted":false,"error":"event does not match schema 'streammachine/demo/1.0.2': field 'strmMeta': expected record StrmMeta, got number"},` +
		`{"id":"b3","accepted":false,"error":"missing dataschema: set it to strmlocal:schema:<handle/name/version> of the event's schema (or send the header Strm-Schema-Ref)"},` +
		`{"id":"b4","accepted":true,"offset":6},` +
		`{"id":"b5","accepted":false,"error":"missing CloudEvents attribute \"specversion\""},` +
		`{"id":"b6","accepted":false,"error":"dataschema strmlocal:schema:acme/nope/1.0.0: schema acme/nope/1.0.0 not found"},` +
		`{"id":"b7","accepted":true,"offset":7}]` + "\n"}
	if got != want {
		t.Errorf("batch\n got %+v\nwant %+v", got, want)
	}
	recs := src.Read()
	if len(recs) != 8 || recs[5].SchemaRef != demoSchema || recs[6].SchemaRef != "streammachine/clickstream/1.0.0" || recs[7].SchemaRef != demoSchema {
		t.Errorf("stored %d events after the batch, want 8: %v", len(recs), recs)
	}
	// The webhook validation request.
	req, _ := http.NewRequest(http.MethodOptions, u, nil)
	req.Header.Set("WebHook-Request-Origin", "eventemitter.example.com")
	res, err := sb.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("WebHook-Allowed-Origin") != "*" || res.Header.Get("Allow") != "OPTIONS, POST" {
		t.Errorf("OPTIONS: %s %v", res.Status, res.Header)
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// An http connector's secrets are never shown, its config is checked
// field by field, and jobs write only to connectors of their kinds.
func TestCloudEventsConnectorAndJobRefusals(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	sb.CreateStream("demo")
	conn := createConnector(t, sb, "hook", "http", map[string]any{"url": "http://127.0.0.1:1/hook", "bearerToken": "TOKEN-SECRET-42", "headers": map[string]any{"X-Tenant": "t1"}})
	if b, _ := json.Marshal(conn.Config.AsMap()); string(b) != `{"bearerToken":"***","headers":{"X-Tenant":"t1"},"url":"http://127.0.0.1:1/hook"}` {
		t.Errorf("config shown as %s", b)
	}
	cs := sb.Client.Connectors
	create := func(cfg map[string]any) error {
		_, err := cs.CreateDataConnector(ctx, connect.NewRequest(&v1.CreateDataConnectorRequest{DataConnector: &v1.DataConnector{Name: "x", Kind: "http", Config: config(t, cfg)}}))
		return err
	}
	assertError(t, create(map[string]any{"url": "ftp://h", "headers": map[string]any{"a": 1}}), connect.CodeInvalidArgument,
		`config.headers.a: got number, want string; config.url: 'ftp://h' does not match pattern '^https?://[^/?#@\\s]+([/?][^#\\s]*)?$'`)
	assertError(t, create(map[string]any{"url": "https://h/p", "bearerToken": "t", "username": "u", "password": "p"}), connect.CodeInvalidArgument,
		"config.bearerToken: give a bearer token or basic auth (username and password), not both")
	assertError(t, create(map[string]any{"url": "https://h/p", "headers": map[string]any{"Authorization": "Basic x"}}), connect.CodeInvalidArgument,
		"config.headers: Authorization is set by the connector (bearerToken, username and password) and the CloudEvent, not by headers")
	_, err := cs.TestDataConnector(ctx, connect.NewRequest(&v1.TestDataConnectorRequest{Name: "hook"}))
	assertError(t, err, connect.CodeUnavailable, "webhook http://127.0.0.1:1/hook: OPTIONS: dial tcp 127.0.0.1:1: connect: connection refused")

	job := func(kind, connector string, cfg map[string]any) error {
		_, err := sb.Client.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: &v1.Job{Kind: kind, Stream: "demo", DataConnector: connector, Config: config(t, cfg)}}))
		return err
	}
	assertError(t, job("cloudevents-sink", "hook", map[string]any{"batch": 0, "type": "", "extra": true}), connect.CodeInvalidArgument,
		"config.batch: minimum: got 0, want 1; config.type: minLength: got 0, want 1; config: additional properties 'extra' not allowed")
	assertError(t, job("cloudevents-sink", "hook", map[string]any{"batch": 1001}), connect.CodeInvalidArgument, "config.batch: maximum: got 1,001, want 1,000")
	assertError(t, job("batch-exporter", "hook", nil), connect.CodeInvalidArgument,
		`dataConnector: a batch-exporter writes to a data connector of kind local or s3, and "hook" is of kind http`)
	sb.CreateLocalConnector(t, "dir")
	assertError(t, job("cloudevents-sink", "dir", nil), connect.CodeInvalidArgument,
		`dataConnector: a cloudevents-sink writes to a data connector of kind http, and "dir" is of kind local`)
	// A job that cannot reach its webhook retries, and its error names no
	// secret.
	createJob(t, sb, &v1.Job{Kind: "cloudevents-sink", Stream: "demo", DataConnector: "hook", Config: config(t, map[string]any{"includeExistingEvents": true})})
	if got := getJob(t, sb, "hook-demo").Config.AsMap(); fmt.Sprint(got) != fmt.Sprint(map[string]any{"batch": float64(1), "includeExistingEvents": true, "structured": false}) {
		t.Errorf("config %v", got)
	}
}
