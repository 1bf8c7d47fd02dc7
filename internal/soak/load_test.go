//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

const (
	demoSchema  = "streammachine/demo/1.0.2"
	clickSchema = "streammachine/clickstream/1.0.0"
	customers   = 300 // clickstream data subjects, cust-0 .. cust-299
)

// Consent levels as producers give them, unsorted and repeated on purpose:
// the server stores each as a sorted set.
var (
	demoConsents  = []string{`[]`, `[0]`, `[2]`, `[3,1,3]`, `[0,1,2,3]`, `[2,2,2,3,3]`}
	clickConsents = []string{`[0]`, `[0,1]`, `[1,0,1]`}
)

func demoEvent(marker string, r *rand.Rand) []byte {
	s := r.IntN(1000)
	return fmt.Appendf(nil, `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","consentLevels":%s},"uniqueIdentifier":"u-%d","consistentValue":"session-%d","someSensitiveValue":"s-%d","notSensitiveValue":"%s"}`,
		demoConsents[r.IntN(len(demoConsents))], s, s, s, marker)
}

// clickEvent carries its marker in referrer, which is not PII.
func clickEvent(marker string, r *rand.Rand) []byte {
	return fmt.Appendf(nil, `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","consentLevels":%s},"producerSessionId":"sess-%d","url":"https://shop.example/p/%d","eventType":"view","referrer":"%s","userAgent":"soak","conversion":0,"abTests":[],"customer":{"id":"cust-%d"}}`,
		clickConsents[r.IntN(len(clickConsents))], r.IntN(2000), r.IntN(50), marker, r.IntN(customers))
}

// counters are what the load did besides sending, for the summary.
type counters struct {
	pages, pageRecords       atomic.Int64
	tailRecords, tailConns   atomic.Int64
	wsRecords, wsConns       atomic.Int64
	forgets, forgotLinks     atomic.Int64
	forgotEvents, advances   atomic.Int64
	expectedErrs, token401   atomic.Int64
	streamCalls, batchCalls  atomic.Int64
	httpPosts, unexpectedErr atomic.Int64
}

// tailRange is what one Connect tail connection received: n records,
// offsets first..last. The derived stream must hold exactly n records in
// that range, or the tail missed or duplicated some.
type tailRange struct {
	first, last uint64
	n           int
}

// load runs the workers against a server and records what they saw.
type load struct {
	srv    *server
	admin  *client.Client
	creds  map[string]*v1.Credentials
	demo   *tracker
	clicks *tracker
	seed   uint64
	n      counters

	mu         sync.Mutex
	unexpected []string // the first errors no kill explains
	tails      []tailRange
	wsConns    [][]int // per websocket connection, the click ids received in order
}

func (l *load) rand(worker uint64) *rand.Rand { return rand.New(rand.NewPCG(l.seed, worker)) }

func (l *load) stream(name string) *client.StreamClient { return l.admin.AsStream(l.creds[name]) }

// failed handles the error of a request sent to incarnation gen: expected if
// the server has gone down since, else recorded. Either way it waits for
// the server to be up before the worker goes on.
func (l *load) failed(ctx context.Context, gen int, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	if l.srv.wentDown(gen) {
		l.n.expectedErrs.Add(1)
	} else {
		l.unexpectedf("%s: %v", what, err)
		// Do not spin on an error that repeats.
		sleep(ctx, 100*time.Millisecond)
	}
	_, _ = l.srv.waitUp(ctx)
}

