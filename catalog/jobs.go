package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
)

// Connector is a saved data connector (docs/jobs.md).
type Connector struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Config is the kind's config without its secret fields.
	Config json.RawMessage `json:"config"`
	// Sealed holds the secret fields as a JSON object, encrypted under the
	// master key by the application; nil when the kind has none.
	Sealed []byte `json:"sealed,omitempty"`
	// Secrets names the secret fields the config has (in Sealed).
	Secrets    []string  `json:"secrets,omitempty"`
	CreateTime time.Time `json:"createTime"`
}

// Job is a saved job: what it reads, where it writes, how.
type Job struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Stream    string          `json:"stream"`
	Connector string          `json:"connector"`
	Config    json.RawMessage `json:"config"`
	// CreateTime is when it was created, by the server clock.
	CreateTime time.Time `json:"createTime"`
}

// States of a job.
const (
	JobRunning = "RUNNING"
	JobPaused  = "PAUSED"
	JobFailed  = "FAILED"
)

// JobState is a job's durable progress and figures, saved after every
// object it writes.
type JobState struct {
	State string `json:"state"`
	// Cursor is the next offset of the stream to export.
	Cursor uint64 `json:"cursor"`
	// KeysFrom: a key exporter has exported the key links created before it.
	KeysFrom time.Time `json:"keysFrom,omitzero"`
	// Plan is the run in progress, decided before its first write, so that
	// a run resumed after a crash writes the same objects again.
	Plan *Plan `json:"plan,omitempty"`

	Events  uint64 `json:"events"`
	Bytes   uint64 `json:"bytes"`
	Objects uint64 `json:"objects"`

	LastSuccess   time.Time `json:"lastSuccess,omitzero"`
	LastError     string    `json:"lastError,omitempty"`
	LastErrorTime time.Time `json:"lastErrorTime,omitzero"`
	// Retries counts the failed runs since the last success.
	Retries uint32 `json:"retries,omitempty"`
	// NextRun is when the job runs next, by the server clock.
	NextRun time.Time `json:"nextRun,omitzero"`
}

// Plan is one run of a job: its time (in the names of its objects) and the
// offset range [the cursor, Until) it exports, Part counting the objects
// written so far; a key exporter's [KeysFrom, KeysUntil).
type Plan struct {
	Time      time.Time `json:"time"`
	Until     uint64    `json:"until"`
	Part      int       `json:"part"`
	KeysUntil time.Time `json:"keysUntil,omitzero"`
}

const (
	kindConnector byte = 'c'
	kindJob       byte = 'j'
	kindJobState  byte = 'J'
	kindLease     byte = 'L' // the scale-out mode's job leases: which gateway runs a job
)

func connectorKey(name string) []byte {
	return append([]byte{store.SpaceCatalog, kindConnector}, name...)
}
func jobKey(name string) []byte   { return append([]byte{store.SpaceCatalog, kindJob}, name...) }
func leaseKey(name string) []byte { return append([]byte{store.SpaceCatalog, kindLease}, name...) }
func jobStateKey(name string) []byte {
	return append([]byte{store.SpaceCatalog, kindJobState}, name...)
}

// Jobs is the set of data connectors and jobs, and the jobs' states.
type Jobs struct {
	kv store.KV

	mu         sync.Mutex
	connectors map[string]*Connector // REQUIRES: mu held
	jobs       map[string]*Job       // REQUIRES: mu held
	states     map[string]JobState   // REQUIRES: mu held
}

// OpenJobs loads the connectors and jobs stored in kv.
func OpenJobs(kv store.KV) (*Jobs, error) {
	j := &Jobs{kv: kv}
	if err := j.Reload(); err != nil {
		return nil, err
	}
	return j, nil
}

// Reload reads the connectors, jobs and job states again from the state:
// in the scale-out mode, other gateways change them (docs/scale-out.md).
func (j *Jobs) Reload() error {
	// Held while reading: what a write of this process puts in memory
	// meanwhile must not be replaced by an older read.
	j.mu.Lock()
	defer j.mu.Unlock()
	connectors, jobs, states := map[string]*Connector{}, map[string]*Job{}, map[string]JobState{}
	load := func(kind byte, what string, fn func(name string, v []byte) error) error {
		p := []byte{store.SpaceCatalog, kind}
		return j.kv.Scan(p, store.PrefixEnd(p), func(k, v []byte) error {
			if err := fn(string(k[2:]), v); err != nil {
				return fmt.Errorf("catalog: %s %q is corrupt: %w", what, k[2:], err)
			}
			return nil
		})
	}
	err := load(kindConnector, "data connector", func(name string, v []byte) error {
		c := new(Connector)
		connectors[name] = c
		return json.Unmarshal(v, c)
	})
	if err == nil {
		err = load(kindJob, "job", func(name string, v []byte) error {
			job := new(Job)
			jobs[name] = job
			return json.Unmarshal(v, job)
		})
	}
	if err == nil {
		err = load(kindJobState, "job state", func(name string, v []byte) error {
			var st JobState
			err := json.Unmarshal(v, &st)
			states[name] = st
			return err
		})
	}
	if err != nil {
		return err
	}
	for name := range jobs {
		if _, ok := states[name]; !ok {
			return fmt.Errorf("catalog: job %q has no state (corrupt data dir?)", name)
		}
	}
	j.connectors, j.jobs, j.states = connectors, jobs, states
	return nil
}

