package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/exporter"
)

// Defaults of the job options.
const (
	// DefaultJobRetryMin is the wait after a job's first failed run; each
	// further failure doubles it, up to DefaultJobRetryMax.
	DefaultJobRetryMin = time.Second
	DefaultJobRetryMax = time.Minute
	// DefaultJobRetries is the retry budget: a job that fails this many runs
	// in a row is FAILED (about 7 minutes with the default waits).
	DefaultJobRetries = 10
)

// jobKind is one kind of job.
type jobKind struct {
	Kind
	schema kindSchema
	// connectors are the kinds of data connector it writes to.
	connectors []string
	// continuous jobs run all the time, following the stream (a Kafka
	// exporter), rather than once per interval: run returns only on a
	// failure or when ctx ends, and Advance does not wait for them. Their
	// retry waits are wall-clock time even under a virtual clock.
	continuous bool
	// prepare checks a config for a stream and returns it with its defaults
	// filled in.
	prepare func(a *App, st *catalog.Stream, schema kindSchema, config []byte) ([]byte, error)
	// start is the state of a new job: its cursor.
	start func(a *App, st *catalog.Stream, config []byte) (catalog.JobState, error)
	// interval is how long after a successful run the next one is due
	// (continuous jobs: nil).
	interval func(config []byte) time.Duration
	// run does one run: it exports what is due, saving the state in r as it
	// goes.
	run func(ctx context.Context, r *jobRun) error
}

// jobKindList is every kind of job.
var jobKindList = []*jobKind{batchExporterKind(), keyExporterKind(), kafkaExporterKind(), cloudEventsSinkKind()}

var jobKinds, jobKindsSorted = indexKinds("job", jobKindList)

// JobKinds returns the kinds of job, by name.
func JobKinds() []Kind { return slices.Clone(jobKindsSorted) }

// NewJob is a job to create or validate.
type NewJob struct {
	// Name may be empty: <connector>-<stream>, "-keys" appended for a key
	// exporter.
	Name, Kind, Stream string
	// Connector may be empty when exactly one data connector exists.
	Connector string
	// Config is the kind's config as a JSON object.
	Config []byte
}

// JobInfo is a job with its state and its lag behind the stream's end.
type JobInfo struct {
	*catalog.Job
	State catalog.JobState
	Lag   uint64
	// Errors counts the job's failed runs since the App was opened.
	Errors uint64
}

// ValidateJob checks a job without saving it and returns it as CreateJob
// would save it.
func (a *App) ValidateJob(n NewJob) (*catalog.Job, error) {
	job, _, err := a.prepareJob(n)
	return job, err
}

func (a *App) prepareJob(n NewJob) (*catalog.Job, *catalog.Stream, error) {
	k, ok := jobKinds[n.Kind]
	if !ok {
		return nil, nil, invalidf("kind: unknown job kind %q (kinds: %s)", n.Kind, kindNames(jobKindsSorted))
	}
	st, err := a.streams.Get(n.Stream)
	if err != nil {
		return nil, nil, err
	}
	if n.Connector == "" {
		switch cs := a.jobs.Connectors(); len(cs) {
		case 0:
			return nil, nil, invalidf("dataConnector: there are no data connectors; create one first")
		case 1:
			n.Connector = cs[0].Name
		default:
			names := make([]string, len(cs))
			for i, c := range cs {
				names[i] = c.Name
			}
			return nil, nil, invalidf("dataConnector: name the data connector to write to (data connectors: %s)", strings.Join(names, ", "))
		}
	}
	c, err := a.jobs.Connector(n.Connector)
	if err != nil {
		return nil, nil, err
	}
	job, err := a.prepareJobOn(n, k, st, c.Kind)
	return job, st, err
}

// prepareJobOn checks a job of kind k on stream st writing to a data
// connector (n.Connector) of kind connectorKind, and returns it as it would
// be saved. The stream and the connector need not exist yet (a sandbox
// document being planned, sandbox.go).
func (a *App) prepareJobOn(n NewJob, k *jobKind, st *catalog.Stream, connectorKind string) (*catalog.Job, error) {
	if !slices.Contains(k.connectors, connectorKind) {
		return nil, invalidf("dataConnector: a %s writes to a data connector of kind %s, and %q is of kind %s", k.Name, strings.Join(k.connectors, " or "), n.Connector, connectorKind)
	}
	config, err := k.prepare(a, st, k.schema, n.Config)
	if err != nil {
		return nil, err
	}
	if n.Name == "" {
		n.Name = n.Connector + "-" + n.Stream
		if n.Kind == keyExporter {
			n.Name += "-keys"
		}
	}
	if err := catalog.ValidateName(n.Name); err != nil {
		return nil, invalidf("name: invalid job name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", n.Name)
	}
	return &catalog.Job{Name: n.Name, Kind: n.Kind, Stream: n.Stream, Connector: n.Connector, Config: config, CreateTime: a.opts.Clock.Now().UTC()}, nil
}

