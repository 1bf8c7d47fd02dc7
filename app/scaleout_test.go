package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A scale-out App refuses to start, in one line naming the service, when
// PostgreSQL or the brokers cannot be reached, or when a half of the mode
// or the master key is missing.
func TestScaleOutRefusals(t *testing.T) {
	c := scaleOut(t)
	dead := deadPort(t)
	_, port, _ := net.SplitHostPort(dead)
	for _, tc := range []struct {
		name string
		o    app.Options
		want string
	}{
		{"no postgres", app.Options{StateURL: "postgres://strmlocal:pw@" + dead + "/x?sslmode=disable", KafkaBrokers: []string{c.broker.Addr}, MasterKey: c.master},
			"postgres state: cannot connect to 127.0.0.1:" + port + ": dial tcp 127.0.0.1:" + port + ": connect: connection refused"},
		{"no broker", app.Options{StateURL: c.dsn, KafkaBrokers: []string{dead}, MasterKey: c.master},
			"kafka log: no broker reachable at 127.0.0.1:" + port + ": dial tcp 127.0.0.1:" + port + ": connect: connection refused"},
		{"no state", app.Options{KafkaBrokers: []string{c.broker.Addr}, MasterKey: c.master},
			"app: the Kafka log (--log kafka) needs the state in PostgreSQL too: pass --state postgres://…"},
		{"no log", app.Options{StateURL: c.dsn, MasterKey: c.master},
			"app: the state in PostgreSQL (--state) needs the log in Kafka too: pass --log kafka --kafka-brokers HOST:PORT"},
		{"no master key", app.Options{StateURL: c.dsn, KafkaBrokers: []string{c.broker.Addr}},
			"app: the scale-out mode needs the master key, the same on every gateway: set STRMLOCAL_MASTER_KEY"},
	} {
		a, err := app.Open(tc.o)
		if err == nil {
			a.Close()
		}
		if got := fmt.Sprint(err); got != tc.want {
			t.Errorf("%s: Open = %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// PostgreSQL or the brokers going away while a gateway runs: Ready says
// which, ingest is refused as unavailable (nothing acknowledged), and both
// come back by themselves when the service does.
func TestScaleOutOutages(t *testing.T) {
	srv := pgtest.Start(t)
	broker := kafkatest.Start(t)
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	a := open(t, app.Options{StateURL: srv.DSN(), KafkaBrokers: []string{broker.Addr}, MasterKey: master})
	st := create(t, a, catalog.NewStream{Name: "demo"})
	ingest(t, a, st, demo("s1", 1, 1))

	waitReady := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := a.Ready()
			if fmt.Sprint(err) == want || want == "" && err == nil {
				if err != nil && !errors.Is(err, app.ErrStorageUnavailable) {
					t.Fatalf("Ready = %v, not matching ErrStorageUnavailable", err)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ready = %v after 30 s, want %q", err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	refused := func(want string) {
		t.Helper()
		_, err := a.Ingest(t.Context(), st, demoSchema, 0, [][]byte{demo("s2", 1, 1)})
		if !errors.Is(err, app.ErrStorageUnavailable) || err.Error() != want {
			t.Fatalf("Ingest during the outage = %v, want %q matching ErrStorageUnavailable", err, want)
		}
	}

	srv.Stop(t)
	const pgDown = "storage unavailable: PostgreSQL (the state) does not answer; writes resume by themselves when it does"
	waitReady(pgDown)
	refused(pgDown)
	srv.Start(t)
	waitReady("")
	ingest(t, a, st, demo("s3", 1, 1))

	broker.Stop(t)
	const kafkaDown = "storage unavailable: the Kafka brokers (the log) do not answer; writes resume by themselves when they do"
	waitReady(kafkaDown)
	refused(kafkaDown)
	broker.Start(t)
	waitReady("")
	ingest(t, a, st, demo("s4", 1, 1))
}

// No plaintext PII reaches the services of the scale-out mode: every
// record of the stream's topic (read back by kcat) and every row of the
// state is searched for the values sent, after a derived read (which
// decrypts) and a forget.
func TestScaleOutNoPlaintext(t *testing.T) {
	c := scaleOut(t)
	a := c.open(t, app.Options{})
	st := create(t, a, catalog.NewStream{Name: "clicks"})
	secrets := []string{"SESSION-PLAINTEXT-9f1c", "CUSTOMER-PLAINTEXT-77ab"}
	var bodies [][]byte
	for i := range 20 {
		bodies = append(bodies, fmt.Appendf(nil, `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0, 1]}, "producerSessionId": "%s-%d", "url": "https://shop.example/", "eventType": "view", "referrer": "", "userAgent": "test", "conversion": 0, "abTests": [], "customer": {"id": "%s-%d"}}`, secrets[0], i, secrets[1], i))
	}
	res, err := a.Ingest(t.Context(), st, "streammachine/clickstream/1.0.0", engine.JSON, bodies)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
	}
	derived := create(t, a, catalog.NewStream{DerivedFrom: "clicks", View: engine.View{Type: engine.Granular, Levels: []int32{0, 1}}})
	r, err := a.Reader(derived)
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.Read(t.Context(), 0, 100)
	if err != nil || len(page.Records) != 20 || !strings.Contains(page.Records[0].JSON, secrets[0]) {
		t.Fatalf("derived read: %d records, %v; want 20 decrypted", len(page.Records), err)
	}
	if _, err := a.Forget(secrets[1] + "-3"); err != nil {
		t.Fatal(err)
	}

	msgs := topicRecords(t, c.broker.Addr, fmt.Sprintf("%s%d", c.prefix, st.ID))
	if len(msgs) != 20 || !bytes.Contains(msgs[0], []byte("https://shop.example/")) {
		t.Fatalf("read %d records, want 20 holding the url in clear (not PII): %q", len(msgs), msgs)
	}
	conn, err := pgx.Connect(t.Context(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), "SELECT k, v FROM strmlocal_kv")
	if err != nil {
		t.Fatal(err)
	}
	var state [][]byte
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		state = append(state, k, v)
	}
	if err := rows.Err(); err != nil || len(state) == 0 {
		t.Fatalf("state rows: %d, %v", len(state)/2, err)
	}
	for _, s := range []string{secrets[0], secrets[1], "SESSION-PLAINTEXT", "CUSTOMER-PLAINTEXT"} {
		for _, m := range msgs {
			if bytes.Contains(m, []byte(s)) {
				t.Fatalf("plaintext %q in a Kafka record: %q", s, m)
			}
		}
		for _, b := range state {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("plaintext %q in the PostgreSQL state", s)
			}
		}
	}
}

// topicRecords returns every record of a one-partition topic, as its key,
// header names and values, and value, with a consumer of its own (the
// values are binary Avro: kcat's line format cannot carry them).
func topicRecords(t *testing.T, addr, topic string) [][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	end, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := end.Lookup(topic, 0)
	var out [][]byte
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for int64(len(out)) < o.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			b := append(append([]byte(nil), r.Key...), r.Value...)
			for _, h := range r.Headers {
				b = append(append(b, h.Key...), h.Value...)
			}
			out = append(out, b)
		})
	}
	return out
}

