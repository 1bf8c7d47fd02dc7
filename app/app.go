package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/internal/store/pgkv"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// Defaults of Options.
const (
	DefaultRotation      = keys.DefaultRotation
	DefaultKeyRetention  = keys.DefaultRetention
	DefaultMaxEventBytes = engine.DefaultMaxEventBytes
	// DefaultPageBytes bounds one page of a Reader (see docs/architecture.md):
	// large enough that small events fill a page by count first.
	DefaultPageBytes = 4 << 20
	// DefaultSweepInterval: retention is measured in days, so a key shredded
	// a minute late is no harm.
	DefaultSweepInterval = time.Minute
)

// Options configure an App. Every field has a usable zero value; Open fills
// the defaults.
type Options struct {
	// DataDir is the directory of the database. Default: "" — an in-memory
	// store that disappears with the App.
	DataDir string
	// Clock is the one server clock: acceptance times, creation times, key
	// rotation and retention. A *clock.Virtual can be advanced (Advance).
	// Default: the wall clock.
	Clock clock.Clock
	// Rotation is how long a key link lasts after its creation.
	// Default: DefaultRotation.
	Rotation time.Duration
	// KeyRetention is how long a key is kept after its period ends before it
	// is deleted (crypto-shredding). Default: DefaultKeyRetention.
	KeyRetention time.Duration
	// MasterKey is a master key given from outside (the value of
	// STRMLOCAL_MASTER_KEY). Default: "": <DataDir>/master.key, created on
	// first start; a fresh random key for an in-memory App.
	MasterKey string
	// Logger receives operational messages; never event contents, keys or
	// secrets. Default: discard.
	Logger *slog.Logger
	// NoDemo skips registering the built-in catalogue. Default: false: the
	// schemas and contracts of the catalogue that are not registered yet are
	// registered, ACTIVE, at every start.
	NoDemo bool
	// MaxEventBytes caps the size of one event body.
	// Default: DefaultMaxEventBytes.
	MaxEventBytes int
	// PageBytes bounds the records of one Reader page or follow step, as
	// rendered JSON plus metadata. Default: DefaultPageBytes.
	PageBytes int
	// SweepInterval is how often a real clock is checked for keys past
	// retention. Default: DefaultSweepInterval.
	SweepInterval time.Duration
	// JobRetryMin and JobRetryMax bound the wait before a failed job run is
	// retried (doubling from the one to the other); JobRetries failed runs
	// in a row make a job FAILED. Defaults: DefaultJobRetryMin,
	// DefaultJobRetryMax, DefaultJobRetries.
	JobRetryMin, JobRetryMax time.Duration
	JobRetries               int
	// OnCommit, if set, observes every synced group commit of the log
	// (log.Options.OnCommit): the transports' metrics (docs/metrics.md).
	// Default: nil.
	OnCommit func(log.CommitStats)
	// StateURL (postgres://…) and KafkaBrokers choose the scale-out mode
	// (docs/scale-out.md): the state (catalogue, key links, jobs) in
	// PostgreSQL and the log in one Kafka topic per source stream, shared
	// by every gateway given the same ones. Both or neither; MasterKey is
	// then required (the same on every gateway) and DataDir unused.
	// Default: the embedded mode.
	StateURL     string
	KafkaBrokers []string
	// KafkaTopicPrefix names the log's topics: prefix + stream ID.
	// Default: kafkalog's.
	KafkaTopicPrefix string
	// JobLease is how long a gateway's lease on a job lasts unrenewed, in
	// the scale-out mode. Default: DefaultJobLease.
	JobLease time.Duration
}