// CreateJob checks and saves a job and starts it.
func (a *App) CreateJob(n NewJob) (JobInfo, error) {
	job, st, err := a.prepareJob(n)
	if err != nil {
		return JobInfo{}, err
	}
	k := jobKinds[job.Kind]
	state, err := k.start(a, st, job.Config)
	if err != nil {
		return JobInfo{}, err
	}
	state.State, state.NextRun = catalog.JobRunning, time.Now().UTC() // continuous: at once, by the wall clock
	if !k.continuous {
		state.NextRun = job.CreateTime.Add(k.interval(job.Config))
	}
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	if err := a.jobs.CreateJob(job, state); err != nil {
		return JobInfo{}, err
	}
	a.startRunnerLocked(job.Name)
	return a.jobInfo(job, state), nil
}

// UpdateJob replaces the connector and config of a job, keeping its kind,
// stream and state (the cursor). A running job is stopped and started
// again with the new definition.
func (a *App) UpdateJob(n NewJob) (JobInfo, error) {
	if n.Name == "" {
		return JobInfo{}, invalidf("name: give the name of the job to update")
	}
	old, _, err := a.jobs.Job(n.Name)
	if err != nil {
		return JobInfo{}, err
	}
	if n.Connector == "" {
		n.Connector = old.Connector
	}
	job, _, err := a.prepareJob(n)
	if err != nil {
		return JobInfo{}, err
	}
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	_, running := a.runners[job.Name]
	if running {
		a.stopRunnersLocked([]string{job.Name})
	}
	err = a.jobs.ReplaceJob(job)
	if running {
		a.startRunnerLocked(job.Name)
	}
	if err != nil {
		return JobInfo{}, err
	}
	return a.Job(job.Name)
}

// Job returns the named job with its state.
func (a *App) Job(name string) (JobInfo, error) {
	job, st, err := a.jobs.Job(name)
	if err != nil {
		return JobInfo{}, err
	}
	return a.jobInfo(job, st), nil
}

// Jobs returns every job (of stream, when it is not "") by name.
func (a *App) Jobs(stream string) []JobInfo {
	var out []JobInfo
	for _, job := range a.jobs.Jobs() {
		if stream != "" && job.Stream != stream {
			continue
		}
		if info, err := a.Job(job.Name); err == nil {
			out = append(out, info)
		}
	}
	return out
}

func (a *App) jobInfo(job *catalog.Job, st catalog.JobState) JobInfo {
	a.jobErrMu.Lock()
	info := JobInfo{Job: job, State: st, Errors: a.jobErrors[job.Name]}
	a.jobErrMu.Unlock()
	if s, err := a.streams.Get(job.Stream); err == nil {
		if r, err := a.Reader(s); err == nil {
			if _, end, err := r.Bounds(); err == nil && end > st.Cursor {
				info.Lag = end - st.Cursor
			}
		}
	}
	return info
}

// DeleteJob stops and deletes a job; what it wrote stays.
func (a *App) DeleteJob(name string) error {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	if _, _, err := a.jobs.Job(name); err != nil {
		return err
	}
	if err := a.jobs.DeleteJobs(name); err != nil {
		return err
	}
	a.stopRunnersLocked([]string{name})
	a.forgetJobErrors(name)
	return nil
}

// PauseJob stops a running or failed job where it is: a run in progress
// stops before its next object, and the cursor stays.
func (a *App) PauseJob(name string) (JobInfo, error) {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	if _, st, err := a.jobs.Job(name); err != nil {
		return JobInfo{}, err
	} else if st.State == catalog.JobPaused {
		return JobInfo{}, statef("job %q is paused already", name)
	}
	a.stopRunnersLocked([]string{name})
	job, st, err := a.jobs.Job(name)
	if err != nil {
		return JobInfo{}, err
	}
	st.State, st.NextRun = catalog.JobPaused, time.Time{}
	if err := a.jobs.SaveState(name, st); err != nil {
		return JobInfo{}, err
	}
	return a.jobInfo(job, st), nil
}

// ResumeJob runs a paused or failed job again, at once, from its cursor.
func (a *App) ResumeJob(name string) (JobInfo, error) {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	job, st, err := a.jobs.Job(name)
	if err != nil {
		return JobInfo{}, err
	}
	if st.State == catalog.JobRunning {
		return JobInfo{}, statef("job %q is running already", name)
	}
	// Due at once, by the clock its runner goes by.
	st.State, st.Retries, st.NextRun = catalog.JobRunning, 0, a.opts.Clock.Now().UTC()
	if jobKinds[job.Kind].continuous {
		st.NextRun = time.Now().UTC()
	}
	if err := a.jobs.SaveState(name, st); err != nil {
		return JobInfo{}, err
	}
	a.startRunnerLocked(name)
	return a.jobInfo(job, st), nil
}

