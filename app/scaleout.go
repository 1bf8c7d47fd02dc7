package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/store/pgkv"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log/kafkalog"
)

// The scale-out mode (docs/scale-out.md): the state in PostgreSQL, the log
// in Kafka, several gateways over both. Everything above — ingest, the
// Reader, the transports — is the same code as in the embedded mode.

func (o *Options) scaleOut() bool { return o.StateURL != "" || len(o.KafkaBrokers) > 0 }

func (o *Options) checkScaleOut() error {
	switch {
	case !o.scaleOut():
		return nil
	case o.StateURL == "":
		return errors.New("app: the Kafka log (--log kafka) needs the state in PostgreSQL too: pass --state postgres://…")
	case len(o.KafkaBrokers) == 0:
		return errors.New("app: the state in PostgreSQL (--state) needs the log in Kafka too: pass --log kafka --kafka-brokers HOST:PORT")
	case o.MasterKey == "":
		return fmt.Errorf("app: the scale-out mode needs the master key, the same on every gateway: set %s", keys.MasterKeyEnv)
	}
	return nil
}

// openScaleOut opens the state and the log of the scale-out mode.
func (a *App) openScaleOut(ctx context.Context) (store.KV, error) {
	pg, err := pgkv.Open(ctx, a.opts.StateURL, pgkv.Options{Logger: a.opts.Logger})
	if err != nil {
		return nil, err
	}
	a.pg = pg
	l, err := kafkalog.Open(ctx, kafkalog.Options{
		Brokers: a.opts.KafkaBrokers, TopicPrefix: a.opts.KafkaTopicPrefix, State: pg,
		Now: a.opts.Clock.Now, Logger: a.opts.Logger, OnCommit: a.opts.OnCommit,
	})
	if err != nil {
		return nil, err
	}
	a.log = l // not a nil *kafkalog.Log in the interface: closeStorage checks for nil
	if v, ok := a.opts.Clock.(*clock.Virtual); ok {
		// A gateway on a virtual clock starts at the time the others
		// advanced to.
		if t, ok, err := catalog.SharedClock(pg); err != nil {
			return nil, err
		} else if d := t.Sub(v.Now()); ok && d > 0 {
			if _, err := v.Advance(d); err != nil {
				return nil, err
			}
		}
	}
	return pg, nil
}

// followClock moves a virtual clock to the time another gateway advanced
// the shared one to, and runs what became due here: the key sweep and the
// runs of the jobs whose leases this gateway holds.
func (a *App) followClock() {
	v, ok := a.opts.Clock.(*clock.Virtual)
	if !ok {
		return
	}
	a.clockMu.Lock()
	defer a.clockMu.Unlock()
	t, ok, err := catalog.SharedClock(a.pg)
	if err != nil {
		a.opts.Logger.Warn("scale-out: read the shared clock", "error", err)
		return
	}
	d := t.Sub(v.Now())
	if !ok || d <= 0 {
		return
	}
	if _, err := v.Advance(d); err != nil {
		a.opts.Logger.Warn("scale-out: follow the shared clock", "error", err)
		return
	}
	if _, err := a.sweep(); err != nil {
		a.opts.Logger.Warn("scale-out: key sweep after the shared clock moved", "error", err)
	}
	a.runDueJobs()
}

// watchState keeps this gateway's caches in step with what the other
// gateways write: the catalogue is read again when it changed, and links
// shredded elsewhere are dropped (keys.SeeShreds), on the state's
// notifications and, in case one was missed, every keys.ShredsPoll.
func (a *App) watchState() {
	changed := make(chan []byte, 64)
	notify := func(prefix []byte) {
		select {
		case changed <- prefix:
		default: // a reload is queued already
		}
	}
	// Watch returns once it listens (so that Open returns listening), and
	// reconnects by itself after a loss (telling nil: anything may have
	// changed); only a first connection that fails is tried again here.
	if err := a.pg.Watch(a.ctx, notify); err != nil {
		a.opts.Logger.Warn("scale-out: cannot listen for the other gateways' changes; polling meanwhile", "error", err)
		a.bg.Go(func() {
			for wait := time.Second; a.ctx.Err() == nil; wait = min(2*wait, time.Minute) {
				select {
				case <-a.ctx.Done():
					return
				case <-time.After(wait):
				}
				if a.pg.Watch(a.ctx, notify) == nil {
					return
				}
			}
		})
	}
	a.bg.Go(func() { a.followState(changed) })
}

// followState applies what watchState hears, and every keys.ShredsPoll
// what may have been missed: the shreds log and the shared clock each
// tick, all of the catalogue every catalogPoll ticks.
func (a *App) followState(changed <-chan []byte) {
	tick := time.NewTicker(keys.ShredsPoll)
	defer tick.Stop()
	for ticks := 1; ; {
		var prefix []byte
		select {
		case <-a.ctx.Done():
			return
		case prefix = <-changed:
		case <-tick.C:
			if prefix = []byte{store.SpaceKeys}; ticks%catalogPoll == 0 {
				prefix = nil
			}
			ticks++
			a.followClock()
		}
		if prefix == nil || prefix[0] == store.SpaceCatalog {
			a.reloadCatalog()
			a.followClock()
		}
		if prefix == nil || prefix[0] == store.SpaceKeys {
			if err := a.keys.SeeShreds(); err != nil && !errors.Is(err, keys.ErrClosed) {
				a.opts.Logger.Warn("scale-out: read the links other gateways shredded", "error", err)
			}
		}
	}
}

