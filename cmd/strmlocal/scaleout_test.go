package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/strmtest"
)

// The scale-out kill test (docs/scale-out.md): three gateway processes of
// the built binary over one Kafka broker and one PostgreSQL database, under
// mixed ingest, SIGKILLed in turn and started again on the same port.
const (
	// soLoadFor is how long the load runs. go test -short uses
	// soLoadForShort instead, for quick local runs; make test runs without
	// -short, so 60 s there. A gateway is killed every quarter of it (every
	// 15 s; 3 s with -short).
	soLoadFor      = 60 * time.Second
	soLoadForShort = 12 * time.Second

	soGateways  = 3
	soProducers = 6 // two per gateway, each sticking to its gateway
	// soSessions sessions are in use at a time; every soEpoch all producers
	// move together to soSessions new ones, so the first events of a
	// session reach all three gateways at the same moment again and again
	// (the key-link race), not only at the start.
	soSessions = 40
	soEpoch    = 5 * time.Second
	// soJobInterval is the batch exporter's interval (the shortest allowed).
	soJobInterval = 30 * time.Second
	// soPause is each producer's pause between two requests: it keeps the
	// volume (and the read-back at the end) within the test's time on two
	// cores; six producers still send at once.
	soPause = 8 * time.Millisecond
	// soJobLease is the job lease of a gateway: serve keeps the default.
	soJobLease = app.DefaultJobLease

	soDemoSchema = "streammachine/demo/1.0.2"
	soContract   = "streammachine/example/1.3.0"
	soSource     = "demo"
	soDerived    = "demo-2" // CUMULATIVE level 2: uniqueIdentifier and consistentValue decrypted
	soJob        = "dir-demo-2"
	soAdminToken = "scale-out-admin-token"
)

// soConsents are the consent levels events carry, in turn. demo-2 shows
// an event iff its highest level is ≥ 2.
var soConsents = []struct {
	levels string
	shown  bool
}{{`[0,1,2,3]`, true}, {`[2]`, true}, {`[1]`, false}, {`[3,1]`, true}, {`[0]`, false}}

// soGateway is one gateway: one process at a time on a fixed address,
// killed and started again by the test with the same arguments.
type soGateway struct {
	idx  int
	bin  string
	args []string
	env  []string
	addr string
	log  *os.File // stdout and stderr of every incarnation
	// admin calls the management API with the admin token.
	admin *client.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	gen    int  // moves when the gateway is taken down
	up     bool // the current incarnation answered /ready
	starts int
}

func soFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (g *soGateway) url() string { return "http://" + g.addr }