// runner is the goroutine of one running job.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	// pokes asks the runner to run if its job is due and to answer with the
	// number of runs done (Advance of a virtual clock); nil for continuous
	// jobs, which Advance does not wait for.
	pokes chan chan int
	// now is the clock of the job's schedule: the server clock, or the wall
	// clock for continuous jobs (retry waits).
	now     func() time.Time
	virtual bool // now never moves by itself: wait for pokes
}

// startJobs starts a runner for every RUNNING job (Open).
func (a *App) startJobs() {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	for _, job := range a.jobs.Jobs() {
		if _, st, err := a.jobs.Job(job.Name); err == nil && st.State == catalog.JobRunning {
			a.startRunnerLocked(job.Name)
		}
	}
}

// startRunnerLocked starts the runner of a job. REQUIRES: jobsMu held.
func (a *App) startRunnerLocked(name string) {
	// A runner that saw its job stop (FAILED, or PAUSED through another
	// gateway) exits by itself but stays listed; until it has read the
	// state it may also still be running. Stop it first: two runners of
	// one job would run it at once.
	a.stopRunnersLocked([]string{name})
	ctx, cancel := context.WithCancel(a.ctx)
	r := &runner{cancel: cancel, done: make(chan struct{}), now: a.opts.Clock.Now, virtual: a.Virtual()}
	if job, _, err := a.jobs.Job(name); err == nil && jobKinds[job.Kind].continuous {
		r.now, r.virtual = time.Now, false
	} else {
		r.pokes = make(chan chan int)
	}
	a.runners[name] = r
	a.bg.Go(func() {
		defer close(r.done)
		a.runLoop(ctx, name, r)
	})
}

// stopRunnersLocked stops the runners of jobs and waits for them.
// REQUIRES: jobsMu held.
func (a *App) stopRunnersLocked(names []string) {
	for _, n := range names {
		if r, ok := a.runners[n]; ok {
			r.cancel()
			<-r.done
			delete(a.runners, n)
		}
	}
}

// runLoop runs a job whenever it is due, until it is no longer RUNNING or
// ctx ends. On a real clock it sleeps until the next run; on a virtual one
// it waits for Advance to poke it.
func (a *App) runLoop(ctx context.Context, name string, r *runner) {
	if a.pg == nil {
		a.runLoopHeld(ctx, name, r)
		return
	}
	// The scale-out mode: run only while this gateway holds the job's lease.
	for {
		held, release, ok := a.acquireLease(ctx, name, r)
		if !ok {
			return
		}
		a.runLoopHeld(held, name, r)
		lost := held.Err() != nil && ctx.Err() == nil
		release()
		if !lost {
			return
		}
		a.opts.Logger.Warn("job lease lost to another gateway", "job", name)
	}
}

