package sim

import (
	"math/rand/v2"
	"strconv"
)

const (
	demoSchema   = "streammachine/demo/1.0.2"
	demoContract = "streammachine/example/1.3.0"
)

// demoValues is how many distinct values each demo field takes, as in the
// original CLI simulator (unique-0 ... unique-99).
const demoValues = 100

// demoEvent is the DemoEvent record of streammachine/demo/1.0.2.
type demoEvent struct {
	StrmMeta           strmMeta `avro:"strmMeta" json:"strmMeta"`
	UniqueIdentifier   *string  `avro:"uniqueIdentifier" json:"uniqueIdentifier"`
	ConsistentValue    string   `avro:"consistentValue" json:"consistentValue"`
	SomeSensitiveValue *string  `avro:"someSensitiveValue" json:"someSensitiveValue"`
	NotSensitiveValue  *string  `avro:"notSensitiveValue" json:"notSensitiveValue"`
}

// demo makes the original CLI simulator's random events: a session picked
// uniformly from the session range, unique-<n>, sensitive-<n> and
// not-sensitive-<n> values, and a consent picked from the list. Every string
// is built once, so an event costs no allocation.
type demo struct {
	r                               *rand.Rand
	ratio                           float64
	consent                         [][]int32
	codec                           *avroCodec
	sessions                        []string // "session-<n>", built on first use
	unique, sensitive, notSensitive [demoValues]string

	ev      demoEvent
	scratch []int32
}

func newDemo(cfg Config, definitions map[string]string) (*demo, error) {
	if cfg.Sessions == 0 {
		cfg.Sessions = 1000
	}
	if cfg.ConsentLevels == nil {
		cfg.ConsentLevels = [][]int32{{}, {0}, {0, 1}, {0, 1, 2}, {0, 1, 2, 3}}
	}
	g := &demo{
		r:        newRand(cfg.Seed),
		ratio:    cfg.InvalidRatio,
		consent:  cfg.ConsentLevels,
		sessions: make([]string, cfg.Sessions),
	}
	for i := range demoValues {
		n := strconv.Itoa(i)
		g.unique[i], g.sensitive[i], g.notSensitive[i] = "unique-"+n, "sensitive-"+n, "not-sensitive-"+n
	}
	var err error
	g.codec, err = newAvroCodec(demoSchema, definitions, &demoEvent{StrmMeta: strmMeta{EventContractRef: demoContract}})
	return g, err
}

func (g *demo) session(n int) string {
	if g.sessions[n] == "" {
		g.sessions[n] = "session-" + strconv.Itoa(n)
	}
	return g.sessions[n]
}

func (g *demo) Next(e *Event) error {
	kind := pickInvalid(g.r, g.ratio)
	session := g.session(g.r.IntN(len(g.sessions)))
	levels := g.consent[g.r.IntN(len(g.consent))]
	g.ev = demoEvent{
		StrmMeta:           strmMeta{EventContractRef: demoContract, ConsentLevels: levels},
		UniqueIdentifier:   &g.unique[g.r.IntN(demoValues)],
		ConsistentValue:    session,
		SomeSensitiveValue: &g.sensitive[g.r.IntN(demoValues)],
		NotSensitiveValue:  &g.notSensitive[g.r.IntN(demoValues)],
	}
	*e = Event{Schema: demoSchema, Body: e.Body[:0], Invalid: kind}
	switch kind {
	case BadRegex, EmptyKey:
		// The key field is also the field of the contract's only regex
		// (^.+$), and validations run before the key-field check: both
		// kinds are reported as that regex.
		g.ev.ConsistentValue = ""
		e.Expect = Verdict{Rule: "regex", Field: "consistentValue"}
	case WrongType:
		e.JSON = true
		e.Expect = Verdict{Rule: "decode", Field: "consistentValue"}
		var err error
		e.Body, err = wrongTypeJSON(e.Body, &g.ev, "consistentValue", 42)
		return err
	case UnknownContract:
		g.ev.StrmMeta.EventContractRef = unknownContractRef
		e.Expect = expectUnknownContract
	case BadConsent:
		g.scratch = withBadConsent(g.scratch, levels)
		g.ev.StrmMeta.ConsentLevels = g.scratch
		e.Expect = expectBadConsent
	}
	var err error
	e.Body, err = g.codec.encode(e.Body, &g.ev)
	return err
}