func (l *load) unexpectedf(format string, args ...any) {
	l.n.unexpectedErr.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.unexpected) < 20 {
		l.unexpected = append(l.unexpected, fmt.Sprintf(format, args...))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// run starts every worker; they stop starting new requests when stop ends
// and finish the ones in flight under ctx. It returns when all are done.
func (l *load) run(stop, ctx context.Context) {
	var wg sync.WaitGroup
	work := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	work(func() { l.sendBatches(stop, ctx, 1, l.demo, "soak", demoSchema, demoEvent, 100, 50*time.Millisecond) })
	work(func() {
		l.sendBatches(stop, ctx, 2, l.clicks, "soak-clicks", clickSchema, clickEvent, 50, 100*time.Millisecond)
	})
	work(func() { l.sendStreams(stop, ctx, 3, 10, 50, 50*time.Millisecond) })
	for w := range 2 {
		work(func() { l.postEvents(stop, ctx, uint64(4+w), 2*time.Millisecond) })
	}
	work(func() { l.readPages(stop, ctx, 6, "soak-2") })
	work(func() { l.readPages(stop, ctx, 7, "soak-clicks-0") })
	work(func() { l.tailConnect(stop, "soak-2") })
	work(func() { l.tailWebsocket(stop, "soak-clicks-0") })
	work(func() { l.forget(stop, ctx, 8, time.Second) })
	work(func() { l.advanceClock(stop, ctx, 9, 5*time.Second) })
	wg.Wait()
}

// sendBatches sends batches of size events with SendEvents every interval.
func (l *load) sendBatches(stop, ctx context.Context, worker uint64, tr *tracker, stream, schema string, mk func(string, *rand.Rand) []byte, size int, every time.Duration) {
	r := l.rand(worker)
	sc := l.stream(stream)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for sleepTick(stop, tick) {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		first := tr.reserve(size)
		req := &v1.SendEventsRequest{SchemaRef: schema, Serialization: v1.Serialization_SERIALIZATION_JSON}
		for i := range size {
			req.Events = append(req.Events, mk(tr.marker(first+i), r))
		}
		l.n.batchCalls.Add(1)
		res, err := sc.Events.SendEvents(ctx, connect.NewRequest(req))
		if err != nil {
			l.failed(ctx, gen, "SendEvents "+stream, err)
			continue
		}
		if len(res.Msg.Results) != size {
			l.unexpectedf("SendEvents %s: %d results for %d events", stream, len(res.Msg.Results), size)
			continue
		}
		for i, res := range res.Msg.Results {
			if res.Accepted {
				tr.ack(first+i, viaBatch, int64(res.Offset))
			} else {
				tr.reject(res.Rejection.GetError())
			}
		}
	}
}

func sleepTick(stop context.Context, tick *time.Ticker) bool {
	select {
	case <-tick.C:
		return true
	case <-stop.Done():
		return false
	}
}

// sendStreams sends demo events over SendEventStream: per stream, batches
// batches of size events, one every interval. The answer comes when the
// stream is closed; only then are its events acknowledged.
func (l *load) sendStreams(stop, ctx context.Context, worker uint64, batches, size int, every time.Duration) {
	r := l.rand(worker)
	sc := l.stream("soak")
	tick := time.NewTicker(every)
	defer tick.Stop()
	for stop.Err() == nil {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		l.n.streamCalls.Add(1)
		st := sc.Events.SendEventStream(ctx)
		var ids []int
		for b := 0; b < batches && sleepTick(stop, tick); b++ {
			first := l.demo.reserve(size)
			msg := &v1.SendEventStreamRequest{}
			if b == 0 {
				msg.SchemaRef, msg.Serialization = demoSchema, v1.Serialization_SERIALIZATION_JSON
			}
			for i := range size {
				ids = append(ids, first+i)
				msg.Events = append(msg.Events, demoEvent(l.demo.marker(first+i), r))
			}
			if err := st.Send(msg); err != nil {
				break // CloseAndReceive reports why
			}
		}
		res, err := st.CloseAndReceive()
		if err != nil {
			l.failed(ctx, gen, "SendEventStream", err)
			continue
		}
		rejected := map[uint64]string{}
		for _, rj := range res.Msg.Rejections {
			rejected[rj.Index] = rj.Verdict.GetError()
		}
		if got, want := res.Msg.Accepted, uint64(len(ids)-len(rejected)); got != want {
			l.unexpectedf("SendEventStream: %d accepted of %d events with %d rejections", got, len(ids), len(rejected))
			continue
		}
		for i, id := range ids {
			if msg, ok := rejected[uint64(i)]; ok {
				l.demo.reject(msg)
				continue
			}
			l.demo.ack(id, viaStream, -1)
		}
	}
}

// token gets an access token for a stream from the token endpoint.
func (l *load) token(ctx context.Context, hc *http.Client, stream string) (string, error) {
	c := l.creds[stream]
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientId}, "client_secret": {c.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.url()+client.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &t) != nil || t.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %s: %.200s", resp.Status, body)
	}
	return t.AccessToken, nil
}

