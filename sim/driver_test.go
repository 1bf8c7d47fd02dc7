package sim_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strmlocal/strmlocal/sim"
)

// fakeSender answers every event on the fake clock of a synctest bubble,
// after delay(batch number), with accept's verdict.
type fakeSender struct {
	delay  func(n int) time.Duration
	accept func(body []byte) sim.Result
	fail   int // fail the batch with this number (1-based), if set

	mu      sync.Mutex
	batches []int // sizes, in the order sent
	done    map[string]bool
}

func (f *fakeSender) Send(ctx context.Context, b *sim.Batch, res []sim.Result, lat *sim.Histogram) error {
	f.mu.Lock()
	f.batches = append(f.batches, len(b.Events))
	n := len(f.batches)
	f.mu.Unlock()
	if n == f.fail {
		return errors.New("server gone")
	}
	start := time.Now()
	if f.delay != nil {
		time.Sleep(f.delay(n))
	}
	lat.Record(time.Since(start))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range b.Events {
		res[i] = sim.Result{Accepted: true}
		if f.accept != nil {
			res[i] = f.accept(e)
		}
		if f.done == nil {
			f.done = map[string]bool{}
		}
		f.done[string(e)] = true
	}
	return nil
}

// script is a generator that plays a fixed list.
type script struct {
	events []sim.Event
	next   int
}

func (s *script) Next(e *sim.Event) error {
	if s.next == len(s.events) {
		return errors.New("script exhausted")
	}
	*e = s.events[s.next]
	s.next++
	return nil
}

func demoGen(t *testing.T, cfg sim.Config) sim.Generator {
	g, err := sim.New("demo", cfg, catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPacing runs on synctest's fake clock, where sleeps take no time and
// the schedule is exact.
func TestPacing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       sim.Options
		sent    int64
		batches []int // sizes, or nil: all of size 1
		first   int   // when batches is nil: count of batches
	}{
		// One event every 10ms, each sent on its own as it becomes due.
		{name: "rate 100 for 2s", o: sim.Options{Rate: 100, Duration: 2 * time.Second}, sent: 200, first: 200},
		// Wake-ups are at least 1ms apart: 1 event at 0, then 10 per ms.
		{name: "rate 10000 for 1s", o: sim.Options{Rate: 10000, Duration: time.Second}, sent: 9991, first: 1000},
		{name: "count, unlimited", o: sim.Options{Count: 1000}, sent: 1000, batches: []int{256, 256, 256, 232}},
		{name: "count, small batches", o: sim.Options{Count: 10, BatchSize: 4, Concurrency: 1}, sent: 10, batches: []int{4, 4, 2}},
		{name: "count before duration", o: sim.Options{Rate: 50, Count: 20, Duration: time.Hour}, sent: 20, first: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeSender{}
				sum, err := sim.Run(t.Context(), demoGen(t, sim.Config{Seed: 1}), f, nil, tc.o)
				if err != nil {
					t.Fatal(err)
				}
				if sum.Sent() != tc.sent || sum.Accepted != tc.sent {
					t.Errorf("sent %d, accepted %d; want %d", sum.Sent(), sum.Accepted, tc.sent)
				}
				if tc.batches != nil {
					slices.Sort(f.batches)
					slices.Reverse(f.batches)
					if !slices.Equal(f.batches, tc.batches) {
						t.Errorf("batches %v, want %v", f.batches, tc.batches)
					}
				} else if len(f.batches) != tc.first {
					t.Errorf("%d batches, want %d", len(f.batches), tc.first)
				}
			})
		})
	}
}

func TestRateAchieved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sum, err := sim.Run(t.Context(), demoGen(t, sim.Config{Seed: 1}), &fakeSender{}, nil, sim.Options{Rate: 100, Duration: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// The last event is due at 1.99s; the run ends at 2s.
		if sum.Elapsed != 2*time.Second || sum.Rate() != 100 {
			t.Errorf("elapsed %v, rate %v", sum.Elapsed, sum.Rate())
		}
	})
}

func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		o := sim.Options{Rate: 100, Duration: 2500 * time.Millisecond, ProgressEvery: 1005 * time.Millisecond,
			Progress: func(s sim.Stats) { got = append(got, s.Line()) }}
		if _, err := sim.Run(t.Context(), demoGen(t, sim.Config{Seed: 1}), &fakeSender{}, nil, o); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"sent 101 events: 101 accepted, 0 rejected, 100 events/s (1s)",
			"sent 201 events: 201 accepted, 0 rejected, 100 events/s (2s)",
		}
		if !slices.Equal(got, want) {
			t.Errorf("progress\n%q\nwant\n%q", got, want)
		}
	})
}