// start runs a new incarnation and returns once GET /ready answers 200.
func (g *soGateway) start() error {
	g.mu.Lock()
	g.starts++
	n := g.starts
	g.mu.Unlock()
	fmt.Fprintf(g.log, "--- scale-out test: start %d of gateway %d at %s\n", n, g.idx, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(g.bin, g.args...)
	cmd.Env = g.env
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	g.mu.Lock()
	g.cmd, g.done = cmd, done
	g.mu.Unlock()

	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	last := "no answer"
	for {
		res, err := hc.Get(g.url() + "/ready")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
			last = fmt.Sprintf("%s: %s", res.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-done:
			return fmt.Errorf("gateway %d (start %d) exited before it was ready (%v); last /ready: %s", g.idx, n, cmd.ProcessState, last)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway %d (start %d) not ready within 30s; last /ready: %s", g.idx, n, last)
		}
	}
	g.mu.Lock()
	g.up = true
	g.mu.Unlock()
	return nil
}

// kill SIGKILLs the current incarnation and waits for it to exit.
func (g *soGateway) kill() {
	g.mu.Lock()
	g.gen++
	g.up = false
	cmd, done := g.cmd, g.done
	g.cmd = nil
	g.mu.Unlock()
	if cmd == nil {
		return
	}
	fmt.Fprintf(g.log, "--- scale-out test: SIGKILL of gateway %d at %s\n", g.idx, time.Now().Format(time.RFC3339Nano))
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// state is the incarnation and whether it is ready: an error of a request
// sent then is expected if the gateway was down or has been taken down
// since (downSince).
func (g *soGateway) state() (gen int, up bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen, g.up
}

func (g *soGateway) downSince(gen int, up bool) bool {
	now, _ := g.state()
	return !up || now != gen
}

// soEvent is one event a producer sent.
type soEvent struct {
	id, session string
	shown       bool  // demo-2 shows it (its consent)
	acked       bool  // the request succeeded and the event was accepted
	offset      int64 // the offset a Connect acknowledgement gave; -1 otherwise
}

// soProducer sends to one gateway and records what it sent.
type soProducer struct {
	n      int
	g      *soGateway
	creds  *v1.Credentials
	events []soEvent

	requests, connErrors, posts, batches, singles int
	unexpected                                    []string
}

func (p *soProducer) event(session string, seq int) (string, []byte) {
	id := fmt.Sprintf("p%d-%d", p.n, seq)
	c := soConsents[(seq+p.n)%len(soConsents)]
	p.events = append(p.events, soEvent{id: id, session: session, shown: c.shown, offset: -1})
	return id, fmt.Appendf(nil, `{"strmMeta":{"eventContractRef":%q,"consentLevels":%s},"uniqueIdentifier":"u-%s","consistentValue":%q,"someSensitiveValue":"secret-%s","notSensitiveValue":%q}`,
		soContract, c.levels, session, session, id, id)
}

func (p *soProducer) unexpectedf(format string, args ...any) {
	if len(p.unexpected) < 20 {
		p.unexpected = append(p.unexpected, fmt.Sprintf("producer %d (gateway %d): ", p.n, p.g.idx)+fmt.Sprintf(format, args...))
	}
}

// failed counts the error of a request sent in state (gen, up): expected
// when the gateway was down or went down since, else recorded.
func (p *soProducer) failed(gen int, up bool, what string, err error) {
	if p.g.downSince(gen, up) {
		p.connErrors++
		time.Sleep(50 * time.Millisecond) // the gateway is coming back
		return
	}
	p.unexpectedf("%s: %v", what, err)
	time.Sleep(100 * time.Millisecond)
}

// run sends until stop ends: Connect SendEvents of one event or of small
// batches, and POST /event with a bearer token, in turn. A failed request
// is not retried: its events stay unacknowledged and the next request
// carries new ids.
func (p *soProducer) run(stop context.Context, loadStart time.Time) {
	h2 := client.NewH2CClient()
	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer h2.CloseIdleConnections()
	defer h1.CloseIdleConnections()
	sc := client.New(p.g.url(), client.Options{HTTPClient: h2}).AsStream(p.creds)
	token := ""
	epoch, k, seq := -1, 0, 0
	session := func() string {
		if e := int(time.Since(loadStart) / soEpoch); e != epoch {
			epoch, k = e, 0
		}
		k++
		return fmt.Sprintf("e%d-s%d", epoch, (k-1)%soSessions)
	}
	for req := 0; stop.Err() == nil; req++ {
		p.requests++
		gen, up := p.g.state()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		switch req % 6 {
		case 2, 5: // POST /event, one event
			p.posts++
			if token == "" {
				var err error
				if token, err = soToken(ctx, h1, p.g.url(), p.creds); err != nil {
					p.failed(gen, up, "token", err)
					break
				}
			}
			id, body := p.event(session(), seq)
			seq++
			status, msg, err := soPost(ctx, h1, p.g.url(), token, body)
			switch {
			case err != nil:
				p.failed(gen, up, "POST /event", err)
			case status == http.StatusNoContent:
				p.events[len(p.events)-1].acked = true
			case status == http.StatusUnauthorized:
				p.unexpectedf("POST /event %s: 401 for a token of this sandbox: %s", id, msg)
				token = ""
			default:
				p.failed(gen, up, "POST /event", fmt.Errorf("%d %s", status, msg))
			}
		default: // Connect SendEvents: a single event or a batch of 2 to 8
			size := 1
			if req%3 == 1 {
				size = 2 + req%7
				p.batches++
			} else {
				p.singles++
			}
			first := len(p.events)
			r := &v1.SendEventsRequest{SchemaRef: soDemoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON}
			for range size {
				_, ev := p.event(session(), seq)
				seq++
				r.Events = append(r.Events, ev)
			}
			res, err := sc.Events.SendEvents(ctx, connect.NewRequest(r))
			switch {
			case err != nil:
				p.failed(gen, up, "SendEvents", err)
			case len(res.Msg.Results) != size:
				p.unexpectedf("SendEvents: %d results for %d events", len(res.Msg.Results), size)
			default:
				for i, er := range res.Msg.Results {
					if !er.Accepted {
						p.unexpectedf("SendEvents: %s rejected: %v", p.events[first+i].id, er.Rejection)
						continue
					}
					p.events[first+i].acked = true
					p.events[first+i].offset = int64(er.Offset)
				}
			}
		}
		cancel()
		time.Sleep(soPause)
	}
}

// soToken gets an access token of a stream from the token endpoint.
func soToken(ctx context.Context, hc *http.Client, base string, c *v1.Credentials) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientId}, "client_secret": {c.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+client.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %s: %.200s", res.Status, body)
	}
	return tok.AccessToken, nil
}