// postEvents sends one demo event per POST /event (JSON, HTTP/1.1
// keep-alive), at most one every interval, as the STRM drivers do.
func (l *load) postEvents(stop, ctx context.Context, worker uint64, every time.Duration) {
	r := l.rand(worker)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(every)
	defer tick.Stop()
	tok := ""
	for sleepTick(stop, tick) {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		if tok == "" {
			if tok, err = l.token(ctx, hc, "soak"); err != nil {
				l.failed(ctx, gen, "token", err)
				continue
			}
		}
		id := l.demo.reserve(1)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.url()+"/event", strings.NewReader(string(demoEvent(l.demo.marker(id), r))))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set(client.HeaderSchemaRef, demoSchema)
		req.Header.Set(client.HeaderSerialization, "application/json")
		req.Header.Set("Content-Type", "application/json")
		l.n.httpPosts.Add(1)
		resp, err := hc.Do(req)
		if err != nil {
			l.failed(ctx, gen, "POST /event", err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			l.failed(ctx, gen, "POST /event", err)
			continue
		}
		switch resp.StatusCode {
		case http.StatusNoContent:
			l.demo.ack(id, viaHTTP, -1)
		case http.StatusBadRequest:
			l.demo.reject(string(body))
		case http.StatusUnauthorized:
			// A token from before a restart or past its expiry: get a new
			// one. The event was not stored.
			l.n.token401.Add(1)
			tok = ""
		default:
			if l.srv.wentDown(gen) {
				l.n.expectedErrs.Add(1)
				continue
			}
			l.unexpectedf("POST /event: %s: %.200s", resp.Status, body)
		}
	}
}

// readPages reads a derived stream in pages of up to 1000 records with
// ReadEvents: up to 20 pages from a random offset, then a pause. Offsets
// within and across the pages of one pass must increase.
func (l *load) readPages(stop, ctx context.Context, worker uint64, stream string) {
	r := l.rand(worker)
	sc := l.stream(stream)
	end := uint64(0)
	for sleep(stop, 200*time.Millisecond) {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		from := r.Uint64N(end + 1)
		last := int64(-1)
		for range 20 {
			res, err := sc.Egress.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 1000}))
			if err != nil {
				l.failed(ctx, gen, "ReadEvents "+stream, err)
				break
			}
			l.n.pages.Add(1)
			l.n.pageRecords.Add(int64(len(res.Msg.Records)))
			for _, rec := range res.Msg.Records {
				if int64(rec.Offset) <= last || rec.Offset < from {
					l.unexpectedf("ReadEvents %s from %d: offset %d after %d", stream, from, rec.Offset, last)
				}
				last = int64(rec.Offset)
			}
			end = res.Msg.EndOffset
			if res.Msg.NextOffset >= res.Msg.EndOffset || res.Msg.NextOffset == from {
				break
			}
			from = res.Msg.NextOffset
		}
	}
}

