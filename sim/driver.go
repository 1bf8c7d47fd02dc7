package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Batch is events of one schema and serialization, sent together.
type Batch struct {
	Schema string
	JSON   bool
	Events [][]byte
}

// Result is the server's answer for one event.
type Result struct {
	Accepted bool
	// Verdict is why a rejected event was rejected.
	Verdict Verdict
}

// Sender sends batches to a stream. Send fills res (one per event, in
// order) and records the duration of every request it makes in lat. An
// error means the run cannot go on (the server is gone, the credentials are
// refused); a rejected event is not an error. Send is called from several
// goroutines at once, each with its own lat.
type Sender interface {
	Send(ctx context.Context, b *Batch, res []Result, lat *Histogram) error
}

// Forgetter runs erasure requests: it forgets a data subject and reports
// how many key links and events that shredded.
type Forgetter interface {
	Forget(ctx context.Context, subject string) (keyLinks, events uint64, err error)
}

// Options paces a run. Zero fields take the defaults given.
type Options struct {
	// Rate is events per second; 0 sends as fast as the server takes them.
	Rate float64
	// Count stops the run after this many events; Duration after this long.
	// With neither, the run goes on until ctx is done.
	Count    int
	Duration time.Duration
	// Concurrency is how many batches are in flight at once. Default 4:
	// enough for the server to group-commit one batch while it decodes the
	// next, few enough not to crowd two cores.
	Concurrency int
	// BatchSize is the most events one batch holds. Default 256, where the
	// server's synced appends stop getting cheaper per event. At a set rate
	// a batch holds what became due since the last one, so events do not
	// wait for a batch to fill.
	BatchSize int
	// Progress, when set, is called every ProgressEvery (default 1s) from
	// another goroutine.
	Progress      func(Stats)
	ProgressEvery time.Duration
}

// Stats is a run's progress so far.
type Stats struct {
	Elapsed                  time.Duration
	Sent, Accepted, Rejected int64
}

// Rate is events answered per second so far.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// Run makes events with gen and sends them with send until the count or
// duration is reached or ctx is done, and returns what happened. Erasure
// requests the generator makes go to forget once every event made before
// them is answered. The summary is returned also with an error (what was
// sent is stored); a cancelled ctx is not an error.
func Run(ctx context.Context, gen Generator, send Sender, forget Forgetter, o Options) (*Summary, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d := &driver{
		o:       o,
		gen:     gen,
		send:    send,
		forget:  forget,
		cancel:  cancel,
		work:    make(chan *batch, o.Concurrency),
		forgets: make(chan forgetRequest, 64),
		epoch:   new(sync.WaitGroup),
		sum:     newSummary(),
	}
	d.start = time.Now()

	var senders, helpers sync.WaitGroup
	for range o.Concurrency {
		senders.Go(func() { d.sender(ctx) })
	}
	helpers.Go(func() { d.forgetter(ctx) })
	stopProgress := make(chan struct{})
	if o.Progress != nil {
		helpers.Go(func() { d.progress(stopProgress) })
	}

	err := d.produce(ctx)
	close(d.work)
	senders.Wait()
	close(d.forgets)
	close(stopProgress)
	helpers.Wait()

	d.sum.Elapsed = time.Since(d.start)
	if err == nil {
		d.mu.Lock()
		err = d.failure
		d.mu.Unlock()
	}
	return d.sum, err
}

