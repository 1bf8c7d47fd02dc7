package engine

import (
	"fmt"
	"slices"
	"strconv"
)

// Limits on strmMeta.consentLevels (docs/pipeline.md, "Ingest"). The count
// applies to the list as the producer gave it, duplicates included: the
// decoder refuses a longer list before it holds more than this many values,
// so an event of 1 MiB cannot make it build an array of a million.
const (
	MaxConsentLevels = 64   // most levels one event may give
	MaxConsentLevel  = 1023 // highest valid level; the lowest is 0
)

// consentCountError is the refusal of a consent list longer than
// MaxConsentLevels. It does not echo the list.
func consentCountError(schemaRef string) error {
	return &RejectError{Field: "strmMeta/consentLevels", Rule: RuleConsentLevels, kind: ErrRejected,
		Msg: fmt.Sprintf("Field: 'strmMeta/consentLevels' in event with schema: '%s' holds more than %d consent levels (at most %d values, each from 0 to %d)", schemaRef, MaxConsentLevels, MaxConsentLevels, MaxConsentLevel)}
}

// consentLevelError is the refusal of one level outside 0..MaxConsentLevel,
// quoted as written.
func consentLevelError(schemaRef, level string) error {
	return &RejectError{Field: "strmMeta/consentLevels", Rule: RuleConsentLevels, kind: ErrRejected,
		Msg: fmt.Sprintf("Field: 'strmMeta/consentLevels' in event with schema: '%s' with value: '%s' is not a valid consent level (must be an integer from 0 to %d)", schemaRef, level, MaxConsentLevel)}
}

// consentLimit is the most consent levels the decoder lets an event give: the
// limit when it validates (Decode), none when it reads back a stored event
// (DecodeStored), so that records accepted before the limit stay readable.
func consentLimit(validate bool) int {
	if validate {
		return MaxConsentLevels
	}
	return 0
}

// consentFull reports whether an array of consent levels that already holds
// n values, about to take more, would go over the decoder's limit.
func (d *decoder) consentFull(n, more int) bool {
	return d.consentMax > 0 && n+more > d.consentMax
}

// consentArray returns the slot of strmMeta.consentLevels and its value, ok
// false when the event has none (a stored JSON Schema event that does not
// match its schema).
func (e *Event) consentArray() (slot int, arr value, ok bool) {
	i := e.metaSlot(metaConsent)
	if i < 0 || e.vals[i].kind != vArray {
		return 0, value{}, false
	}
	return i, e.vals[i], true
}

// checkConsent refuses a consent list longer than MaxConsentLevels or with a
// level outside 0..MaxConsentLevel, reporting the first such level as
// written. It does not allocate.
func (e *Event) checkConsent() error {
	_, arr, ok := e.consentArray()
	if !ok {
		return nil
	}
	if arr.count() > MaxConsentLevels {
		return consentCountError(e.schema.refString())
	}
	for j := range arr.count() {
		v := e.vals[arr.first()+j]
		if v.kind == vNumber {
			if n, ok := jsonInt(v.str); !ok || n < 0 || n > MaxConsentLevel {
				return consentLevelError(e.schema.refString(), v.str)
			}
			continue
		}
		if n := int64(v.num); n < 0 || n > MaxConsentLevel {
			return consentLevelError(e.schema.refString(), strconv.FormatInt(n, 10))
		}
	}
	return nil
}

// normalizeConsent sorts strmMeta.consentLevels and drops duplicates, in
// place, so that the stored event and its record metadata hold one list per
// set of levels. JSON Schema numbers are rewritten as plain integers (1.0
// becomes 1). REQUIRES: checkConsent passed.
func (e *Event) normalizeConsent() {
	slot, arr, ok := e.consentArray()
	if !ok || arr.count() == 0 {
		return
	}
	first := arr.first()
	var buf [MaxConsentLevels]int32
	levels := buf[:arr.count()]
	for j := range levels {
		levels[j] = int32(e.intAt(first + j))
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	number := e.vals[first].kind == vNumber
	for j, l := range levels {
		v := &e.vals[first+j]
		if number {
			var b [8]byte
			if lit := strconv.AppendInt(b[:0], int64(l), 10); string(lit) != v.str {
				v.str = string(lit)
			}
			continue
		}
		v.num = uint64(int64(l))
	}
	// The slots past the shortened list belong to no container any more.
	clear(e.vals[first+len(levels) : first+arr.count()])
	arr.num = uint64(uint32(first)) | uint64(len(levels))<<32
	e.vals[slot] = arr
}
