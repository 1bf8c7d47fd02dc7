package rpc_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/internal/pgtest"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/strmtest"
)

// With STRMLOCAL_CONFORMANCE=scale-out, every sandbox of the suite runs in
// the scale-out mode over a database of its own on one real PostgreSQL
// server and a Kafka-protocol broker of its own: the Makefile runs the
// conformance tests so (docs/scale-out.md).
func TestMain(m *testing.M) {
	if mode := os.Getenv("STRMLOCAL_CONFORMANCE"); mode == "scale-out" {
		strmtest.Defaults = scaleOutSandbox
	} else if mode != "" && mode != "embedded" {
		fmt.Fprintf(os.Stderr, "STRMLOCAL_CONFORMANCE=%q: use embedded or scale-out\n", mode)
		os.Exit(2)
	}
	pgtest.Main(m)
}

var sandboxes atomic.Int64

func scaleOutSandbox(t testing.TB) []strmtest.Option {
	master, err := keys.NewMasterKeyset()
	if err != nil {
		t.Fatal(err)
	}
	return []strmtest.Option{strmtest.WithScaleOut(strmtest.ScaleOut{
		StateURL:    pgtest.NewDatabase(t, pgtest.Shared(t)),
		Brokers:     []string{kafkatest.Start(t).Addr},
		TopicPrefix: fmt.Sprintf("sb%d-", sandboxes.Add(1)),
		MasterKey:   master,
	})}
}