func (o *Options) fill() error {
	switch {
	case o.Rate < 0:
		return fmt.Errorf("rate %v: give events per second, or 0 for as fast as possible", o.Rate)
	case o.Count < 0:
		return fmt.Errorf("count %d: give a positive number of events", o.Count)
	case o.Duration < 0:
		return fmt.Errorf("duration %v: give a positive duration", o.Duration)
	case o.Concurrency < 0:
		return fmt.Errorf("concurrency %d: give a positive number", o.Concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	return nil
}

type driver struct {
	o      Options
	gen    Generator
	send   Sender
	forget Forgetter
	cancel context.CancelCauseFunc
	start  time.Time

	work    chan *batch
	forgets chan forgetRequest
	pool    sync.Pool // of *batch

	// Used by the producer only.
	pending   []*batch // one open batch per schema and serialization
	generated int
	// epoch counts the batches handed to the senders since the last
	// erasure request; an erasure request waits for its epoch (and, being
	// run in order, for every earlier one).
	epoch *sync.WaitGroup

	sent, accepted, rejected atomic.Int64
	mu                       sync.Mutex // guards sum and failure
	sum                      *Summary
	failure                  error // the first error of a sender or the forgetter
}

// fail stops the run because of err: the producer stops making events and
// the senders drain their queue without sending.
func (d *driver) fail(err error) {
	d.mu.Lock()
	if d.failure == nil {
		d.failure = err
	}
	d.mu.Unlock()
	d.cancel(err)
}

// batch is a Batch with the storage behind it and what each event expects.
type batch struct {
	Batch
	arena  []byte // event bodies, back to back
	ends   []int  // end of each body in arena
	expect []expectation
	res    []Result
	epoch  *sync.WaitGroup
}

type expectation struct {
	kind    Kind
	verdict Verdict
}

type forgetRequest struct {
	subject string
	after   *sync.WaitGroup
}

// produce runs the generator on this goroutine, paced, and hands full
// batches to the senders.
func (d *driver) produce(ctx context.Context) error {
	var ev Event
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for d.o.Count == 0 || d.generated < d.o.Count {
		if ctx.Err() != nil {
			return nil
		}
		elapsed := time.Since(d.start)
		if d.o.Duration > 0 && elapsed >= d.o.Duration {
			break
		}
		n := d.o.BatchSize
		if d.o.Rate > 0 {
			due := int(elapsed.Seconds()*d.o.Rate) + 1 - d.generated
			if due <= 0 {
				// Sleep until the next event is due, but at least 1ms, so
				// that high rates wake up to a handful of events, not one.
				at := d.start.Add(time.Duration(float64(d.generated) / d.o.Rate * float64(time.Second)))
				timer.Reset(max(time.Until(at), time.Millisecond))
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil
				}
				continue
			}
			n = min(n, due)
		}
		if d.o.Count > 0 {
			n = min(n, d.o.Count-d.generated)
		}
		for made := 0; made < n; {
			if err := d.gen.Next(&ev); err != nil {
				return fmt.Errorf("generator: %w", err)
			}
			if ev.Forget != "" {
				if err := d.requestForget(ctx, ev.Forget); err != nil {
					return err
				}
				continue
			}
			if err := d.add(ctx, &ev); err != nil {
				return err
			}
			made++
			d.generated++
		}
		if d.o.Rate > 0 {
			// What became due goes out now.
			if err := d.flushAll(ctx); err != nil {
				return err
			}
		}
	}
	return d.flushAll(ctx)
}

// add puts an event in the open batch for its schema and serialization,
// and sends that batch when it is full.
func (d *driver) add(ctx context.Context, ev *Event) error {
	var b *batch
	for _, p := range d.pending {
		if p.Schema == ev.Schema && p.JSON == ev.JSON {
			b = p
			break
		}
	}
	if b == nil {
		b = d.newBatch(ev.Schema, ev.JSON)
		d.pending = append(d.pending, b)
	}
	b.arena = append(b.arena, ev.Body...)
	b.ends = append(b.ends, len(b.arena))
	b.expect = append(b.expect, expectation{ev.Invalid, ev.Expect})
	if len(b.ends) < d.o.BatchSize {
		return nil
	}
	return d.flush(ctx, b)
}

func (d *driver) newBatch(schema string, json bool) *batch {
	b, _ := d.pool.Get().(*batch)
	if b == nil {
		b = &batch{}
	}
	b.Schema, b.JSON = schema, json
	b.arena, b.ends, b.expect, b.Events = b.arena[:0], b.ends[:0], b.expect[:0], b.Events[:0]
	return b
}

// flush hands b to the senders; it is taken out of pending.
func (d *driver) flush(ctx context.Context, b *batch) error {
	for i, p := range d.pending {
		if p == b {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			break
		}
	}
	if len(b.ends) == 0 {
		d.pool.Put(b)
		return nil
	}
	// The arena has stopped growing: the bodies can be sliced out of it.
	start := 0
	for _, end := range b.ends {
		b.Events = append(b.Events, b.arena[start:end:end])
		start = end
	}
	b.epoch = d.epoch
	b.epoch.Add(1)
	select {
	case d.work <- b:
		return nil
	case <-ctx.Done():
		b.epoch.Done()
		return nil
	}
}

func (d *driver) flushAll(ctx context.Context) error {
	for len(d.pending) > 0 {
		if err := d.flush(ctx, d.pending[0]); err != nil {
			return err
		}
	}
	return nil
}

// requestForget queues an erasure request behind every event made so far.
func (d *driver) requestForget(ctx context.Context, subject string) error {
	if d.forget == nil {
		return errors.New("the generator made an erasure request, but no Forgetter was given")
	}
	if err := d.flushAll(ctx); err != nil {
		return err
	}
	req := forgetRequest{subject: subject, after: d.epoch}
	d.epoch = new(sync.WaitGroup)
	select {
	case d.forgets <- req:
	case <-ctx.Done():
	}
	return nil
}

// forgetter runs erasure requests in order, each once the batches before it
// are answered.
func (d *driver) forgetter(ctx context.Context) {
	for req := range d.forgets {
		req.after.Wait()
		if ctx.Err() != nil {
			continue
		}
		links, events, err := d.forget.Forget(ctx, req.subject)
		if err != nil {
			if ctx.Err() == nil {
				d.fail(fmt.Errorf("forget a data subject: %w", err))
			}
			continue
		}
		d.mu.Lock()
		d.sum.Forgotten++
		d.sum.ForgottenKeyLinks += links
		d.sum.ForgottenEvents += events
		d.mu.Unlock()
	}
}

// sender sends batches until the producer is done. After a failure (ctx
// cancelled) it drains the queue without sending.
func (d *driver) sender(ctx context.Context) {
	lat := new(Histogram)
	for b := range d.work {
		if ctx.Err() == nil {
			if cap(b.res) < len(b.Events) {
				b.res = make([]Result, len(b.Events))
			}
			b.res = b.res[:len(b.Events)]
			clear(b.res)
			if err := d.send.Send(ctx, &b.Batch, b.res, lat); err != nil {
				if ctx.Err() == nil { // not a consequence of stopping
					d.fail(err)
				}
			} else {
				d.tally(b)
			}
		}
		b.epoch.Done()
		b.epoch = nil
		d.pool.Put(b)
	}
	d.mu.Lock()
	d.sum.Latency.Merge(lat)
	d.mu.Unlock()
}

// tally counts a batch's results against what its events expected.
func (d *driver) tally(b *batch) {
	var accepted, rejected int64
	d.mu.Lock()
	for i, r := range b.res {
		want := b.expect[i]
		if want.kind != Valid {
			d.sum.Invalid++
		}
		if r.Accepted {
			accepted++
			if want.kind != Valid {
				d.sum.AcceptedInvalid[want.kind]++
			}
			continue
		}
		rejected++
		d.sum.Rejections[r.Verdict]++
		if want.kind == Valid || want.verdict != r.Verdict {
			d.sum.Unexpected[Unexpected{Want: want.verdict, Got: r.Verdict}]++
		}
	}
	d.sum.Accepted += accepted
	d.sum.Rejected += rejected
	d.mu.Unlock()
	d.accepted.Add(accepted)
	d.rejected.Add(rejected)
	d.sent.Add(accepted + rejected)
}

func (d *driver) stats() Stats {
	return Stats{Elapsed: time.Since(d.start), Sent: d.sent.Load(), Accepted: d.accepted.Load(), Rejected: d.rejected.Load()}
}

func (d *driver) progress(stop <-chan struct{}) {
	t := time.NewTicker(d.o.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			d.o.Progress(d.stats())
		case <-stop:
			return
		}
	}
}
