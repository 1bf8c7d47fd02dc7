package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Event is one thing a generator made: an event body to send, or an erasure
// request (Forget set, no body).
type Event struct {
	// Schema is the ref of the event's schema.
	Schema string
	// JSON marks a JSON body; otherwise the body is one bare Avro binary
	// datum.
	JSON bool
	// Body is the encoded event. Generators reuse its storage: it is valid
	// until the next call of Next with the same Event.
	Body []byte
	// Invalid is the rule the event breaks on purpose (Valid for none), and
	// Expect the verdict the server must give for it.
	Invalid Kind
	Expect  Verdict
	// Forget, when set, makes this an erasure request for this data-subject
	// id instead of an event. It must run only after every event made
	// before it is acknowledged.
	Forget string
}

// Verdict is why the server rejected an event: the broken rule and the
// offending field, as in the API's Verdict.
type Verdict struct {
	Rule, Field string
}

func (v Verdict) String() string {
	if v.Field == "" {
		return v.Rule
	}
	return v.Rule + " " + v.Field
}

// Generator makes events. It is not safe for concurrent use: the driver
// calls it from one goroutine, which is what keeps the sequence
// deterministic.
type Generator interface {
	// Next makes the next event into e, reusing e.Body's storage.
	Next(e *Event) error
}

// Config configures a generator. Zero fields take the defaults given.
type Config struct {
	// Seed seeds the random source (PCG). The same seed gives the same
	// events.
	Seed uint64
	// Clock gives the time of each event the generator stamps (sensors'
	// measuredAt); it is read once per event, in order. Default time.Now;
	// StepClock makes runs repeatable.
	Clock func() time.Time
	// Sessions is, for demo, the session range (session-0 ... session-N-1;
	// default 1000); for clickstream, the number of visitors on the site at
	// once (default 100); for sensors, the number of machines (default 20).
	Sessions int
	// InvalidRatio is the fraction of events, from 0 to 1, that break a rule
	// of their contract on purpose. Default 0.
	InvalidRatio float64
	// ConsentLevels is the list demo picks each event's consent from.
	// Default [], [0], [0 1], [0 1 2], [0 1 2 3], as the original simulator.
	ConsentLevels [][]int32
	// ConsentChanges is the fraction of clickstream sessions whose visitor
	// changes the cookie-banner choice mid-session. Default 0.05; negative
	// means none.
	ConsentChanges float64
	// Forgets is the fraction of clickstream sessions with a logged-in
	// customer that end with the customer asking to be forgotten. Default
	// 0.02; negative means none.
	Forgets float64
}

// Names are the generators New knows, in the order the CLI lists them.
var Names = []string{"demo", "clickstream", "sensors"}

// SchemaRefs returns the refs of the schemas a generator's events use, so
// that the caller can fetch their definitions (New needs the Avro ones).
func SchemaRefs(name string) ([]string, error) {
	switch name {
	case "demo":
		return []string{demoSchema}, nil
	case "clickstream":
		return []string{clickSchema}, nil
	case "sensors":
		return []string{sensorSchema, sensorJSONSchema}, nil
	}
	return nil, unknownGenerator(name)
}

// New makes a generator. definitions maps schema refs to their definition
// text, as SchemaService.GetSchema returns it; the Avro ones of SchemaRefs
// are needed.
func New(name string, cfg Config, definitions map[string]string) (Generator, error) {
	if cfg.InvalidRatio < 0 || cfg.InvalidRatio > 1 {
		return nil, fmt.Errorf("invalid ratio %v: give a fraction from 0 to 1", cfg.InvalidRatio)
	}
	if cfg.Sessions < 0 {
		return nil, fmt.Errorf("sessions %d: give a positive number", cfg.Sessions)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	switch name {
	case "demo":
		return newDemo(cfg, definitions)
	case "clickstream":
		return newClickstream(cfg, definitions)
	case "sensors":
		return newSensors(cfg, definitions)
	}
	return nil, unknownGenerator(name)
}

func unknownGenerator(name string) error {
	return fmt.Errorf("unknown simulator %q: use %s", name, strings.Join(Names, ", "))
}

// newRand is the generators' random source. PCG's output for a seed is
// fixed by its definition, so golden files stay valid across Go releases as
// long as math/rand/v2 keeps its documented algorithms.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
}

// StepClock returns a virtual clock that reads start, then start+step,
// start+2*step, ...: with it a generator's output depends on its seed
// alone.
func StepClock(start time.Time, step time.Duration) func() time.Time {
	n := time.Duration(0)
	return func() time.Time {
		t := start.Add(n * step)
		n++
		return t
	}
}

// ParseConsentLevels parses the original simulator's consent list syntax:
// entries of levels joined by '/', "" for no consent ("", "0", "0/1").
func ParseConsentLevels(entries []string) ([][]int32, error) {
	if len(entries) == 0 {
		return nil, errors.New("no consent levels: give at least one entry, e.g. \"\",0,0/1")
	}
	out := make([][]int32, 0, len(entries))
	for _, e := range entries {
		levels := []int32{}
		if e = strings.TrimSpace(e); e != "" {
			for _, p := range strings.Split(e, "/") {
				var l int32
				if _, err := fmt.Sscan(p, &l); err != nil || l < 0 || fmt.Sprint(l) != p {
					return nil, fmt.Errorf("consent levels %q: %q is not a level (a whole number from 0); write entries like 0/1/2", e, p)
				}
				levels = append(levels, l)
			}
		}
		out = append(out, levels)
	}
	return out, nil
}