// soPost sends one JSON event with POST /event.
func soPost(ctx context.Context, hc *http.Client, base, token string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/event", strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(client.HeaderSchemaRef, soDemoSchema)
	req.Header.Set(client.HeaderSerialization, "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	msg, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if err != nil {
		return 0, "", err
	}
	return res.StatusCode, strings.TrimSpace(string(msg)), nil
}

// soRead reads a stream whole from the beginning.
func soRead(t *testing.T, sc *client.StreamClient, name string) []*v1.Record {
	t.Helper()
	var out []*v1.Record
	for from := uint64(0); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := sc.Egress.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
		cancel()
		if err != nil {
			t.Fatalf("read %s from %d: %v", name, from, err)
		}
		out = append(out, res.Msg.Records...)
		if res.Msg.NextOffset >= res.Msg.EndOffset || res.Msg.NextOffset == from {
			return out
		}
		from = res.Msg.NextOffset
	}
}

// soFields are the fields of a demo event as egress shows it.
type soFields struct {
	UniqueIdentifier   string `json:"uniqueIdentifier"`
	ConsistentValue    string `json:"consistentValue"`
	SomeSensitiveValue string `json:"someSensitiveValue"`
	NotSensitiveValue  string `json:"notSensitiveValue"`
	StrmMeta           struct {
		KeyLink string `json:"keyLink"`
	} `json:"strmMeta"`
}

func soParse(t *testing.T, js string) soFields {
	t.Helper()
	var f soFields
	if err := json.Unmarshal([]byte(js), &f); err != nil || f.NotSensitiveValue == "" {
		t.Fatalf("an event without its id (%v): %.300s", err, js)
	}
	return f
}

// soLease is the job's lease as the state holds it (catalog.Jobs.Lease).
type soLease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// soSample is what the job monitor saw at one time.
type soSample struct {
	at     time.Time
	lease  soLease
	status *v1.JobStatus // nil if no gateway answered
}

// soKill is one SIGKILL of the load.
type soKill struct {
	gateway   int
	at        time.Time
	ready     time.Duration // from the kill to the restarted gateway's /ready
	lease     soLease       // the job's lease just before the kill
	cursor    uint64        // the job's cursor just before the kill
	err       error         // of the restart
	heldLease bool          // the killed gateway held the job's lease (its owner renewed no more)
	takeover  time.Time     // when another gateway took the lease (zero: not seen)
}

