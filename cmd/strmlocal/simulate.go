package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/sim"
)

type simulateOptions struct {
	rate           float64
	count          int
	duration       time.Duration
	seed           uint64
	sessions       int
	invalid        float64
	via            string
	concurrency    int
	consentLevels  []string
	consentChanges float64
	forgets        float64
}

func newSimulateCmd(e *env) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate demo|clickstream|sensors STREAM [--rate R] [--count N|--duration D] [--seed S] [--invalid-ratio F] [--via connect|http]",
		Short: "Send simulated events to a source stream",
		Long: `Send simulated events to a source stream, authenticated with its saved
credentials (see create stream), through the public API:

  demo         the original CLI simulator's random demo events
               (streammachine/demo/1.0.2); --sessions is the session range
  clickstream  web-shop visitors walking a funnel, with cookie-banner consent,
               consent changes and erasure requests (keys forget) of customers
               (streammachine/clickstream/1.0.0); --sessions visitors at once
  sensors      machines on sites with drifting, spiking and failing sensors and
               operators badging in (strmlocal/sensor/1.0.0 and its JSON Schema
               variant strmlocal/sensor-json/1.0.0); --sessions machines

The same --seed makes the same events (sensor readings also carry the time).
--rate is events per second, 0 for as fast as the server takes them: 10 by
default, unlimited by default with --count. Without --count or --duration the
simulation runs until interrupted. --invalid-ratio
mixes in events that break a rule of their contract on purpose; each must be
rejected for that reason. --via connect sends batches of 256 with
EventService.SendEvents; --via http sends one POST /event per event, as the
STRM drivers do.

Progress goes to stderr, the summary to stdout. Exits with 1 when a valid
event was rejected, an invalid one accepted, or one rejected for another
reason than the one it was made to break.`,
		Example: `  strmlocal simulate demo demo --count 1000
  strmlocal simulate clickstream shop --rate 50 --duration 5m --invalid-ratio 0.1
  strmlocal simulate sensors plant --seed 42 --sessions 5 --via http`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.simulate(cmd, args[0], args[1], o)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.rate, "rate", 10, "events per second; 0 for as fast as possible (the default with --count)")
	f.IntVar(&o.count, "count", 0, "stop after this many events")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long, e.g. 30s or 5m")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the random source (default: a random one, printed in the summary)")
	f.IntVar(&o.sessions, "sessions", 0, "demo: session range (1000); clickstream: visitors at once (100); sensors: machines (20)")
	f.Float64Var(&o.invalid, "invalid-ratio", 0, "fraction of events, 0 to 1, that break a rule of their contract on purpose")
	f.StringVar(&o.via, "via", "connect", "connect (batched SendEvents) or http (POST /event, one event per request)")
	f.IntVar(&o.concurrency, "concurrency", 4, "requests in flight at once")
	f.StringSliceVar(&o.consentLevels, "consent-levels", []string{"", "0", "0/1", "0/1/2", "0/1/2/3"}, "demo: the consent `levels` each event picks from, comma-separated; 0/1 is levels 0 and 1, an empty one no consent")
	f.Float64Var(&o.consentChanges, "consent-changes", 0.05, "clickstream: fraction of visitors who change their cookie consent mid-session")
	f.Float64Var(&o.forgets, "forget-ratio", 0.02, "clickstream: fraction of logged-in visitors who ask to be forgotten when they leave")
	return cmd
}

func (e *env) simulate(cmd *cobra.Command, name, stream string, o simulateOptions) error {
	if _, err := sim.SchemaRefs(name); err != nil {
		return err
	}
	if cmd.Flags().Changed("count") && cmd.Flags().Changed("duration") {
		return errors.New("--count and --duration exclude each other: give one")
	}
	if o.via != "connect" && o.via != "http" {
		return fmt.Errorf("invalid --via %q: use connect or http", o.via)
	}
	if o.concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: give 1 or more", o.concurrency)
	}
	if !cmd.Flags().Changed("rate") && cmd.Flags().Changed("count") {
		// A count asks for that many events, not for traffic over time.
		o.rate = 0
	}
	if !cmd.Flags().Changed("seed") {
		o.seed = rand.Uint64N(1 << 31) // short enough to retype
	}
	cfg := sim.Config{Seed: o.seed, Sessions: o.sessions, InvalidRatio: o.invalid,
		ConsentChanges: noneIfZero(o.consentChanges), Forgets: noneIfZero(o.forgets)}
	var err error
	if cfg.ConsentLevels, err = sim.ParseConsentLevels(o.consentLevels); err != nil {
		return fmt.Errorf("invalid --consent-levels: %w", err)
	}
	creds, err := e.sendingCredentials(cmd.Context(), stream)
	if err != nil {
		return err
	}

	// One keep-alive pool for everything, with a connection per request in
	// flight.
	hc := sim.NewHTTPClient(o.concurrency)
	defer hc.CloseIdleConnections()
	ctx := cmd.Context()
	c := client.New(e.server, client.Options{HTTPClient: hc, AdminToken: e.adminToken})
	defs, err := sim.Definitions(ctx, c.Schemas, name)
	if err != nil {
		return err
	}
	gen, err := sim.New(name, cfg, defs)
	if err != nil {
		return err
	}
	var send sim.Sender = &sim.ConnectSender{
		Events: c.AsStream(creds).Events,
		Stream: stream,
	}
	if o.via == "http" {
		send = &sim.HTTPSender{Client: hc, URL: strings.TrimSuffix(e.server, "/"), ClientID: creds.ClientId, ClientSecret: creds.ClientSecret}
	}
	forget := &sim.ConnectForgetter{Keys: c.Keys}

	// On a terminal one progress line is rewritten in place; elsewhere
	// (CI logs, files) a plain line now and then.
	tty := isTerminal(e.stderr)
	opts := sim.Options{Rate: o.rate, Count: o.count, Duration: o.duration, Concurrency: o.concurrency, ProgressEvery: 5 * time.Second,
		Progress: func(s sim.Stats) { fmt.Fprintln(e.stderr, s.Line()) }}
	if tty {
		opts.ProgressEvery = 250 * time.Millisecond
		opts.Progress = func(s sim.Stats) { fmt.Fprint(e.stderr, "\r\x1b[K"+s.Line()) }
	}
	sum, err := sim.Run(ctx, gen, send, forget, opts)
	if tty {
		fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	if sum != nil {
		fmt.Fprintf(e.stdout, "simulated %s to %s via %s, seed %d\n", name, stream, o.via, o.seed)
		sum.Write(e.stdout)
	}
	switch {
	case errors.Is(err, sim.ErrUnauthenticated):
		return e.refused(stream, connect.NewError(connect.CodeUnauthenticated, err))
	case err != nil:
		return e.refused(stream, err)
	case sum.Failures() > 0:
		return fmt.Errorf("%d unexpected results (see UNEXPECTED above): the server did not judge events as their contract says", sum.Failures())
	}
	return nil
}

// noneIfZero maps the CLI's 0 ("none") to sim's negative: in sim.Config 0
// means the default.
func noneIfZero(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}
