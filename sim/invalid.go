package sim

import "math/rand/v2"

// Kind is a way an event breaks its contract on purpose (Config.InvalidRatio).
type Kind uint8

const (
	// Valid: the event breaks no rule.
	Valid Kind = iota
	// BadRegex: a field fails a regex validation of the contract.
	BadRegex
	// EmptyKey: the key field is empty (or, in a JSON event, missing).
	EmptyKey
	// WrongType: a field holds a value of the wrong type. Avro binary cannot
	// say that, so these events are sent as JSON.
	WrongType
	// UnknownContract: strmMeta.eventContractRef names no contract.
	UnknownContract
	// BadConsent: a negative consent level.
	BadConsent
)

// invalidKinds are the kinds an invalid event is picked from, uniformly.
var invalidKinds = []Kind{BadRegex, EmptyKey, WrongType, UnknownContract, BadConsent}

var kindNames = [...]string{
	Valid:           "valid",
	BadRegex:        "regex failure",
	EmptyKey:        "empty key field",
	WrongType:       "wrong type",
	UnknownContract: "unknown contract",
	BadConsent:      "bad consent",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// unknownContractRef is a well-formed ref that no catalogue registers.
const unknownContractRef = "strmlocal/no-such-contract/1.0.0"

// Verdicts every contract gives the same way. The rule names are the API's
// (Verdict.rule); the field paths use '/' for nesting.
var (
	expectUnknownContract = Verdict{Rule: "eventContract", Field: "strmMeta/eventContractRef"}
	expectBadConsent      = Verdict{Rule: "consentLevels", Field: "strmMeta/consentLevels"}
)

// pickInvalid decides whether the next event is invalid, and how. It draws
// from r only when the ratio is above 0, so that a run without invalid
// events is not shifted by draws it does not use.
func pickInvalid(r *rand.Rand, ratio float64) Kind {
	if ratio <= 0 || r.Float64() >= ratio {
		return Valid
	}
	return invalidKinds[r.IntN(len(invalidKinds))]
}

// withBadConsent returns levels with -1 appended, in scratch's storage.
func withBadConsent(scratch, levels []int32) []int32 {
	return append(append(scratch[:0], levels...), -1)
}