// TestExpectations checks results against what events expected: a sender
// that accepts everything makes every invalid event a failure, one that
// rejects a valid event makes an unexpected rejection.
func TestExpectations(t *testing.T) {
	rejectAll := func(v sim.Verdict) func([]byte) sim.Result {
		return func([]byte) sim.Result { return sim.Result{Verdict: v} }
	}
	for _, tc := range []struct {
		name   string
		accept func([]byte) sim.Result
		want   string
	}{
		{"accepts everything", nil, `sent 200 events in 0µs: 0 events/s
accepted: 200
rejected: 0 (15 invalid on purpose)
UNEXPECTED acceptances of invalid events:
  empty key field: 2
  wrong type: 5
  unknown contract: 5
  bad consent: 3
`},
		{"rejects everything as regex", rejectAll(sim.Verdict{Rule: "regex", Field: "consistentValue"}), `sent 200 events in 0µs: 0 events/s
accepted: 0
rejected: 200, 198 unexpectedly (15 invalid on purpose)
  regex consistentValue: 200
UNEXPECTED rejections:
  valid event, got regex consistentValue: 185
  expected consentLevels strmMeta/consentLevels, got regex consistentValue: 3
  expected decode consistentValue, got regex consistentValue: 5
  expected eventContract strmMeta/eventContractRef, got regex consistentValue: 5
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sum, err := sim.Run(t.Context(), demoGen(t, sim.Config{Seed: 3, InvalidRatio: 0.1}), &fakeSender{accept: tc.accept}, nil, sim.Options{Count: 200})
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				sum.Latency = sim.Histogram{}
				sum.Write(&b)
				if b.String() != tc.want {
					t.Errorf("summary:\n%s\nwant:\n%s", b.String(), tc.want)
				}
			})
		})
	}
}

// forgetChecker checks, when asked to forget, that every event before the
// request was answered.
type forgetChecker struct {
	t      *testing.T
	sender *fakeSender
	before map[string][]string // subject → bodies made before its request
	got    []string
}

func (f *forgetChecker) Forget(_ context.Context, subject string) (uint64, uint64, error) {
	f.sender.mu.Lock()
	defer f.sender.mu.Unlock()
	for _, b := range f.before[subject] {
		if !f.sender.done[b] {
			f.t.Errorf("forget %s ran before event %q was answered", subject, b)
		}
	}
	f.got = append(f.got, subject)
	return 1, uint64(len(f.before[subject])), nil
}

// TestForgetAfterEvents: an erasure request runs only once every event
// made before it is answered, even with batches in flight that finish out
// of order, and the producer does not wait for it.
func TestForgetAfterEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []sim.Event
		before := map[string][]string{}
		var bodies []string
		for i := range 40 {
			body := fmt.Sprintf("event-%d", i)
			bodies = append(bodies, body)
			events = append(events, sim.Event{Schema: "a/b/1.0.0", Body: []byte(body)})
			if i%10 == 9 {
				subject := fmt.Sprintf("customer-%d", i)
				before[subject] = slices.Clone(bodies)
				events = append(events, sim.Event{Forget: subject})
			}
		}
		// Later batches answer faster than earlier ones.
		f := &fakeSender{delay: func(n int) time.Duration { return time.Duration(100-n) * time.Millisecond }}
		fc := &forgetChecker{t: t, sender: f, before: before}
		sum, err := sim.Run(t.Context(), &script{events: events}, f, fc, sim.Options{Count: 40, BatchSize: 3, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		// The request after the 40th event is never made: the run stops at
		// its count.
		if want := []string{"customer-9", "customer-19", "customer-29"}; !slices.Equal(fc.got, want) {
			t.Errorf("forgot %v, want %v", fc.got, want)
		}
		if sum.Forgotten != 3 || sum.ForgottenKeyLinks != 3 || sum.ForgottenEvents != 10+20+30 {
			t.Errorf("summary: %d forgotten, %d key links, %d events", sum.Forgotten, sum.ForgottenKeyLinks, sum.ForgottenEvents)
		}
	})
}

func TestRunErrors(t *testing.T) {
	t.Run("sender fails", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakeSender{fail: 3}
			sum, err := sim.Run(t.Context(), demoGen(t, sim.Config{Seed: 1}), f, nil, sim.Options{Count: 100000, Concurrency: 1})
			if err == nil || err.Error() != "server gone" {
				t.Fatalf("err = %v", err)
			}
			if sum.Sent() != 512 {
				t.Errorf("sent %d, want the 2 batches before the failure", sum.Sent())
			}
		})
	})
	t.Run("cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			// Between two due times, so the outcome does not hang on
			// which of two timers of the same instant fires first.
			time.AfterFunc(1050*time.Millisecond, cancel)
			sum, err := sim.Run(ctx, demoGen(t, sim.Config{Seed: 1}), &fakeSender{}, nil, sim.Options{Rate: 10})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Sent() != 11 { // due at 0, 0.1s, ..., 1s
				t.Errorf("sent %d, want 11", sum.Sent())
			}
		})
	})
	t.Run("forget without forgetter", func(t *testing.T) {
		_, err := sim.Run(t.Context(), &script{events: []sim.Event{{Forget: "x"}}}, &fakeSender{}, nil, sim.Options{Count: 1})
		if err == nil || err.Error() != "the generator made an erasure request, but no Forgetter was given" {
			t.Fatalf("err = %v", err)
		}
	})
	for _, tc := range []struct {
		o    sim.Options
		want string
	}{
		{sim.Options{Rate: -1}, "rate -1: give events per second, or 0 for as fast as possible"},
		{sim.Options{Count: -1}, "count -1: give a positive number of events"},
		{sim.Options{Duration: -time.Second}, "duration -1s: give a positive duration"},
		{sim.Options{Concurrency: -2}, "concurrency -2: give a positive number"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := sim.Run(t.Context(), &script{}, &fakeSender{}, nil, tc.o)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
