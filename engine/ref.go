package engine

import (
	"fmt"
	"strings"
)

// Ref names a schema or an event contract: handle/name/version.
type Ref struct {
	Handle  string
	Name    string
	Version string
}

// maxRefPart bounds handle and name; the platform allowed at most 100 characters.
const maxRefPart = 100

// ParseRef parses "handle/name/version". Handle and name are 1 to 100 characters
// from [a-zA-Z0-9._-]; version is semver X.Y.Z with decimal numbers and no leading
// zeros. Pre-release and build suffixes are refused: the platform had none, and
// refusing them keeps refs comparable as plain strings.
func ParseRef(s string) (Ref, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Ref{}, refError(s, "must have the form handle/name/version")
	}
	r := Ref{Handle: parts[0], Name: parts[1], Version: parts[2]}
	if err := r.validate(s); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// Validate reports whether r satisfies the rules of ParseRef.
func (r Ref) Validate() error {
	return r.validate(r.String())
}

func (r Ref) validate(s string) error {
	if msg := checkRefPart(r.Handle); msg != "" {
		return refError(s, "handle "+msg)
	}
	if msg := checkRefPart(r.Name); msg != "" {
		return refError(s, "name "+msg)
	}
	if msg := checkVersion(r.Version); msg != "" {
		return refError(s, "version "+msg)
	}
	return nil
}

// String returns "handle/name/version".
func (r Ref) String() string {
	return r.Handle + "/" + r.Name + "/" + r.Version
}

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool {
	return r == Ref{}
}

func refError(s, rule string) error {
	return &DefinitionError{Msg: fmt.Sprintf("invalid ref '%s': %s", s, rule), kind: ErrInvalidRef}
}

func checkRefPart(p string) string {
	if p == "" {
		return "must not be empty"
	}
	if len(p) > maxRefPart {
		return fmt.Sprintf("must be at most %d characters", maxRefPart)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "may contain only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

func checkVersion(v string) string {
	const rule = "must be semver X.Y.Z (numbers without leading zeros)"
	nums := strings.Split(v, ".")
	if len(nums) != 3 {
		return rule
	}
	for _, n := range nums {
		// 9 digits keeps every component within int32, like the platform's proto fields.
		if n == "" || len(n) > 9 || (len(n) > 1 && n[0] == '0') {
			return rule
		}
		for i := 0; i < len(n); i++ {
			if n[i] < '0' || n[i] > '9' {
				return rule
			}
		}
	}
	return ""
}