// Lease takes, or renews, the lease of job name for owner until now+ttl,
// when no other owner holds it unexpired: in the scale-out mode a job runs
// on the one gateway that holds its lease, and moves to another when the
// holder stops renewing it (docs/scale-out.md). It reports whether owner
// holds the lease. now is the wall clock: gateways' server clocks may be
// virtual.
func (j *Jobs) Lease(name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	k := leaseKey(name)
	old, err := j.kv.Get(k)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case err != nil:
		return false, err
	default:
		var l lease
		if err := json.Unmarshal(old, &l); err != nil {
			return false, fmt.Errorf("catalog: lease of job %q is corrupt: %w", name, err)
		}
		if l.Owner != owner && now.Before(l.Until) {
			return false, nil
		}
	}
	v, err := json.Marshal(lease{Owner: owner, Until: now.Add(ttl)})
	if err != nil {
		return false, err
	}
	b := j.kv.NewBatch()
	defer b.Close()
	b.Expect(k, old)
	b.Set(k, v)
	if err := b.Commit(true); errors.Is(err, store.ErrConflict) {
		return false, nil // another gateway took or renewed it meanwhile
	} else if err != nil {
		return false, fmt.Errorf("catalog: lease of job %q: %w", name, err)
	}
	return true, nil
}

type lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// CreateConnector saves c.
func (j *Jobs) CreateConnector(c *Connector) error {
	if err := ValidateName(c.Name); err != nil {
		return errorf(ErrInvalid, "invalid data connector name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", c.Name)
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.connectors[c.Name]; ok {
		return errorf(ErrExists, "data connector %q already exists", c.Name)
	}
	if err := j.set(connectorKey(c.Name), v); err != nil {
		return fmt.Errorf("catalog: store data connector %q: %w", c.Name, err)
	}
	j.connectors[c.Name] = c
	return nil
}

// ReplaceConnector replaces the definition of an existing connector (its
// name and kind stay).
func (j *Jobs) ReplaceConnector(c *Connector) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	old, ok := j.connectors[c.Name]
	if !ok {
		return j.connectorNotFound(c.Name)
	}
	if old.Kind != c.Kind {
		return errorf(ErrInvalid, "kind: data connector %q is of kind %s; a connector's kind cannot change (delete it and create another)", c.Name, old.Kind)
	}
	if err := j.set(connectorKey(c.Name), v); err != nil {
		return fmt.Errorf("catalog: store data connector %q: %w", c.Name, err)
	}
	j.connectors[c.Name] = c
	return nil
}

// Connector returns the named connector.
func (j *Jobs) Connector(name string) (*Connector, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c, ok := j.connectors[name]
	if !ok {
		return nil, j.connectorNotFound(name)
	}
	return c, nil
}

// connectorNotFound says which connectors exist. REQUIRES: mu held.
func (j *Jobs) connectorNotFound(name string) error {
	if len(j.connectors) == 0 {
		return errorf(ErrNotFound, "data connector %q not found: there are no data connectors; create one (create data-connector local NAME --path DIR)", name)
	}
	names := make([]string, 0, len(j.connectors))
	for n := range j.connectors {
		names = append(names, n)
	}
	slices.Sort(names)
	return errorf(ErrNotFound, "data connector %q not found (data connectors: %s)", name, strings.Join(names, ", "))
}

// Connectors returns every connector, ordered by name.
func (j *Jobs) Connectors() []*Connector {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*Connector, 0, len(j.connectors))
	for _, c := range j.connectors {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Connector) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DeleteConnector deletes the named connector and returns the jobs that
// used it, which are deleted with it in one write. A connector that jobs
// use is refused unless recursive.
func (j *Jobs) DeleteConnector(name string, recursive bool) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.connectors[name]; !ok {
		return nil, j.connectorNotFound(name)
	}
	var jobs []string
	for _, job := range j.jobs {
		if job.Connector == name {
			jobs = append(jobs, job.Name)
		}
	}
	slices.Sort(jobs)
	if len(jobs) > 0 && !recursive {
		return nil, errorf(ErrState, "data connector %q is used by jobs (%s); delete them first, or delete recursively (--recursive)", name, strings.Join(jobs, ", "))
	}
	b := j.kv.NewBatch()
	defer b.Close()
	b.Delete(connectorKey(name))
	j.deleteJobsLocked(b, jobs)
	if err := b.Commit(true); err != nil {
		return nil, fmt.Errorf("catalog: delete data connector %q: %w", name, err)
	}
	delete(j.connectors, name)
	j.forgetJobsLocked(jobs)
	return jobs, nil
}