// runLoopHeld is runLoop's work, while ctx lasts.
func (a *App) runLoopHeld(ctx context.Context, name string, r *runner) {
	runs := 0 // since the last poke
	for {
		_, st, err := a.jobs.Job(name)
		if err != nil || st.State != catalog.JobRunning {
			return
		}
		var reply chan int
		if wait := st.NextRun.Sub(r.now()); wait > 0 {
			var t *time.Timer
			var timer <-chan time.Time
			if !r.virtual {
				t = time.NewTimer(wait)
				timer = t.C
			}
			select {
			case <-ctx.Done():
			case <-timer:
			case reply = <-r.pokes:
			}
			if t != nil {
				t.Stop()
			}
			if ctx.Err() != nil {
				return
			}
		}
		if !r.now().Before(st.NextRun) {
			// Read the state again: it may have changed while the runner
			// waited. In the scale-out mode a job paused through another
			// gateway shows PAUSED here once the state is reloaded, and its
			// runner is stopped only after that.
			if _, cur, err := a.jobs.Job(name); err != nil || cur.State != catalog.JobRunning {
				if reply != nil {
					reply <- runs
				}
				return
			}
			a.runOnce(ctx, name, r.now)
			runs++
		}
		if reply != nil {
			reply <- runs
			runs = 0
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// runDueJobs makes every runner run its job if it is due and waits for
// them: Advance of a virtual clock. It returns the number of runs.
func (a *App) runDueJobs() int {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	total := 0
	for _, r := range a.runners {
		if r.pokes == nil {
			continue // continuous
		}
		reply := make(chan int, 1)
		select {
		case r.pokes <- reply:
			total += <-reply
		case <-r.done:
		}
	}
	return total
}

// jobRun is one run of a job.
type jobRun struct {
	a      *App
	job    *catalog.Job
	state  *catalog.JobState
	stream *catalog.Stream
	// sink is what the connector's kind opened (connectorKind.open): an
	// exporter.Bucket for local and s3.
	sink any
	now  time.Time
}

// bucket is the run's sink as a bucket.
func (r *jobRun) bucket() exporter.Bucket { return r.sink.(exporter.Bucket) }

// save saves the run's state durably.
func (r *jobRun) save() error { return r.a.jobs.SaveState(r.job.Name, *r.state) }

// runOnce runs a job once and records the outcome: on success the next
// run is an interval later; on failure it is retried with capped
// exponential backoff until the retry budget is spent, and then FAILED.
func (a *App) runOnce(ctx context.Context, name string, clockNow func() time.Time) {
	job, st, err := a.jobs.Job(name)
	if err != nil {
		return
	}
	k := jobKinds[job.Kind]
	r := &jobRun{a: a, job: job, state: &st, now: a.opts.Clock.Now().UTC()}
	if r.stream, err = a.streams.Get(job.Stream); err == nil {
		var c *catalog.Connector
		if c, err = a.jobs.Connector(job.Connector); err == nil {
			r.sink, err = a.sink(c)
		}
	}
	if err == nil {
		err = k.run(ctx, r)
	}
	if ctx.Err() != nil || errors.Is(err, catalog.ErrNotFound) && !a.jobExists(name) {
		return // paused, deleted or closing: the state saved so far stands
	}
	now := clockNow().UTC()
	if err == nil && !k.continuous {
		st.Retries, st.LastSuccess, st.NextRun = 0, now, now.Add(k.interval(job.Config))
	} else {
		if err == nil {
			err = errors.New("stopped following the stream") // a defect of the kind
		}
		st.Retries++
		st.LastError, st.LastErrorTime = err.Error(), now
		a.jobErrMu.Lock()
		a.jobErrors[name]++
		a.jobErrMu.Unlock()
		switch {
		case errors.Is(err, exporter.ErrPermanent):
			st.State, st.NextRun = catalog.JobFailed, time.Time{}
			a.opts.Logger.Error("job failed: the sink refused for good", "job", name, "error", err)
		case int(st.Retries) >= a.opts.JobRetries:
			st.State, st.NextRun = catalog.JobFailed, time.Time{}
			a.opts.Logger.Error("job failed: retry budget spent", "job", name, "retries", st.Retries, "error", err)
		default:
			wait := a.backoff(st.Retries)
			if ra, ok := exporter.RetryAfter(err); ok && ra > wait {
				wait = min(ra, a.opts.JobRetryMax) // the sink's wish, within our cap
			}
			st.NextRun = now.Add(wait)
			a.opts.Logger.Warn("job run failed; retrying", "job", name, "retries", st.Retries, "next", st.NextRun, "error", err)
		}
	}
	if err := a.jobs.SaveState(name, st); err != nil && a.jobExists(name) {
		a.opts.Logger.Error("cannot save job state", "job", name, "error", err)
	}
}

func (a *App) jobExists(name string) bool {
	_, _, err := a.jobs.Job(name)
	return err == nil
}

// backoff is the wait before retry n (1, 2, …): JobRetryMin doubled n-1
// times, capped at JobRetryMax.
func (a *App) backoff(n uint32) time.Duration {
	d := a.opts.JobRetryMin
	for i := uint32(1); i < n && d < a.opts.JobRetryMax; i++ {
		d *= 2
	}
	return min(d, a.opts.JobRetryMax)
}

// dropJobsOfLocked refuses to delete streams that jobs read unless recursive,
// which stops and deletes those jobs. REQUIRES: jobsMu held.
func (a *App) dropJobsOfLocked(streams []string, name string, recursive bool) error {
	jobs := a.jobs.JobsOf(streams...)
	if len(jobs) == 0 {
		return nil
	}
	if !recursive {
		return statef("stream %q has jobs (%s); delete them first, or delete recursively (--recursive)", name, strings.Join(jobs, ", "))
	}
	if err := a.jobs.DeleteJobs(jobs...); err != nil {
		return fmt.Errorf("delete the jobs of stream %q: %w", name, err)
	}
	a.stopRunnersLocked(jobs)
	a.forgetJobErrors(jobs...)
	return nil
}

// forgetJobErrors drops the error counts of deleted jobs (their runners
// have stopped).
func (a *App) forgetJobErrors(names ...string) {
	a.jobErrMu.Lock()
	defer a.jobErrMu.Unlock()
	for _, n := range names {
		delete(a.jobErrors, n)
	}
}
