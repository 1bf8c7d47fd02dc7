package engine

import "errors"

// Sentinel errors, all of them: this is the one place they are defined. Every
// error the package returns for bad input matches exactly one of them under
// errors.Is, so the RPC layer can choose a status code in one place without
// parsing messages.
var (
	// ErrInvalidRef: a ref is not handle/name/version.
	ErrInvalidRef = errors.New("engine: invalid ref")
	// ErrInvalidSchema: a schema definition is refused.
	ErrInvalidSchema = errors.New("engine: invalid schema")
	// ErrInvalidContract: an event contract is refused.
	ErrInvalidContract = errors.New("engine: invalid event contract")
	// ErrInvalidEvent: an event body does not decode against its schema.
	ErrInvalidEvent = errors.New("engine: invalid event")
	// ErrRejected: a decoded event breaks a rule of its event contract.
	ErrRejected = errors.New("engine: event rejected")
	// ErrField: a field accessor was used on a path that does not exist, has the
	// wrong type, or belongs to another schema. It signals a caller bug rather
	// than bad input.
	ErrField = errors.New("engine: bad field access")

	// ErrInvalidView: a derived stream definition (View) is refused.
	ErrInvalidView = errors.New("engine: invalid derived stream")
	// ErrNotInView: View.Apply was given an event the view does not keep. It
	// signals a caller bug: filter with View.Keeps first.
	ErrNotInView = errors.New("engine: event not in derived stream")
	// ErrDecrypt: a PII value did not decrypt (tampered or foreign
	// ciphertext, wrong key). The error also wraps the Decrypter's error.
	ErrDecrypt = errors.New("engine: cannot decrypt")
)

// errRecordMeta: stored record metadata does not parse (ParseRecordMeta). It
// is unexported because it means the log is damaged or was written by
// something else, not that a user's input is bad; callers only report it.
var errRecordMeta = errors.New("engine: corrupt record metadata")

// Rules reported in RejectError.Rule.
const (
	RuleDecode        = "decode"        // the body does not match the schema
	RuleSerialization = "serialization" // the serialization does not fit the schema type
	RuleSchemaRef     = "schemaRef"     // the contract belongs to another schema
	RuleKeyField      = "keyField"      // the key field is null or empty
	RuleConsentLevels = "consentLevels" // more than MaxConsentLevels levels, or one outside 0..MaxConsentLevel
	// Validation failures use the validation type as the rule, e.g. "regex".
)

// RejectError is an event refused during decoding (ErrInvalidEvent) or by its
// contract (ErrRejected). Error returns Msg alone because it travels verbatim
// to the producer (HTTP 400 body, RPC message) in the STRM wording. Msg may
// echo the offending value: it must be shown only to the event's own producer,
// never logged or stored.
type RejectError struct {
	Field string // '/'-separated path of the offending field; empty if the event as a whole is at fault
	Rule  string // one of the Rule constants or a validation type
	Msg   string
	kind  error
}

func (e *RejectError) Error() string { return e.Msg }

// Unwrap returns ErrInvalidEvent or ErrRejected.
func (e *RejectError) Unwrap() error { return e.kind }

// DefinitionError is a refused ref, schema, event contract or derived stream. Error returns Msg
// alone, naming the offending field and the rule it breaks, so that it can be
// shown to the user as is. A definition with several problems is refused with
// errors.Join of one DefinitionError per problem.
type DefinitionError struct {
	Field string // the offending part, e.g. "piiFields", "strmMeta.nonce"; empty when the whole definition is at fault
	Msg   string
	kind  error
}

func (e *DefinitionError) Error() string { return e.Msg }

// Unwrap returns ErrInvalidRef, ErrInvalidSchema, ErrInvalidContract or
// ErrInvalidView.
func (e *DefinitionError) Unwrap() error { return e.kind }
