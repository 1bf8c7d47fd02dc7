package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/rpc"
)

type serveOptions struct {
	addr      string
	dataDir   string
	ephemeral bool
	verbose   bool
	noDemo    bool
	maxEvent  int
	clock     string
	rotation  time.Duration
	retention time.Duration
	init      string
	// the scale-out mode (docs/scale-out.md)
	logKind     string
	brokers     []string
	topicPrefix string
	state       string
	masterFile  string // the master key's file, instead of STRMLOCAL_MASTER_KEY
}

func newServeCmd(e *env) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the strmlocal server",
		Example: `  strmlocal serve
  strmlocal serve --ephemeral --clock virtual
  strmlocal serve --data-dir ./data --addr 127.0.0.1:50052 --no-demo
  strmlocal serve --addr 0.0.0.0:50051 --admin-token "$STRMLOCAL_ADMIN_TOKEN"
  STRMLOCAL_MASTER_KEY="$(cat master.json)" strmlocal serve --log kafka --kafka-brokers 127.0.0.1:9092 --state postgres://strmlocal@127.0.0.1/strmlocal`,
		Long: `Run the strmlocal server: the Connect/gRPC API, the STRM-compatible HTTP
surface and the health endpoints, all on one address, over HTTP/1.1 and
cleartext HTTP/2. Data is kept in --data-dir, or in memory with --ephemeral.
The Go runtime's memory has a soft limit of 100 MiB; GOMEMLIMIT sets another.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("data-dir") && o.ephemeral {
				return errors.New("--data-dir and --ephemeral exclude each other: keep one")
			}
			return serve(cmd, e, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", rpc.DefaultAddr, "address to listen on")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(e.getenv), "directory of the database")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "keep everything in memory; it is gone when the server stops")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log debug messages")
	f.BoolVar(&o.noDemo, "no-demo", false, "do not register the built-in catalogue (demo, clickstream and sensor schemas and contracts)")
	f.IntVar(&o.maxEvent, "max-event-size", engine.DefaultMaxEventBytes, "largest event body accepted, in bytes")
	f.StringVar(&o.clock, "clock", "real", "`kind` of clock: real, or virtual, which starts now and moves only with strmlocal clock advance")
	f.DurationVar(&o.rotation, "rotation", app.DefaultRotation, "how long a key link lasts before the next event of its session gets a new one")
	f.DurationVar(&o.retention, "key-retention", app.DefaultKeyRetention, "how long a key is kept after its period ends; then its events can no longer be decrypted")
	f.StringVar(&o.logKind, "log", "pebble", "`kind` of event log: pebble (embedded, in --data-dir), or kafka (the scale-out mode: with --kafka-brokers and --state; see docs/scale-out.md)")
	f.StringSliceVar(&o.brokers, "kafka-brokers", nil, "Kafka bootstrap `servers` (HOST:PORT,…) of --log kafka")
	f.StringVar(&o.topicPrefix, "kafka-topic-prefix", "", "prefix of the log's topics, one per source stream, with --log kafka (default \"strmlocal-log-\")")
	f.StringVar(&o.state, "state", "", "keep the state (catalogue, key links, jobs) in PostgreSQL at this `url` (postgres://…), with --log kafka: the scale-out mode")
	f.StringVar(&o.masterFile, "master-key-file", "", "read the master key from this `file` (as "+keys.MasterKeyEnv+" takes it; strmlocal keys new-master-key makes one): the gateways of the scale-out mode share one")
	f.StringVar(&o.init, "init", "", "apply this sandbox `file` at start, before serving (see strmlocal apply); a conflict stops the server from starting")
	return cmd
}

// serveMemoryLimit is the soft limit serve puts on the Go runtime's memory
// (heap, stacks and the runtime's own), unless GOMEMLIMIT is set: the Go
// heap otherwise grows to twice what is live before it is collected, which
// under full-speed ingest is 130 MiB on top of Pebble's memtables and
// binary (docs/performance.md, "Memory under load"). Collecting earlier
// costs about 2 % of CPU there. It is a soft limit: a server that needs
// more live memory still gets it.
const serveMemoryLimit = 100 << 20

// setMemoryLimit is debug.SetMemoryLimit in the binary (main); the tests,
// which run serve inside the test process, keep theirs.
var setMemoryLimit = func(int64) {}

func serve(cmd *cobra.Command, e *env, o serveOptions) error {
	if e.getenv("GOMEMLIMIT") == "" {
		setMemoryLimit(serveMemoryLimit)
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	opts := rpc.Options{
		Addr: o.addr, DataDir: o.dataDir, Logger: logger, AdminToken: e.adminToken, Version: version,
		NoDemo: o.noDemo, MaxEventBytes: o.maxEvent,
		Rotation: o.rotation, KeyRetention: o.retention, MasterKey: e.getenv(keys.MasterKeyEnv),
	}
	switch o.clock {
	case "real":
	case "virtual":
		opts.Clock = clock.NewVirtual(time.Now())
	default:
		return fmt.Errorf("invalid --clock %q: use real or virtual", o.clock)
	}
	if o.rotation <= 0 || o.retention <= 0 {
		return fmt.Errorf("--rotation and --key-retention must be positive durations, e.g. 24h")
	}
	if o.ephemeral {
		opts.DataDir = ""
	}
	if o.masterFile != "" {
		if opts.MasterKey != "" {
			return fmt.Errorf("--master-key-file and %s both give the master key: keep one", keys.MasterKeyEnv)
		}
		b, err := os.ReadFile(o.masterFile)
		if err != nil {
			return fmt.Errorf("--master-key-file: %w", err)
		}
		opts.MasterKey = strings.TrimSpace(string(b))
	}
	switch o.logKind {
	case "pebble":
		if len(o.brokers) > 0 || o.state != "" {
			return errors.New("--kafka-brokers and --state are for the scale-out mode: add --log kafka")
		}
	case "kafka":
		if len(o.brokers) == 0 || o.state == "" {
			return errors.New("--log kafka needs --kafka-brokers HOST:PORT and --state postgres://…")
		}
		if cmd.Flags().Changed("data-dir") || o.ephemeral {
			return errors.New("--log kafka keeps nothing in a data dir: drop --data-dir and --ephemeral")
		}
		opts.DataDir, opts.KafkaBrokers, opts.KafkaTopicPrefix, opts.StateURL = "", o.brokers, o.topicPrefix, o.state
	default:
		return fmt.Errorf("invalid --log %q: use pebble or kafka", o.logKind)
	}
	opts.SandboxFile = o.init
	// Stopping (SIGTERM, Ctrl-C) is honoured while the data dir opens too.
	ctx := cmd.Context()
	srv, err := rpc.NewContext(ctx, opts)
	if ctx.Err() != nil {
		if srv != nil {
			_ = srv.Close()
		}
		fmt.Fprintln(e.stdout, "strmlocal stopping")
		return nil
	}
	if err != nil {
		return err
	}
	if err := srv.ListenAndStart(); err != nil {
		_ = srv.Close()
		return err
	}
	where := "in memory (--ephemeral)"
	switch {
	case opts.StateURL != "":
		where = "in Kafka at " + strings.Join(opts.KafkaBrokers, ",") + " and PostgreSQL (scale-out)"
	case opts.DataDir != "":
		where = "in " + opts.DataDir
	}
	if o.clock == "virtual" {
		where += ", virtual clock"
	}
	fmt.Fprintf(e.stdout, "strmlocal %s serving on %s, data %s\n", version, srv.URL(), where)
	reg := srv.Registry()
	fmt.Fprintf(e.stdout, "%d schemas and %d event contracts registered; see `strmlocal list schemas` and `strmlocal list event-contracts`\n",
		len(reg.Schemas(catalog.SchemaFilter{})), len(reg.Contracts(catalog.ContractFilter{})))
	if initPlan := srv.SandboxPlan(); initPlan != nil {
		if err := e.saveInit(srv, initPlan); err != nil {
			_ = srv.Close()
			return err
		}
		fmt.Fprintf(e.stdout, "applied %s: %s\n", o.init, planOf(initPlan).Summary())
	}
	select {
	case <-ctx.Done():
	case <-waitChan(srv):
	}
	fmt.Fprintln(e.stdout, "strmlocal stopping")
	return srv.Close()
}

func waitChan(srv *rpc.Server) <-chan error {
	c := make(chan error, 1)
	go func() { c <- srv.Wait() }()
	return c
}

// defaultDataDir follows the XDG base directory rules.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "strmlocal")
	}
	return filepath.Join(getenv("HOME"), ".local", "share", "strmlocal")
}

// saveInit saves the credentials of the streams serve --init created, as
// create stream saves them: in the server's folder of the config dir, with
// its server.json.
func (e *env) saveInit(srv *rpc.Server, plan *v1.ApplyResponse) error {
	if len(plan.CreatedStreams) == 0 {
		return nil
	}
	dir, id := e.configDir(), srv.App().ServerID()
	saved, err := client.ServerSaved(dir, id)
	if err != nil {
		return err
	}
	for _, st := range plan.CreatedStreams {
		path, err := saved.Save("Stream", st.Name, st)
		if err != nil {
			return fmt.Errorf("--init: stream %s was created but its credentials could not be saved: %w", st.Name, err)
		}
		fmt.Fprintf(e.stderr, "saved credentials to %s\n", path)
	}
	return client.WriteServerRecord(dir, client.ServerRecord{ServerID: id, URL: srv.URL(), LastSeen: time.Now()})
}