func (o *Options) fillDefaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Rotation <= 0 {
		o.Rotation = DefaultRotation
	}
	if o.KeyRetention <= 0 {
		o.KeyRetention = DefaultKeyRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if o.PageBytes <= 0 {
		o.PageBytes = DefaultPageBytes
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.JobRetryMin <= 0 {
		o.JobRetryMin = DefaultJobRetryMin
	}
	if o.JobRetryMax < o.JobRetryMin {
		o.JobRetryMax = max(DefaultJobRetryMax, o.JobRetryMin)
	}
	if o.JobLease <= 0 {
		o.JobLease = DefaultJobLease
	}
	if o.JobRetries <= 0 {
		o.JobRetries = DefaultJobRetries
	}
}

// App is one running strmlocal: the store and everything on it, and the
// background work. Construct it with Open and Close it; it is safe for
// concurrent use.
type App struct {
	opts    Options
	start   time.Time
	store   *store.Store
	log     EventLog
	streams *catalog.Streams
	reg     *catalog.Registry
	keys    *keys.Keys
	jobs    *catalog.Jobs // data connectors, jobs and their states
	disk    *store.Disk   // the store's FS, watched for a full disk (disk.go)
	pg      *pgkv.KV      // the state, in the scale-out mode (scaleout.go); else nil
	gateway string        // this App's name among gateways: job leases
	// unreachable is what the last check of the scale-out mode's services
	// found (scaleout.go): nil, or an error matching ErrStorageUnavailable.
	unreachable atomic.Pointer[error]

	// jobsMu orders the changes of jobs' lives (create, pause, resume,
	// delete, Advance's runs) and guards runners.
	jobsMu  sync.Mutex
	runners map[string]*runner // of RUNNING jobs; REQUIRES: jobsMu held

	jobErrMu  sync.Mutex
	jobErrors map[string]uint64 // failed runs by job since Open; REQUIRES: jobErrMu held

	sweepMu sync.Mutex // serialises key sweeps
	clockMu sync.Mutex // serialises moves of a virtual clock (Advance, and following other gateways')
	applyMu sync.Mutex // serialises sandbox documents' plans and applies (sandbox.go)
	bg      sync.WaitGroup
	ctx     context.Context // cancelled by Close: ends background work
	stop    context.CancelFunc

	// forgetMu serialises the event index catch-ups of forgets against
	// each other and against dropping a stream (keys.go).
	forgetMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store and everything on it, registers the built-in
// catalogue (unless Options.NoDemo) and starts the key sweep. It is
// OpenContext without a way to stop it.
func Open(opts Options) (*App, error) { return OpenContext(context.Background(), opts) }

func open(ctx context.Context, opts Options) (*App, error) {
	opts.fillDefaults()
	if err := opts.checkScaleOut(); err != nil {
		return nil, err
	}
	// The scale-out mode keeps an in-memory store for what is local to a
	// gateway (nothing of the state, nothing of the log).
	local := opts
	if opts.scaleOut() {
		local.DataDir = ""
	}
	st, disk, err := openStore(ctx, local)
	if err != nil {
		return nil, err
	}
	now := opts.Clock.Now
	a := &App{opts: opts, start: now(), store: st, disk: disk, runners: map[string]*runner{}, jobErrors: map[string]uint64{}, gateway: uuid.NewString()}
	kv := st.KV
	if opts.scaleOut() {
		kv, err = a.openScaleOut(ctx)
	} else {
		var l *log.Log
		if l, err = log.Open(st.DB, log.Options{Now: now, Logger: opts.Logger, OnCommit: opts.OnCommit}); err == nil {
			a.log = l // not a nil *log.Log in the interface: closeStorage checks for nil
		}
	}
	if err == nil {
		a.streams, err = catalog.OpenStreams(kv, now)
	}
	if err == nil {
		a.reg, err = catalog.OpenRegistry(kv, now)
	}
	if err == nil {
		a.jobs, err = catalog.OpenJobs(kv)
	}
	if err == nil {
		var master tink.AEAD
		if opts.DataDir != "" && opts.MasterKey == "" {
			err = keys.MissingMaster(opts.DataDir, kv)
		}
		if err == nil {
			master, err = keys.LoadMaster(local.DataDir, opts.MasterKey)
		}
		if err == nil {
			a.keys, err = keys.Open(kv, keys.Options{
				Now: now, Rotation: opts.Rotation, Retention: opts.KeyRetention, Master: master, Logger: opts.Logger,
				Shared: opts.scaleOut(),
			})
		}
	}
	if err == nil && !opts.NoDemo {
		err = a.registerCatalogue()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		err = st.OpenFailed(err)
		return nil, errors.Join(err, a.closeStorage())
	}
	a.ctx, a.stop = context.WithCancel(context.Background())
	a.bg.Go(a.sweepLoop)
	if a.pg != nil {
		a.watchState()
		a.bg.Go(a.checkReachable)
	}
	a.startJobs()
	disk.Running()
	return a, nil
}

// registerCatalogue registers the parts of the built-in catalogue that are
// not registered yet. What cannot be registered (a ref the user took for
// something else) is logged and skipped: it must not stop the server.
func (a *App) registerCatalogue() error {
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		// The catalogue is embedded and tested: this is a build defect.
		return err
	}
	added, err := a.reg.RegisterCatalogue(schemas, contracts)
	if len(added) > 0 {
		a.opts.Logger.Debug("registered the built-in catalogue", "refs", added)
	}
	if err != nil {
		a.opts.Logger.Warn("built-in catalogue only partly registered", "error", err)
	}
	return nil
}

// Close stops the background work (the key sweep, the jobs' runs: a run
// in progress stops where it is and resumes at the next Open), waits for
// it, and closes the keys, the
// log and the store. Readers still open fail with log.ErrClosed. Closing
// again returns the first Close's result.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.disk.Release()
		a.stop()
		a.bg.Wait()
		a.closeErr = a.closeStorage()
	})
	return a.closeErr
}

func (a *App) closeStorage() error {
	a.disk.Release()
	var errs []error
	if a.keys != nil {
		errs = append(errs, a.keys.Close())
	}
	if a.log != nil {
		errs = append(errs, a.log.Close())
	}
	if a.pg != nil {
		a.pg.Close()
	}
	return errors.Join(append(errs, a.store.Close())...)
}

// Registry is the schema and contract registry.
func (a *App) Registry() *catalog.Registry { return a.reg }

// Streams is the stream catalogue. Create and delete streams through
// CreateStream and DeleteStream, which keep the log and the keys in step.
func (a *App) Streams() *catalog.Streams { return a.streams }

// Clock is the server clock.
func (a *App) Clock() clock.Clock { return a.opts.Clock }

// StartTime is when Open ran, by the server clock.
func (a *App) StartTime() time.Time { return a.start }

// DataDir is the data directory ("" in memory).
func (a *App) DataDir() string { return a.opts.DataDir }

// MaxEventBytes is the cap on one event body.
func (a *App) MaxEventBytes() int { return a.opts.MaxEventBytes }

// ServerID is a UUID that names this server's data: the same for as long
// as the data dir lives, new for each in-memory App.
func (a *App) ServerID() string {
	id, _ := uuid.FromBytes(a.keys.DeriveSecret("server id")[:16])
	id[6] = id[6]&0x0f | 0x40 // a version 4 (random) UUID, as it reads
	id[8] = id[8]&0x3f | 0x80
	return id.String()
}

// DeriveSecret returns a 32-byte secret for a named use (the signing key of
// access tokens, say) that lives as long as the data dir; see
// keys.Keys.DeriveSecret.
func (a *App) DeriveSecret(label string) []byte { return a.keys.DeriveSecret(label) }
