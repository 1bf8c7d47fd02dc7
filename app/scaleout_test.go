package app_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
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