func (j *Jobs) deleteJobsLocked(b store.Batch, names []string) {
	for _, n := range names {
		b.Delete(jobKey(n))
		b.Delete(jobStateKey(n))
		b.Delete(leaseKey(n))
	}
}

func (j *Jobs) forgetJobsLocked(names []string) {
	for _, n := range names {
		delete(j.jobs, n)
		delete(j.states, n)
	}
}

// CreateJob saves a job with its first state. Its connector must exist.
func (j *Jobs) CreateJob(job *Job, st JobState) error {
	if err := ValidateName(job.Name); err != nil {
		return errorf(ErrInvalid, "invalid job name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", job.Name)
	}
	v, err := json.Marshal(job)
	if err != nil {
		return err
	}
	sv, err := json.Marshal(st)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.jobs[job.Name]; ok {
		return errorf(ErrExists, "job %q already exists", job.Name)
	}
	if _, ok := j.connectors[job.Connector]; !ok {
		return j.connectorNotFound(job.Connector)
	}
	b := j.kv.NewBatch()
	defer b.Close()
	b.Set(jobKey(job.Name), v)
	b.Set(jobStateKey(job.Name), sv)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("catalog: store job %q: %w", job.Name, err)
	}
	j.jobs[job.Name], j.states[job.Name] = job, st
	return nil
}

// ReplaceJob replaces the definition of an existing job; its kind and
// stream stay, and so does its state.
func (j *Jobs) ReplaceJob(job *Job) error {
	v, err := json.Marshal(job)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	old, ok := j.jobs[job.Name]
	switch {
	case !ok:
		return j.jobNotFound(job.Name)
	case old.Kind != job.Kind:
		return errorf(ErrInvalid, "kind: job %q is a %s; a job's kind cannot change (delete it and create another)", job.Name, old.Kind)
	case old.Stream != job.Stream:
		return errorf(ErrInvalid, "stream: job %q reads stream %q; a job's stream cannot change (delete it and create another)", job.Name, old.Stream)
	}
	if _, ok := j.connectors[job.Connector]; !ok {
		return j.connectorNotFound(job.Connector)
	}
	job.CreateTime = old.CreateTime
	if err := j.set(jobKey(job.Name), v); err != nil {
		return fmt.Errorf("catalog: store job %q: %w", job.Name, err)
	}
	j.jobs[job.Name] = job
	return nil
}

// Job returns the named job and its state.
func (j *Jobs) Job(name string) (*Job, JobState, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[name]
	if !ok {
		return nil, JobState{}, j.jobNotFound(name)
	}
	return job, j.states[name], nil
}

// jobNotFound says which jobs exist. REQUIRES: mu held.
func (j *Jobs) jobNotFound(name string) error {
	if len(j.jobs) == 0 {
		return errorf(ErrNotFound, "job %q not found: there are no jobs", name)
	}
	names := make([]string, 0, len(j.jobs))
	for n := range j.jobs {
		names = append(names, n)
	}
	slices.Sort(names)
	return errorf(ErrNotFound, "job %q not found (jobs: %s)", name, strings.Join(names, ", "))
}

// Jobs returns every job, ordered by name.
func (j *Jobs) Jobs() []*Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*Job, 0, len(j.jobs))
	for _, job := range j.jobs {
		out = append(out, job)
	}
	slices.SortFunc(out, func(a, b *Job) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// JobsOf returns the names of the jobs that read one of streams, sorted.
func (j *Jobs) JobsOf(streams ...string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, job := range j.jobs {
		if slices.Contains(streams, job.Stream) {
			out = append(out, job.Name)
		}
	}
	slices.Sort(out)
	return out
}

// DeleteJobs deletes the named jobs and their states in one write; names
// not found are skipped.
func (j *Jobs) DeleteJobs(names ...string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.kv.NewBatch()
	defer b.Close()
	j.deleteJobsLocked(b, names)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("catalog: delete jobs %s: %w", strings.Join(names, ", "), err)
	}
	j.forgetJobsLocked(names)
	return nil
}

// SaveState saves a job's state durably. A job deleted meanwhile is
// ErrNotFound and nothing is written.
func (j *Jobs) SaveState(name string, st JobState) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.jobs[name]; !ok {
		return j.jobNotFound(name)
	}
	if err := j.set(jobStateKey(name), v); err != nil {
		return fmt.Errorf("catalog: store the state of job %q: %w", name, err)
	}
	j.states[name] = st
	return nil
}

// set stores one value, durably.
func (j *Jobs) set(k, v []byte) error {
	b := j.kv.NewBatch()
	defer b.Close()
	b.Set(k, v)
	return b.Commit(true)
}