// catalogPoll is how many keys.ShredsPoll ticks pass between two reloads of
// the catalogue without a notification.
const catalogPoll = 10

func (a *App) reloadCatalog() {
	for what, reload := range map[string]func() error{"streams": a.streams.Reload, "schemas and contracts": a.reg.Reload, "jobs": a.jobs.Reload} {
		if err := reload(); err != nil {
			a.opts.Logger.Warn("scale-out: read the "+what+" again", "error", err)
		}
	}
	a.startJobsFromState()
}

// DefaultJobLease is how long a gateway's lease on a job lasts without a
// renewal (Options.JobLease): a job moves to another gateway within it
// when its gateway dies.
const DefaultJobLease = 10 * time.Second

// acquireLease waits until this gateway holds the lease of job name, and
// returns a context that ends when the lease is lost (another gateway took
// it after a renewal failed) and a release that stops renewing it. ok is
// false when ctx ended first. While it waits, it answers Advance's pokes
// (a virtual clock) with no runs.
func (a *App) acquireLease(ctx context.Context, name string, r *runner) (held context.Context, release func(), ok bool) {
	ttl := a.opts.JobLease
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		got, err := a.jobs.Lease(name, a.gateway, time.Now(), ttl)
		if err != nil {
			a.opts.Logger.Warn("job lease: cannot reach the state", "job", name, "error", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-tick.C:
		case reply := <-r.pokes:
			reply <- 0
		}
	}
	// The cursor and state as the last holder left them.
	if err := a.jobs.Reload(); err != nil {
		a.opts.Logger.Warn("job lease: read the jobs again", "job", name, "error", err)
	}
	held, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		renew := time.NewTicker(ttl / 3)
		defer renew.Stop()
		until := time.Now().Add(ttl)
		for {
			select {
			case <-held.Done():
				return
			case <-renew.C:
			}
			now := time.Now()
			got, err := a.jobs.Lease(name, a.gateway, now, ttl)
			switch {
			case got:
				until = now.Add(ttl)
			case err == nil || !now.Before(until):
				cancel() // taken by another gateway, or ours ran out
				return
			}
		}
	}()
	return held, func() { cancel(); <-done }, true
}

// startJobsFromState stops the runners of jobs that are no longer RUNNING
// (paused or deleted through another gateway: a runner would sleep until
// its next run before it saw that) and starts a runner for every RUNNING
// job that has none (or whose runner ended): jobs created or resumed on
// other gateways. Each runner then waits for the job's lease.
func (a *App) startJobsFromState() {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	var stop []string
	for name := range a.runners {
		if _, st, err := a.jobs.Job(name); err != nil || st.State != catalog.JobRunning {
			stop = append(stop, name)
		}
	}
	a.stopRunnersLocked(stop)
	for _, job := range a.jobs.Jobs() {
		_, st, err := a.jobs.Job(job.Name)
		if err != nil || st.State != catalog.JobRunning {
			continue
		}
		if r, ok := a.runners[job.Name]; ok {
			select {
			case <-r.done:
				delete(a.runners, job.Name)
			default:
				continue
			}
		}
		a.startRunnerLocked(job.Name)
	}
}

// reachableEvery is how often the scale-out mode checks that PostgreSQL
// and the brokers answer.
const reachableEvery = time.Second

// reachable returns nil while the last check found the state and the log
// answering, else why not (ErrStorageUnavailable): Ready answers it, and
// Ingest refuses at once instead of waiting for a timeout. Always nil in
// the embedded mode.
func (a *App) reachable() error {
	if err := a.unreachable.Load(); err != nil {
		return *err
	}
	return nil
}

// checkReachable checks every reachableEvery that PostgreSQL answers a read
// and the brokers a metadata request, and records what it found: service
// resumes by itself when both answer again.
func (a *App) checkReachable() {
	tick := time.NewTicker(reachableEvery)
	defer tick.Stop()
	for {
		// The answer is for anyone (the health endpoints): it names the
		// service, not its address; the server log has the details.
		var err, told error
		if _, err = a.pg.Get([]byte{store.SpaceCatalog}); errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		if err != nil {
			told = &kindError{ErrStorageUnavailable, "storage unavailable: PostgreSQL (the state) does not answer; writes resume by themselves when it does"}
		} else if _, _, err = a.log.Bounds(0); err != nil { // stream 0 is never a stream: a metadata round trip
			told = &kindError{ErrStorageUnavailable, "storage unavailable: the Kafka brokers (the log) do not answer; writes resume by themselves when they do"}
		}
		switch {
		case err == nil:
			if a.unreachable.Swap(nil) != nil {
				a.opts.Logger.Info("scale-out: the state and the log answer again")
			}
		case errors.Is(err, store.ErrUnavailable):
			if a.unreachable.Swap(&told) == nil {
				a.opts.Logger.Warn("scale-out: storage unavailable; refusing writes until it answers", "error", err)
			}
		default:
			a.opts.Logger.Warn("scale-out: check of the state and the log", "error", err)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ScaleOut says where the data is in the scale-out mode: the brokers of the
// log and the state's database (its password hidden); "" in the embedded
// mode.
func (a *App) ScaleOut() string {
	if a.pg == nil {
		return ""
	}
	return "log in Kafka at " + strings.Join(a.opts.KafkaBrokers, ",") + ", state in PostgreSQL at " + pgkv.RedactDSN(a.opts.StateURL)
}