// Two gateways: a job created on one is known to the other; paused
// through the other gateway it runs nowhere, and resumed there it runs
// again and drains its lag.
func TestScaleOutJobAcrossGateways(t *testing.T) {
	c := scaleOut(t)
	clk1, clk2 := clock.NewVirtual(t0), clock.NewVirtual(t0)
	g1, g2 := c.open(t, app.Options{Clock: clk1}), c.open(t, app.Options{Clock: clk2})
	dir := t.TempDir()
	if _, err := g1.CreateConnector(app.NewConnector{Name: "dir", Kind: "local", Config: fmt.Appendf(nil, `{"path": %q}`, dir)}); err != nil {
		t.Fatal(err)
	}
	src := create(t, g1, catalog.NewStream{Name: "demo"})
	if _, err := g1.CreateJob(app.NewJob{Kind: "batch-exporter", Stream: "demo"}); err != nil {
		t.Fatal(err)
	}
	// g2 learns of the job from g1's notification.
	waitFor(t, func() bool { _, err := g2.Job("dir-demo"); return err == nil })

	if _, err := g2.PauseJob("dir-demo"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { info, _ := g1.Job("dir-demo"); return info.State.State == catalog.JobPaused })
	ingest(t, g1, src, demo("a", 1, 0), demo("b", 1, 0))
	for _, g := range []struct {
		a   *app.App
		clk *clock.Virtual
	}{{g1, clk1}, {g2, clk2}} {
		adv, err := g.a.Advance(time.Hour)
		if err != nil || adv.JobsRun != 0 {
			t.Fatalf("Advance while paused = %+v, %v; want no run", adv, err)
		}
	}
	if names, _ := files(t, dir); len(names) != 0 {
		t.Fatalf("a job paused through the other gateway wrote %v", names)
	}

	if _, err := g2.ResumeJob("dir-demo"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { info, _ := g1.Job("dir-demo"); return info.Lag == 0 })
	if names, lines := files(t, dir); len(names) != 1 || len(lines) != 2 {
		t.Fatalf("after the resume: files %v with %d lines; want one file of 2 events", names, len(lines))
	}
}

// Gateways on virtual clocks share the time: an advance through one moves
// the others, and a gateway started later starts there.
func TestScaleOutSharedVirtualClock(t *testing.T) {
	c := scaleOut(t)
	clk1, clk2 := clock.NewVirtual(t0), clock.NewVirtual(t0)
	g1 := c.open(t, app.Options{Clock: clk1})
	c.open(t, app.Options{Clock: clk2})
	adv, err := g1.Advance(25 * time.Hour)
	if want := t0.Add(25 * time.Hour); err != nil || !adv.Now.Equal(want) {
		t.Fatalf("Advance = %+v, %v; want now %s", adv, err, want)
	}
	waitFor(t, func() bool { return clk2.Now().Equal(t0.Add(25 * time.Hour)) })
	clk3 := clock.NewVirtual(t0)
	c.open(t, app.Options{Clock: clk3})
	if got, want := clk3.Now(), t0.Add(25*time.Hour); !got.Equal(want) {
		t.Fatalf("a gateway started later is at %s, want %s", got, want)
	}
}
