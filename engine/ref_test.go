package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

func TestParseRef(t *testing.T) {
	valid := []string{
		"streammachine/demo/1.0.2",
		"a/b/0.0.0",
		"My.Handle_1/name-2/10.20.30",
		strings.Repeat("h", 100) + "/n/1.2.3",
	}
	for _, s := range valid {
		r, err := engine.ParseRef(s)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", s, err)
			continue
		}
		if r.String() != s {
			t.Errorf("ParseRef(%q).String() = %q", s, r.String())
		}
	}

	long := strings.Repeat("n", 101)
	invalid := []struct{ in, msg string }{
		{"", "invalid ref '': must have the form handle/name/version"},
		{"a/b", "invalid ref 'a/b': must have the form handle/name/version"},
		{"a/b/1.0.0/x", "invalid ref 'a/b/1.0.0/x': must have the form handle/name/version"},
		{"/b/1.0.0", "invalid ref '/b/1.0.0': handle must not be empty"},
		{"a//1.0.0", "invalid ref 'a//1.0.0': name must not be empty"},
		{"a b/c/1.0.0", "invalid ref 'a b/c/1.0.0': handle may contain only letters, digits, '.', '_' and '-'"},
		{"a/" + long + "/1.0.0", "invalid ref 'a/" + long + "/1.0.0': name must be at most 100 characters"},
		{"a/b/1.0", "invalid ref 'a/b/1.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"a/b/01.0.0", "invalid ref 'a/b/01.0.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"a/b/1.0.0-rc1", "invalid ref 'a/b/1.0.0-rc1': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"a/b/1..0", "invalid ref 'a/b/1..0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"a/b/v1.0.0", "invalid ref 'a/b/v1.0.0': version must be semver X.Y.Z (numbers without leading zeros)"},
		{"a/b/1.0.1234567890", "invalid ref 'a/b/1.0.1234567890': version must be semver X.Y.Z (numbers without leading zeros)"},
	}
	for _, tc := range invalid {
		_, err := engine.ParseRef(tc.in)
		if err == nil {
			t.Errorf("ParseRef(%q) succeeded", tc.in)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("ParseRef(%q) = %q, want %q", tc.in, err, tc.msg)
		}
		if !errors.Is(err, engine.ErrInvalidRef) {
			t.Errorf("ParseRef(%q) error does not match ErrInvalidRef", tc.in)
		}
	}
}

func TestRefValidate(t *testing.T) {
	if err := (engine.Ref{Handle: "a", Name: "b", Version: "1.2.3"}).Validate(); err != nil {
		t.Error(err)
	}
	err := engine.Ref{}.Validate()
	if err == nil || err.Error() != "invalid ref '//': handle must not be empty" {
		t.Errorf("zero Ref: %v", err)
	}
	if !(engine.Ref{}).IsZero() {
		t.Error("zero Ref is not IsZero")
	}
}
