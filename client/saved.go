package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// ConfigDir is where client state (saved entities) lives, by the XDG base
// directory rules: $XDG_CONFIG_HOME/strmlocal, else ~/.config/strmlocal.
func ConfigDir(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "strmlocal")
	}
	return filepath.Join(getenv("HOME"), ".config", "strmlocal")
}

// Saved is the directory of saved entities:
// <config dir>/saved-entities/<Kind>/<name>.json, one protojson document
// each, as the original CLI kept them. Files hold credentials, so they are
// written with mode 0600.
type Saved struct{ Dir string }

// SavedIn returns the saved entities of a config dir (see ConfigDir).
func SavedIn(configDir string) Saved { return Saved{Dir: filepath.Join(configDir, "saved-entities")} }

// Path is the file of one saved entity.
func (s Saved) Path(kind, name string) string {
	return filepath.Join(s.Dir, kind, name+".json")
}

// checkName refuses a name that would lead out of the directory. Callers check
// names against the server's naming rule first; this is the last guard.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("invalid name %q for a saved entity", name)
	}
	return nil
}

// Save writes m atomically (temporary file, then rename) and returns its
// path.
func (s Saved) Save(kind, name string, m proto.Message) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	b, err := MarshalJSON(m)
	if err != nil {
		return "", err
	}
	path := s.Path(kind, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+name+".*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// Load reads a saved entity into m. A missing one is an error that wraps
// fs.ErrNotExist.
func (s Saved) Load(kind, name string, m proto.Message) error {
	if err := checkName(name); err != nil {
		return err
	}
	b, err := os.ReadFile(s.Path(kind, name))
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("saved %s %s in %s is damaged (%v): fix or delete the file", strings.ToLower(kind), name, s.Path(kind, name), err)
	}
	return nil
}

// Remove deletes a saved entity; a missing one is fine.
func (s Saved) Remove(kind, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(s.Path(kind, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// StreamCredentials reads the saved credentials of a stream, which
// `strmlocal create stream` saved.
func (s Saved) StreamCredentials(name string) (*v1.Credentials, error) {
	var st v1.Stream
	err := s.Load("Stream", name, &st)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no saved credentials for stream %s: create it with `strmlocal create stream %s`, which saves them in %s; if it was created elsewhere (or with --save=false), save its credentials in that file",
			name, name, s.Path("Stream", name))
	}
	if err != nil {
		return nil, err
	}
	c := st.GetCredentials()
	if c.GetClientId() == "" || c.GetClientSecret() == "" {
		return nil, fmt.Errorf("saved stream %s in %s has no client id and secret: add them as \"credentials\": {\"clientId\": ..., \"clientSecret\": ...}, or delete and re-create the stream with this CLI",
			name, s.Path("Stream", name))
	}
	return c, nil
}

// MarshalJSON renders m as protojson, indented by two spaces, with a
// trailing newline. protojson varies its whitespace on purpose from build to
// build; re-indenting makes the output byte-stable for scripts and diffs.
func MarshalJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
