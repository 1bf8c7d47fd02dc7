package app_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// opener opens an App for a test, in one of the modes.
type opener func(t *testing.T, o app.Options) *app.App

// eachMode runs a behaviour test against both storage modes: embedded
// (Pebble) and scale-out (PostgreSQL and a Kafka-protocol broker, both real
// servers on loopback), as one conformance suite (docs/scale-out.md).
func eachMode(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("embedded", func(t *testing.T) { test(t, open) })
	t.Run("scale-out", func(t *testing.T) { test(t, scaleOut(t).open) })
}

// cluster is the shared services of the scale-out mode for one test: a
// database of its own, a broker, a master key; every App it opens is one
// more gateway over them.
type cluster struct {
	dsn, prefix, master string
	broker              *kafkatest.Broker
}

var topics atomic.Int64

func scaleOut(t *testing.T) *cluster {
	t.Helper()
	srv := pgtest.Shared(t)
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{
		dsn: pgtest.NewDatabase(t, srv), broker: kafkatest.Start(t), master: master,
		prefix: fmt.Sprintf("t%d-", topics.Add(1)),
	}
}

func (c *cluster) open(t *testing.T, o app.Options) *app.App {
	t.Helper()
	o.StateURL, o.KafkaBrokers, o.KafkaTopicPrefix, o.MasterKey = c.dsn, []string{c.broker.Addr}, c.prefix, c.master
	return open(t, o)
}