// TestScaleOutGatewayKills runs three gateways (serve --log kafka --state
// postgres://…) of the built binary over one kfake broker and one
// PostgreSQL database, sends a mixed load through all three (Connect
// SendEvents, single events and batches, and POST /event with a token),
// with the same sessions arriving at every gateway at once, while a
// gateway is SIGKILLed and started again on its port every quarter of the
// load, and a batch exporter job of the derived stream runs under a lease
// that moves when its gateway dies. Then the streams are read back and:
// no acknowledged event is lost, none is stored twice, every event of a
// session is under one key link, and the job's files hold a prefix of the
// derived stream, each event once, including events exported after the
// gateway that held the job's lease was killed.
func TestScaleOutGatewayKills(t *testing.T) {
	loadFor := soLoadFor
	if testing.Short() {
		loadFor = soLoadForShort
	}
	killEvery := loadFor / 4
	began := time.Now()
	// The binary builds while PostgreSQL starts. PostgreSQL is a server of
	// this test's own: this package's TestMain does not stop pgtest's
	// shared one (pgtest.Main).
	built := make(chan error, 1)
	go func() { _, err := builtBinary(); built <- err }()
	pg := pgtest.Start(t)
	dsn := pg.DSN()
	broker := kafkatest.Start(t)
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	bin := testBinary(t)

	// The job's files: removed after the gateways are killed (cleanups run
	// last first).
	exportDir := t.TempDir()
	gws := make([]*soGateway, soGateways)
	for i := range gws {
		home := t.TempDir()
		logf, err := os.OpenFile(filepath.Join(home, "gateway.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		addr := soFreeAddr(t)
		gws[i] = &soGateway{
			idx: i, bin: bin, addr: addr, log: logf,
			args: []string{"serve", "--addr", addr, "--log", "kafka", "--kafka-brokers", broker.Addr, "--state", dsn, "--admin-token", soAdminToken},
			// Nothing of the user's environment: a config and data dir of
			// its own, the master key every gateway shares.
			env: []string{
				"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
				"XDG_DATA_HOME=" + filepath.Join(home, "data"), "TMPDIR=" + home, "TZ=UTC",
				keys.MasterKeyEnv + "=" + master,
			},
			admin: client.New("http://"+addr, client.Options{HTTPClient: &http.Client{Timeout: 10 * time.Second}, AdminToken: soAdminToken}),
		}
	}
	t.Cleanup(func() {
		for _, g := range gws {
			g.kill()
			b, _ := os.ReadFile(g.log.Name())
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if t.Failed() {
				t.Logf("gateway %d (%s), the last lines of its log:\n%s", g.idx, g.addr, strings.Join(lines[max(0, len(lines)-60):], "\n"))
			} else {
				var warned []string
				for _, l := range lines {
					if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
						warned = append(warned, l)
					}
				}
				if len(warned) > 0 {
					t.Logf("gateway %d logged %d warnings and errors; the first:\n%s", g.idx, len(warned), strings.Join(warned[:min(10, len(warned))], "\n"))
				}
			}
			g.log.Close()
		}
	})
	// The first start runs the migrations under an advisory lock: start
	// the three at once.
	var wg sync.WaitGroup
	errs := make([]error, len(gws))
	for i, g := range gws {
		wg.Go(func() { errs[i] = g.start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// The streams, the connector and the job, through gateway 0.
	ctx := context.Background()
	admin := gws[0].admin
	src, err := admin.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{Name: soSource}))
	if err != nil {
		t.Fatal(err)
	}
	der, err := admin.Streams.CreateStream(ctx, connect.NewRequest(&v1.CreateStreamRequest{
		DerivedFrom: soSource, Levels: []int32{2}, ConsentType: v1.ConsentType_CONSENT_TYPE_CUMULATIVE,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if der.Msg.Stream.Name != soDerived {
		t.Fatalf("derived stream %q, want %q", der.Msg.Stream.Name, soDerived)
	}
	cfg, _ := structpb.NewStruct(map[string]any{"path": exportDir})
	if _, err := admin.Connectors.CreateDataConnector(ctx, connect.NewRequest(&v1.CreateDataConnectorRequest{
		DataConnector: &v1.DataConnector{Name: "dir", Kind: "local", Config: cfg},
	})); err != nil {
		t.Fatal(err)
	}
	jcfg, _ := structpb.NewStruct(map[string]any{"interval": soJobInterval.String()})
	job, err := admin.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{
		Job: &v1.Job{Kind: "batch-exporter", Stream: soDerived, DataConnector: "dir", Config: jcfg},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if job.Msg.Job.Name != soJob {
		t.Fatalf("job %q, want %q", job.Msg.Job.Name, soJob)
	}
	// Every gateway knows the streams and the job before the load.
	deadline := time.Now().Add(10 * time.Second)
	for _, g := range gws {
		for {
			_, err1 := g.admin.Streams.GetStream(ctx, connect.NewRequest(&v1.GetStreamRequest{Name: soDerived}))
			_, err2 := g.admin.Jobs.GetJob(ctx, connect.NewRequest(&v1.GetJobRequest{Name: soJob}))
			if err1 == nil && err2 == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway %d does not know the streams and the job 10s after gateway 0 created them: %v; %v", g.idx, err1, err2)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The job monitor: the lease row in PostgreSQL (the key of
	// catalog.leaseKey: the catalogue's space 0x02, 'L', the job's name)
	// and the job's status from any gateway that is up.
	pgc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pgc.Close(context.Background())
	leaseKey := append([]byte{0x02, 'L'}, soJob...)
	var monMu sync.Mutex
	var samples []soSample
	readLease := func(ctx context.Context) (soLease, error) {
		var v []byte
		var l soLease
		if err := pgc.QueryRow(ctx, `SELECT v FROM strmlocal_kv WHERE k = $1`, leaseKey).Scan(&v); err != nil {
			return l, err
		}
		return l, json.Unmarshal(v, &l)
	}
	jobStatus := func() *v1.JobStatus {
		for _, g := range gws {
			if _, up := g.state(); !up {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := g.admin.Jobs.GetJob(ctx, connect.NewRequest(&v1.GetJobRequest{Name: soJob}))
			cancel()
			if err == nil {
				return res.Msg.Job.Status
			}
		}
		return nil
	}
	sample := func() soSample {
		monMu.Lock()
		defer monMu.Unlock()
		s := soSample{at: time.Now(), status: jobStatus()}
		l, err := readLease(ctx)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("read the job's lease: %v", err)
		}
		s.lease = l
		samples = append(samples, s)
		return s
	}

	// The load.
	streamCreds := src.Msg.Stream.Credentials
	producers := make([]*soProducer, soProducers)
	for i := range producers {
		producers[i] = &soProducer{n: i, g: gws[i%soGateways], creds: streamCreds}
	}
	stop, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadStart := time.Now()
	var load sync.WaitGroup
	for _, p := range producers {
		load.Go(func() { p.run(stop, loadStart) })
	}
	var kills []*soKill
	var killer sync.WaitGroup
	killer.Go(func() {
		for i := 0; ; i++ {
			next := loadStart.Add(time.Duration(i+1) * killEvery)
			if !next.Before(loadStart.Add(loadFor)) {
				return
			}
			select {
			case <-stop.Done():
				return
			case <-time.After(time.Until(next)):
			}
			g := gws[i%soGateways]
			before := sample()
			k := &soKill{gateway: g.idx, at: time.Now(), lease: before.lease}
			if before.status != nil {
				k.cursor = before.status.Cursor
			}
			g.kill()
			k.err = g.start()
			k.ready = time.Since(k.at)
			kills = append(kills, k)
			if k.err != nil {
				return
			}
		}
	})
	var monitor sync.WaitGroup
	monitor.Go(func() {
		for stop.Err() == nil {
			sample()
			select {
			case <-stop.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	time.Sleep(loadFor)
	stopLoad()
	load.Wait()
	killer.Wait()
	monitor.Wait()
	loadTook := time.Since(loadStart)
	for _, k := range kills {
		if k.err != nil {
			t.Fatalf("restart after the SIGKILL of gateway %d at +%v: %v", k.gateway, k.at.Sub(loadStart).Round(time.Millisecond), k.err)
		}
	}
	for _, g := range gws {
		if _, up := g.state(); !up {
			t.Fatalf("gateway %d is not up after the load", g.idx)
		}
	}

	// What the producers sent.
	type sent struct {
		soEvent
		producer int
	}
	byID := map[string]sent{}
	var acked, unacked, connErrs, requests, posts, batches, singles int
	var unexpected []string
	for _, p := range producers {
		for _, e := range p.events {
			byID[e.id] = sent{e, p.n}
			if e.acked {
				acked++
			} else {
				unacked++
			}
		}
		connErrs += p.connErrors
		requests += p.requests
		posts += p.posts
		batches += p.batches
		singles += p.singles
		unexpected = append(unexpected, p.unexpected...)
	}
	for _, u := range unexpected {
		t.Errorf("an error no kill explains: %s", u)
	}
	if acked == 0 {
		t.Fatal("no event was acknowledged")
	}

	// The source stream, read back whole from gateway 1.
	base := gws[1].admin
	source := soRead(t, base.AsStream(streamCreds), soSource)
	stored := map[string][]uint64{} // id → offsets
	linksOf := map[string]map[string]bool{}
	for i, r := range source {
		if r.Offset != uint64(i) {
			t.Errorf("source record %d has offset %d: offsets are not dense from 0", i, r.Offset)
		}
		f := soParse(t, r.Json)
		stored[f.NotSensitiveValue] = append(stored[f.NotSensitiveValue], r.Offset)
		e, ok := byID[f.NotSensitiveValue]
		if !ok {
			t.Errorf("offset %d holds id %q, which no producer sent", r.Offset, f.NotSensitiveValue)
			continue
		}
		if r.KeyLink == "" || f.StrmMeta.KeyLink != r.KeyLink {
			t.Errorf("offset %d (%s): key link %q, strmMeta.keyLink %q", r.Offset, e.id, r.KeyLink, f.StrmMeta.KeyLink)
		}
		if f.ConsistentValue == e.session || f.UniqueIdentifier == "u-"+e.session || f.SomeSensitiveValue == "secret-"+e.id {
			t.Errorf("offset %d (%s): the source stream shows PII in plaintext: %s", r.Offset, e.id, r.Json)
		}
		if linksOf[e.session] == nil {
			linksOf[e.session] = map[string]bool{}
		}
		linksOf[e.session][r.KeyLink] = true
	}
	var lost, duplicated, storedUnacked, offsetWrong int
	for id, e := range byID {
		offs := stored[id]
		switch {
		case len(offs) > 1:
			duplicated++
			if duplicated <= 10 {
				t.Errorf("id %s (producer %d, acknowledged %v at %d) is stored %d times, at offsets %v", id, e.producer, e.acked, e.offset, len(offs), offs)
			}
		case len(offs) == 0 && e.acked:
			lost++
			if lost <= 10 {
				t.Errorf("id %s (producer %d) was acknowledged (offset %d; -1: POST /event) but is not stored", id, e.producer, e.offset)
			}
		case len(offs) == 1 && !e.acked:
			storedUnacked++
		case len(offs) == 1 && e.offset >= 0 && uint64(e.offset) != offs[0]:
			offsetWrong++
			if offsetWrong <= 10 {
				t.Errorf("id %s was acknowledged at offset %d but is stored at %d", id, e.offset, offs[0])
			}
		}
	}
	// Every session is under one key link (rotation is 24 h: one
	// period), and no two sessions share one.
	linkSessions := map[string]string{}
	maxLinks := 0
	for s, links := range linksOf {
		maxLinks = max(maxLinks, len(links))
		if len(links) != 1 {
			t.Errorf("session %s is under %d key links in the source stream: %v", s, len(links), slices.Sorted(maps.Keys(links)))
		}
		for l := range links {
			if other, ok := linkSessions[l]; ok {
				t.Errorf("key link %s is the link of sessions %s and %s", l, other, s)
			}
			linkSessions[l] = s
		}
	}

	// The derived stream, read back whole from gateway 2: exactly the
	// stored events its consent level shows, decrypted, each session
	// under one link.
	derived := soRead(t, gws[2].admin.AsStream(der.Msg.Stream.Credentials), soDerived)
	derivedLinks := map[string]map[string]bool{}
	derivedIDs := make([]string, 0, len(derived))
	seen := map[string]bool{}
	for _, r := range derived {
		f := soParse(t, r.Json)
		id := f.NotSensitiveValue
		derivedIDs = append(derivedIDs, id)
		e, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("derived offset %d holds id %q, which no producer sent", r.Offset, id)
			continue
		case !e.shown:
			t.Errorf("derived offset %d: %s has consent below 2", r.Offset, id)
		case seen[id]:
			t.Errorf("derived stream shows %s twice", id)
		case len(stored[id]) != 1 || stored[id][0] != r.Offset:
			t.Errorf("derived offset %d: %s is stored at %v", r.Offset, id, stored[id])
		case r.KeyLink != source[r.Offset].KeyLink:
			t.Errorf("derived offset %d: key link %s, the source record's %s", r.Offset, r.KeyLink, source[r.Offset].KeyLink)
		}
		seen[id] = true
		if f.ConsistentValue != e.session || f.UniqueIdentifier != "u-"+e.session || f.SomeSensitiveValue == "secret-"+id {
			t.Errorf("derived offset %d (%s, session %s): consistentValue %q, uniqueIdentifier %q, someSensitiveValue %q: want the first two decrypted, the third not",
				r.Offset, id, e.session, f.ConsistentValue, f.UniqueIdentifier, f.SomeSensitiveValue)
		}
		if derivedLinks[f.ConsistentValue] == nil {
			derivedLinks[f.ConsistentValue] = map[string]bool{}
		}
		derivedLinks[f.ConsistentValue][r.KeyLink] = true
	}
	for id, offs := range stored {
		if e, ok := byID[id]; ok && e.shown && len(offs) == 1 && !seen[id] {
			t.Errorf("%s (offset %d) has consent 2 or more but the derived stream does not show it", id, offs[0])
		}
	}
	derivedMax := 0
	for s, links := range derivedLinks {
		derivedMax = max(derivedMax, len(links))
		if len(links) != 1 {
			t.Errorf("session %s is under %d key links in the derived stream: %v", s, len(links), slices.Sorted(maps.Keys(links)))
		}
	}

	// The job: still RUNNING, its lease moved when the gateway holding it
	// was killed, and it exported events after that.
	// A holder renews its lease every third of it (until = renewal + the
	// lease). An owner's renewals stop when its gateway dies: the kill
	// that killed it is the first one after its last renewal.
	lastRenew := map[string]time.Time{}
	for _, s := range samples {
		if r := s.lease.Until.Add(-soJobLease); s.lease.Owner != "" && r.After(lastRenew[s.lease.Owner]) {
			lastRenew[s.lease.Owner] = r
		}
	}
	for i, k := range kills {
		o := k.lease.Owner
		if o == "" || lastRenew[o].After(k.at) || i > 0 && !lastRenew[o].After(kills[i-1].at) {
			continue
		}
		k.heldLease = true
		for _, s := range samples {
			if s.at.After(k.at) && s.lease.Owner != o {
				k.takeover = s.at
				break
			}
		}
	}
	var first *soKill
	for _, k := range kills {
		if k.heldLease && !k.takeover.IsZero() {
			first = k
			break
		}
	}
	st := jobStatus()
	if first != nil && !testing.Short() {
		// Wait (at most an interval and a lease) for a run after the
		// takeover, if none came during the load.
		wait := time.Now().Add(soJobInterval + soJobLease)
		for st == nil || st.Cursor <= first.cursor {
			if time.Now().After(wait) {
				break
			}
			time.Sleep(250 * time.Millisecond)
			st = jobStatus()
		}
	}
	if st == nil {
		t.Fatal("no gateway answers GetJob")
	}
	if st.State != v1.JobState_JOB_STATE_RUNNING {
		t.Errorf("job %s after the load: %v, want RUNNING", soJob, st)
	}
	switch {
	case first != nil && st.Cursor <= first.cursor:
		t.Errorf("job %s exported nothing after gateway %d, which held its lease, was killed at +%v (cursor %d then, %d now; lease taken over at +%v): %v",
			soJob, first.gateway, first.at.Sub(loadStart).Round(time.Millisecond), first.cursor, st.Cursor, first.takeover.Sub(loadStart).Round(time.Millisecond), st)
	case first == nil && !testing.Short():
		t.Errorf("no kill of the gateway holding job %s's lease followed by a takeover was seen; kills %s", soJob, soKills(kills, loadStart))
	case testing.Short() && (first == nil || st.Cursor <= first.cursor):
		// The load is shorter than an interval and a lease: the job may
		// not have run after a takeover yet.
		t.Logf("-short: the job ran after no takeover (kills %s)", soKills(kills, loadStart))
	}
	// The files hold a prefix of the derived stream, each event once, up
	// to the cursor at least (a run may have written a file whose cursor
	// is not saved yet: then more).
	cursorBefore := st.Cursor
	lines := strmtest.ReadExportedLines(t, exportDir, "")
	exported := map[string]int{}
	exportDup := 0
	for i, line := range lines {
		id := soParse(t, line).NotSensitiveValue
		exported[id]++
		if exported[id] == 2 {
			exportDup++
			t.Errorf("exported line %d: %s exported twice", i, id)
		}
		if i < len(derivedIDs) && derivedIDs[i] != id && exportDup == 0 {
			t.Errorf("exported line %d is %s, derived record %d is %s: the files are not the derived stream in order", i, id, i, derivedIDs[i])
			break
		}
	}
	if len(lines) > len(derivedIDs) {
		t.Errorf("%d lines exported, the derived stream holds %d records", len(lines), len(derivedIDs))
	}
	wantExported := 0
	for _, r := range derived {
		if r.Offset < cursorBefore {
			wantExported++
		}
	}
	if len(lines) < wantExported {
		t.Errorf("%d lines exported, but the cursor %d covers %d derived records", len(lines), cursorBefore, wantExported)
	}
	exportedAcked := 0
	for id := range exported {
		if byID[id].acked {
			exportedAcked++
		}
	}

	t.Logf("set-up %v, load %v, checks %v", loadStart.Sub(began).Round(time.Millisecond), loadTook.Round(time.Millisecond), time.Since(loadStart.Add(loadTook)).Round(time.Millisecond))
	t.Logf("load %v (kill every %v): %d requests (%d POST /event, %d SendEvents single, %d batches), %d connection errors while a gateway was down, %d unexpected errors",
		loadTook.Round(time.Millisecond), killEvery, requests, posts, singles, batches, connErrs, len(unexpected))
	t.Logf("kills: %s", soKills(kills, loadStart))
	t.Logf("stored %d source records (%d of them unacknowledged), %d derived; %d distinct key links in the source, %d sessions",
		len(source), storedUnacked, len(derived), len(linkSessions), len(linksOf))
	t.Logf("job %s: %v; %d lines in its files (%d acknowledged events), lease owners over the load: %s",
		soJob, st, len(lines), exportedAcked, soOwners(samples, loadStart))
	t.Logf("acknowledged=%d unacknowledged=%d lost=%d duplicated=%d sessions=%d links_per_session=%d kills=%d",
		acked, unacked, lost, duplicated, len(derivedLinks), max(maxLinks, derivedMax), len(kills))
}

func soKills(kills []*soKill, start time.Time) string {
	var b strings.Builder
	for i, k := range kills {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "gateway %d at +%v, ready again in %v", k.gateway, k.at.Sub(start).Round(time.Millisecond), k.ready.Round(time.Millisecond))
		if k.heldLease {
			fmt.Fprintf(&b, " (held the job's lease, cursor %d", k.cursor)
			if !k.takeover.IsZero() {
				fmt.Fprintf(&b, ", taken over at +%v", k.takeover.Sub(start).Round(time.Millisecond))
			}
			b.WriteString(")")
		}
	}
	return b.String()
}

// soOwners is the job's lease owners in turn, with the cursor when each
// was first seen.
func soOwners(samples []soSample, start time.Time) string {
	var b strings.Builder
	last := ""
	for _, s := range samples {
		if s.lease.Owner == last {
			continue
		}
		last = s.lease.Owner
		cursor := "?"
		if s.status != nil {
			cursor = fmt.Sprint(s.status.Cursor)
		}
		fmt.Fprintf(&b, "%s… from +%v (cursor %s) ", s.lease.Owner[:min(8, len(s.lease.Owner))], s.at.Sub(start).Round(time.Millisecond), cursor)
	}
	return strings.TrimSpace(b.String())
}
