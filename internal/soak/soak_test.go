//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

// config is read from the environment (docs/soak.md).
type config struct {
	duration  time.Duration // SOAK_DURATION, default 10m: how long the load runs
	killEvery time.Duration // SOAK_KILL_EVERY, default 20s: mean time between SIGKILLs (±25%)
	maxRSS    int64         // SOAK_MAX_RSS_MIB, default 256: the bound on the server's VmRSS
	seed      uint64        // SOAK_SEED, default from the clock: events and timings
}

func readConfig(t *testing.T) config {
	t.Helper()
	c := config{duration: 10 * time.Minute, killEvery: 20 * time.Second, maxRSS: 256 << 20, seed: uint64(time.Now().UnixNano())}
	dur := func(name string, dst *time.Duration) {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a positive duration such as 2m", name, v)
			}
			*dst = d
		}
	}
	dur("SOAK_DURATION", &c.duration)
	dur("SOAK_KILL_EVERY", &c.killEvery)
	if v := os.Getenv("SOAK_MAX_RSS_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("SOAK_MAX_RSS_MIB=%q: want a positive number of MiB", v)
		}
		c.maxRSS = n << 20
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: want an unsigned integer", v)
		}
		c.seed = n
	}
	return c
}

// TestSoak runs mixed load against the real binary for SOAK_DURATION,
// SIGKILLing the server every ~SOAK_KILL_EVERY and starting it again on
// the same data directory. After the last restart it reads both source
// streams back whole and fails on any acknowledged event lost, any event
// stored twice, an acknowledged offset that holds another event, offsets
// that are not dense, a tail that missed or repeated a record, an error no
// kill explains, or a server VmRSS over SOAK_MAX_RSS_MIB.
func TestSoak(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("the soak reads the server's memory from /proc: Linux only")
	}
	cfg := readConfig(t)
	// The data directory stays when the soak fails, for `strmlocal repair`
	// and a look at the log.
	work, err := os.MkdirTemp("", "strmlocal-soak-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data directory and server log kept in %s", work)
			return
		}
		_ = os.RemoveAll(work)
	})
	logFile, err := os.Create(filepath.Join(work, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	srv := &server{
		bin:     buildBinary(t, work),
		dataDir: filepath.Join(work, "data"),
		addr:    freeAddr(t),
		log:     logFile,
		up:      make(chan struct{}),
	}
	t.Logf("soak: %v of load, SIGKILL every ~%v, RSS bound %d MiB, seed %d (SOAK_SEED), server %s", cfg.duration, cfg.killEvery, cfg.maxRSS>>20, cfg.seed, srv.addr)

	// ctx bounds everything, stop only the load: requests in flight when
	// the load stops may finish.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+5*time.Minute)
	defer cancel()
	if err := srv.start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, srv.logTail(30))
	}
	defer srv.kill() // if the test fails before the server is stopped

	h2c := client.NewH2CClient()
	l := &load{
		srv:    srv,
		admin:  client.New(srv.url(), client.Options{HTTPClient: h2c}),
		creds:  map[string]*v1.Credentials{},
		demo:   newTracker("soak", "soak-"),
		clicks: newTracker("soak-clicks", "click-"),
		seed:   cfg.seed,
	}
	for _, req := range []*v1.CreateStreamRequest{
		{Name: "soak"},
		{Name: "soak-2", DerivedFrom: "soak", Levels: []int32{2}},
		{Name: "soak-clicks"},
		{Name: "soak-clicks-0", DerivedFrom: "soak-clicks", Levels: []int32{0}},
	} {
		res, err := l.admin.Streams.CreateStream(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("create stream %s: %v", req.Name, err)
		}
		l.creds[req.Name] = res.Msg.Stream.Credentials
	}

	stop, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		l.run(stop, ctx)
	}()

	start := time.Now()
	r := rand.New(rand.NewPCG(cfg.seed, 0))
	for {
		wait := cfg.killEvery*3/4 + time.Duration(r.Int64N(int64(cfg.killEvery/2)+1))
		left := cfg.duration - time.Since(start)
		if left < wait {
			sleep(ctx, left)
			break
		}
		sleep(ctx, wait)
		srv.kill()
		if err := srv.start(ctx); err != nil {
			stopLoad()
			<-loadDone
			t.Fatalf("restart after kill %d: %v\n%s", srv.kills, err, srv.logTail(30))
		}
		t.Logf("%6s kill %d: acknowledged %d demo + %d click events so far, max RSS %d MiB, %d unexpected errors",
			time.Since(start).Round(time.Second), srv.kills, l.demo.count(), l.clicks.count(), srv.maxRSS.Load()>>20, l.n.unexpectedErr.Load())
	}
	stopLoad()
	select {
	case <-loadDone:
	case <-time.After(2 * time.Minute):
		t.Fatal("the load did not stop within 2 minutes")
	}

	// One more kill, so that everything is read back from a server that
	// recovered from SIGKILL, with no clean shutdown in between.
	srv.kill()
	if err := srv.start(ctx); err != nil {
		t.Fatalf("last restart: %v\n%s", err, srv.logTail(30))
	}
	demoOff, demoMarks := readAll(t, ctx, l, "soak", func(e event) string { return e.NotSensitiveValue })
	clickOff, clickMarks := readAll(t, ctx, l, "soak-clicks", func(e event) string { return e.Referrer })
	derivedOff, _ := readAll(t, ctx, l, "soak-2", nil)
	demoV := l.demo.check(demoOff, demoMarks)
	clickV := l.clicks.check(clickOff, clickMarks)
	tailMissed := checkTails(l.tails, derivedOff)
	wsMissed := checkWebsockets(l.wsConns, l.clicks, clickOff, clickMarks)
	stopErr := srv.stop()

	// The summary.
	maxRSS := srv.maxRSS.Load()
	var b strings.Builder
	fmt.Fprintf(&b, "soak summary (%v of load, seed %d):\n", cfg.duration, cfg.seed)
	fmt.Fprintf(&b, "  server: %d SIGKILLs, %d starts, clean SIGTERM stop at the end: %v\n", srv.kills, srv.starts, errString(stopErr))
	for v := range numVia {
		fmt.Fprintf(&b, "  acknowledged via %-24s %d\n", viaNames[v]+":", l.demo.byVia[v]+l.clicks.byVia[v])
	}
	for _, x := range []struct {
		tr *tracker
		v  verdict
	}{{l.demo, demoV}, {l.clicks, clickV}} {
		fmt.Fprintf(&b, "  stream %s: %d records read back, %d acknowledged; lost %d, duplicated %d, at another offset %d, foreign %d, offsets dense %v; %d stored though unacknowledged (server killed before answering); %d rejected\n",
			x.tr.stream, x.v.records, x.v.acked, len(x.v.lost), len(x.v.duplicated), len(x.v.misplaced), x.v.foreign, x.v.offsetsDense, x.v.unacked, x.tr.rejected)
	}
	fmt.Fprintf(&b, "  derived reads: %d pages, %d records; Connect tails: %d records over %d connections, %d ranges missed or repeated records; websocket tails: %d records over %d connections, %d with a gap or a repeat\n",
		l.n.pages.Load(), l.n.pageRecords.Load(), l.n.tailRecords.Load(), l.n.tailConns.Load(), tailMissed, l.n.wsRecords.Load(), l.n.wsConns.Load(), wsMissed)
	fmt.Fprintf(&b, "  forget: %d calls, %d key links, %d events; clock advances: %d; POST /event 401s (new token fetched): %d\n",
		l.n.forgets.Load(), l.n.forgotLinks.Load(), l.n.forgotEvents.Load(), l.n.advances.Load(), l.n.token401.Load())
	fmt.Fprintf(&b, "  errors: %d explained by a kill, %d unexpected\n", l.n.expectedErrs.Load(), l.n.unexpectedErr.Load())
	fmt.Fprintf(&b, "  server max RSS: %d MiB over %d samples (bound %d MiB)", maxRSS>>20, srv.rssSamples.Load(), cfg.maxRSS>>20)
	t.Log(b.String())

	for _, x := range []struct {
		tr *tracker
		v  verdict
	}{{l.demo, demoV}, {l.clicks, clickV}} {
		if x.v.failed() {
			t.Errorf("stream %s: lost %s, duplicated %s, at another offset %s, %d foreign records, offsets dense %v",
				x.tr.stream, some(x.v.lost), some(x.v.duplicated), some(x.v.misplaced), x.v.foreign, x.v.offsetsDense)
		}
		if x.tr.rejected > 0 {
			t.Errorf("stream %s: %d events rejected, e.g. %q", x.tr.stream, x.tr.rejected, x.tr.rejects)
		}
	}
	if tailMissed > 0 || wsMissed > 0 {
		t.Errorf("tails missed or repeated records: %d Connect ranges, %d websocket connections", tailMissed, wsMissed)
	}
	if n := l.n.unexpectedErr.Load(); n > 0 {
		t.Errorf("%d errors no kill explains, the first:\n  %s", n, strings.Join(l.unexpected, "\n  "))
	}
	if maxRSS > cfg.maxRSS {
		t.Errorf("server RSS reached %d MiB, over the bound of %d MiB", maxRSS>>20, cfg.maxRSS>>20)
	}
	if stopErr != nil {
		t.Errorf("stop: %v\n%s", stopErr, srv.logTail(30))
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// event holds the marker fields of the soak's events.
type event struct {
	NotSensitiveValue string `json:"notSensitiveValue"`
	Referrer          string `json:"referrer"`
}

// readAll reads a stream from offset 0 to its end and returns every
// record's offset and, with marker set, its marker.
func readAll(t *testing.T, ctx context.Context, l *load, stream string, marker func(event) string) ([]uint64, []string) {
	t.Helper()
	sc := l.stream(stream)
	var offsets []uint64
	var markers []string
	for from := uint64(0); ; {
		res, err := sc.Egress.ReadEvents(ctx, connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
		if err != nil {
			t.Fatalf("read %s from %d: %v", stream, from, err)
		}
		for _, rec := range res.Msg.Records {
			offsets = append(offsets, rec.Offset)
			if marker != nil {
				var e event
				if err := json.Unmarshal([]byte(rec.Json), &e); err != nil {
					t.Fatalf("%s offset %d: %v", stream, rec.Offset, err)
				}
				markers = append(markers, marker(e))
			}
		}
		if res.Msg.NextOffset >= res.Msg.EndOffset || res.Msg.NextOffset == from {
			return offsets, markers
		}
		from = res.Msg.NextOffset
	}
}

// checkTails counts the Connect tail connections that did not receive
// exactly the derived stream's records between their first and last one.
func checkTails(tails []tailRange, derived []uint64) int {
	bad := 0
	for _, tr := range tails {
		lo, _ := slices.BinarySearch(derived, tr.first)
		hi, found := slices.BinarySearch(derived, tr.last)
		if found {
			hi++
		}
		if hi-lo != tr.n {
			bad++
		}
	}
	return bad
}

// checkWebsockets counts the websocket connections whose clicks are not
// consecutive records of the source stream: soak-clicks-0 keeps every
// click (each has a consent level >= 0), so a tail sees them all in order.
func checkWebsockets(conns [][]int, clicks *tracker, offsets []uint64, markers []string) int {
	at := map[int]uint64{}
	for i, m := range markers {
		if id, ok := clicks.id(m); ok {
			at[id] = offsets[i]
		}
	}
	bad := 0
	for _, ids := range conns {
		for i := 1; i < len(ids); i++ {
			a, okA := at[ids[i-1]]
			b, okB := at[ids[i]]
			if !okA || !okB || b != a+1 {
				bad++
				break
			}
		}
	}
	return bad
}