// tailConnect follows a derived stream with Connect's Tail from its end,
// again after every restart, and keeps what each connection received.
func (l *load) tailConnect(stop context.Context, stream string) {
	sc := l.stream(stream)
	for stop.Err() == nil {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		st, err := sc.Egress.Tail(stop, connect.NewRequest(&v1.TailRequest{Follow: true}))
		if err != nil {
			l.failed(stop, gen, "Tail "+stream, err)
			continue
		}
		l.n.tailConns.Add(1)
		var got tailRange
		for st.Receive() {
			for _, rec := range st.Msg().Records {
				if got.n > 0 && rec.Offset <= got.last {
					l.unexpectedf("Tail %s: offset %d after %d", stream, rec.Offset, got.last)
				}
				if got.n == 0 {
					got.first = rec.Offset
				}
				got.last = rec.Offset
				got.n++
			}
		}
		err = st.Err()
		_ = st.Close()
		l.n.tailRecords.Add(int64(got.n))
		if got.n > 0 {
			l.mu.Lock()
			l.tails = append(l.tails, got)
			l.mu.Unlock()
		}
		if err == nil {
			err = errors.New("tail ended")
		}
		l.failed(stop, gen, "Tail "+stream, err)
	}
}

// tailWebsocket follows a derived stream of clicks over GET /ws, again
// after every restart, and keeps the click ids each connection received.
func (l *load) tailWebsocket(stop context.Context, stream string) {
	hc := &http.Client{Timeout: 10 * time.Second}
	for stop.Err() == nil {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		tok, err := l.token(stop, hc, stream)
		if err != nil {
			l.failed(stop, gen, "token", err)
			continue
		}
		c, _, err := websocket.Dial(stop, "ws://"+l.srv.addr+"/ws", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
		})
		if err != nil {
			l.failed(stop, gen, "GET /ws", err)
			continue
		}
		l.n.wsConns.Add(1)
		c.SetReadLimit(1 << 20)
		var ids []int
		for {
			_, data, err := c.Read(stop)
			if err != nil {
				if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
					err = nil // token expired: dial again
				}
				_ = c.CloseNow()
				l.n.wsRecords.Add(int64(len(ids)))
				l.mu.Lock()
				l.wsConns = append(l.wsConns, ids)
				l.mu.Unlock()
				if err != nil {
					l.failed(stop, gen, "GET /ws read", err)
				}
				break
			}
			var ev struct {
				Referrer string `json:"referrer"`
			}
			id, ok := 0, json.Unmarshal(data, &ev) == nil
			if ok {
				id, ok = l.clicks.id(ev.Referrer)
			}
			if !ok {
				l.unexpectedf("GET /ws: a frame without a click marker: %.200s", data)
				continue
			}
			ids = append(ids, id)
		}
	}
}

// forget forgets a random clickstream customer every interval.
func (l *load) forget(stop, ctx context.Context, worker uint64, every time.Duration) {
	r := l.rand(worker)
	for sleep(stop, every) {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		res, err := l.admin.Keys.ForgetDataSubject(ctx, connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: fmt.Sprintf("cust-%d", r.IntN(customers))}))
		if err != nil {
			l.failed(ctx, gen, "ForgetDataSubject", err)
			continue
		}
		l.n.forgets.Add(1)
		l.n.forgotLinks.Add(int64(res.Msg.KeyLinks))
		l.n.forgotEvents.Add(int64(res.Msg.Events))
	}
}

// advanceClock moves the virtual clock by 1 to 30 hours every interval, so
// that keys rotate and, after a week of virtual time, are shredded. A
// restart starts the clock at the wall clock again.
func (l *load) advanceClock(stop, ctx context.Context, worker uint64, every time.Duration) {
	r := l.rand(worker)
	for sleep(stop, every) {
		gen, err := l.srv.waitUp(stop)
		if err != nil {
			return
		}
		by := time.Duration(1+r.IntN(30)) * time.Hour
		if _, err := l.admin.Clock.AdvanceClock(ctx, connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(by)})); err != nil {
			l.failed(ctx, gen, "AdvanceClock", err)
			continue
		}
		l.n.advances.Add(1)
	}
}
