package rpc

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/log"
)

// The metrics of GET /metrics (docs/metrics.md). Each Server has a registry
// of its own: several servers run in one test process. Labels carry
// stream, job, path and reason names only, never a value of an event, a
// client id or a secret.
//
// What changes on the hot path is counted there, into series resolved
// once per stream (streamSeries); the rest is read at scrape time from
// what the application keeps in memory or in the log's stream states,
// without reading records.

// reason is why events were not accepted: a small fixed set of codes,
// derived from the kind of the error, never from its message.
type reason uint8

const (
	reasonUnauthenticated reason = iota // no or bad credentials
	reasonDerived                       // sent to a derived stream
	reasonTooLarge                      // over the size limit of an event or request
	reasonSchema                        // unknown or inactive schema, serialization that does not fit it
	reasonDecode                        // the body does not decode against its schema
	reasonContract                      // unknown or inactive event contract, or one of another schema
	reasonValidation                    // the contract's key field or validations
	reasonConsent                       // consent levels out of range
	reasonRequest                       // a request malformed otherwise (headers, CloudEvents attributes, batch size)
	reasonStorage                       // the server could not store it (a full disk, a write failure)
	numReasons
)

var reasonNames = [numReasons]string{
	reasonUnauthenticated: "unauthenticated",
	reasonDerived:         "derived",
	reasonTooLarge:        "too_large",
	reasonSchema:          "schema",
	reasonDecode:          "decode",
	reasonContract:        "contract",
	reasonValidation:      "validation",
	reasonConsent:         "consent",
	reasonRequest:         "request",
	reasonStorage:         "storage",
}

// reasonOf classifies an error of ingest (an event's or its batch's) by
// its kind.
func reasonOf(err error) reason {
	re, ok := err.(*engine.RejectError) // as Ingest returns them, without allocating
	if !ok {
		var wrapped *engine.RejectError
		if errors.As(err, &wrapped) {
			re = wrapped
		}
	}
	if re != nil {
		switch re.Rule {
		case engine.RuleSize:
			return reasonTooLarge
		case engine.RuleDecode:
			return reasonDecode
		case engine.RuleSerialization:
			return reasonSchema
		case engine.RuleEventContract, engine.RuleSchemaRef:
			return reasonContract
		case engine.RuleConsentLevels:
			return reasonConsent
		}
		return reasonValidation // the key field, the contract's validations
	}
	switch {
	case errors.Is(err, app.ErrDerived):
		return reasonDerived
	case errors.Is(err, catalog.ErrUnauthenticated), errors.Is(err, errUnauthenticated), errors.Is(err, errPermission):
		return reasonUnauthenticated
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, catalog.ErrState), errors.Is(err, engine.ErrInvalidRef):
		return reasonSchema // the batch's schema ref
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeUnauthenticated, connect.CodePermissionDenied:
			return reasonUnauthenticated
		case connect.CodeFailedPrecondition:
			return reasonDerived
		case connect.CodeInvalidArgument:
			return reasonRequest
		}
	}
	return reasonStorage
}

// ingestPath is the transport events came in by.
type ingestPath uint8

const (
	pathConnect     ingestPath = iota // EventService (Connect, gRPC, gRPC-Web)
	pathEvent                         // POST /event
	pathCloudEvents                   // POST /cloudevents
	numIngestPaths
)

var ingestPathNames = [numIngestPaths]string{pathConnect: "connect", pathEvent: "event", pathCloudEvents: "cloudevents"}

// egressPath is the way records went out.
type egressPath uint8

const (
	egressRead egressPath = iota // EgressService.ReadEvents
	egressTail                   // EgressService.Tail
	egressWS                     // GET /ws
	numEgressPaths
)

var egressPathNames = [numEgressPaths]string{egressRead: "read", egressTail: "tail", egressWS: "ws"}

// streamSeries are the counters of one stream, resolved once.
type streamSeries struct {
	accepted prometheus.Counter
	rejected [numReasons]prometheus.Counter
}

type metrics struct {
	reg      *prometheus.Registry
	accepted *prometheus.CounterVec
	rejected *prometheus.CounterVec

	ingest [numIngestPaths]prometheus.Observer
	egress [numEgressPaths]prometheus.Observer

	commitRecords, commitBytes, fsync prometheus.Histogram

	wsSubscribers, tailSubscribers prometheus.Gauge

	mu      sync.RWMutex
	streams map[string]*streamSeries // by stream name; "" for an unknown stream
}

// seconds are the buckets of the latency histograms: 0.1 ms to about 13 s.
var seconds = prometheus.ExponentialBuckets(0.0001, 2, 18)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), streams: map[string]*streamSeries{}}
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strmlocal_events_accepted_total",
		Help: "Events accepted (durable) by stream.",
	}, []string{"stream"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strmlocal_events_rejected_total",
		Help: "Events not accepted, by stream (empty when not known) and reason.",
	}, []string{"stream", "reason"})
	ingest := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "strmlocal_ingest_duration_seconds",
		Help:    "Time of one ingest call (a request's events: validation, encryption, durable append), by transport.",
		Buckets: seconds,
	}, []string{"path"})
	for p := range numIngestPaths {
		m.ingest[p] = ingest.WithLabelValues(ingestPathNames[p])
	}
	egress := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "strmlocal_egress_duration_seconds",
		Help:    "Time to read one page or step of records and hand it to the client, waits for new records excluded, by transport.",
		Buckets: seconds,
	}, []string{"path"})
	for p := range numEgressPaths {
		m.egress[p] = egress.WithLabelValues(egressPathNames[p])
	}
	m.commitRecords = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "strmlocal_log_commit_records",
		Help:    "Records per group commit of the log.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9),
	})
	m.commitBytes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "strmlocal_log_commit_bytes",
		Help:    "Bytes per group commit of the log (the batch written to the WAL).",
		Buckets: prometheus.ExponentialBuckets(256, 4, 10),
	})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "strmlocal_log_fsync_duration_seconds",
		Help:    "Wait for the fsync of one group commit of the log.",
		Buckets: seconds,
	})
	m.wsSubscribers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "strmlocal_websocket_subscribers",
		Help: "Websocket tails (GET /ws) open.",
	})
	m.tailSubscribers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "strmlocal_tail_subscribers",
		Help: "Connect tails (EgressService.Tail) open.",
	})
	m.reg.MustRegister(m.accepted, m.rejected, ingest, egress, m.commitRecords, m.commitBytes, m.fsync,
		m.wsSubscribers, m.tailSubscribers,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// series returns the counters of a stream, resolving them on first use.
func (m *metrics) series(stream string) *streamSeries {
	m.mu.RLock()
	ss := m.streams[stream]
	m.mu.RUnlock()
	if ss != nil {
		return ss
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ss = m.streams[stream]; ss != nil {
		return ss
	}
	ss = &streamSeries{accepted: m.accepted.WithLabelValues(stream)}
	for r := range numReasons {
		ss.rejected[r] = m.rejected.WithLabelValues(stream, reasonNames[r])
	}
	m.streams[stream] = ss
	return ss
}

// refused counts n events refused before ingest. stream is "" when the
// credentials did not name one.
func (m *metrics) refused(stream string, r reason, n int) {
	m.series(stream).rejected[r].Add(float64(max(n, 1)))
}

// ingested counts what one Ingest call of n events did and how long it
// took since start.
func (m *metrics) ingested(p ingestPath, stream string, start time.Time, res []app.Result, err error, n int) {
	m.ingest[p].Observe(time.Since(start).Seconds())
	ss := m.series(stream)
	if err != nil {
		ss.rejected[reasonOf(err)].Add(float64(n))
		return
	}
	accepted := 0
	for _, r := range res {
		if r.Err == nil {
			accepted++
		} else {
			ss.rejected[reasonOf(r.Err)].Inc()
		}
	}
	if accepted > 0 {
		ss.accepted.Add(float64(accepted))
	}
}

// egressed observes one page or step handed out since start.
func (m *metrics) egressed(p egressPath, start time.Time) {
	m.egress[p].Observe(time.Since(start).Seconds())
}

// onCommit observes a group commit of the log (app.Options.OnCommit).
func (m *metrics) onCommit(c log.CommitStats) {
	m.commitRecords.Observe(float64(c.Records))
	m.commitBytes.Observe(float64(c.Bytes))
	m.fsync.Observe(c.Sync.Seconds())
}

// metricsHandler serves GET /metrics; with an admin token, only to it.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	guard := adminGuard{s.opts.AdminToken}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := guard.check(r.Header); err != nil {
			plainError(w, http.StatusUnauthorized, errAdminToken.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// appCollector reads, at scrape time, what the application keeps: the
// size of each source stream's log, the key link counts, the jobs. None
// of it reads records.
type appCollector struct {
	a *app.App

	logBytes, logEvents, keyLinks, jobState, jobLag, jobErrors *prometheus.Desc
}

func newAppCollector(a *app.App) *appCollector {
	return &appCollector{
		a:         a,
		logBytes:  prometheus.NewDesc("strmlocal_log_bytes", "Stored size of the records a source stream's log holds.", []string{"stream"}, nil),
		logEvents: prometheus.NewDesc("strmlocal_log_events", "Events a source stream's log holds (retained).", []string{"stream"}, nil),
		keyLinks:  prometheus.NewDesc("strmlocal_key_links", "Key links by state: live (a key) or shredded (by retention or forget).", []string{"state"}, nil),
		jobState:  prometheus.NewDesc("strmlocal_job_state", "1 for a job's state (RUNNING, PAUSED, FAILED), 0 for the others.", []string{"job", "state"}, nil),
		jobLag:    prometheus.NewDesc("strmlocal_job_lag_events", "Events of its stream a job has yet to export.", []string{"job"}, nil),
		jobErrors: prometheus.NewDesc("strmlocal_job_errors_total", "Failed runs of a job since the server started.", []string{"job"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *appCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.logBytes, c.logEvents, c.keyLinks, c.jobState, c.jobLag, c.jobErrors} {
		ch <- d
	}
}

var jobStateNames = []string{catalog.JobRunning, catalog.JobPaused, catalog.JobFailed}

// Collect implements prometheus.Collector.
func (c *appCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.a.Streams().List() {
		size, ok, err := c.a.StreamSize(st)
		if err != nil || !ok {
			continue // derived, or deleted meanwhile
		}
		ch <- prometheus.MustNewConstMetric(c.logBytes, prometheus.GaugeValue, float64(size.Bytes), st.Name)
		ch <- prometheus.MustNewConstMetric(c.logEvents, prometheus.GaugeValue, float64(size.Events), st.Name)
	}
	links := c.a.KeyLinkCounts()
	ch <- prometheus.MustNewConstMetric(c.keyLinks, prometheus.GaugeValue, float64(links.Live), "live")
	ch <- prometheus.MustNewConstMetric(c.keyLinks, prometheus.GaugeValue, float64(links.Shredded), "shredded")
	for _, j := range c.a.Jobs("") {
		for _, state := range jobStateNames {
			v := 0.0
			if j.State.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.jobState, prometheus.GaugeValue, v, j.Name, state)
		}
		ch <- prometheus.MustNewConstMetric(c.jobLag, prometheus.GaugeValue, float64(j.Lag), j.Name)
		ch <- prometheus.MustNewConstMetric(c.jobErrors, prometheus.CounterValue, float64(j.Errors), j.Name)
	}
}
