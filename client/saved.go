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
	"time"

	"github.com/google/uuid"
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

// Saved is one directory of saved entities:
// <dir>/<Kind>/<name>.json, one protojson document each, as the original CLI
// kept them. Files hold credentials, so they are written with mode 0600.
//
// Each server has its own directory (see ServerSaved and Entities), so
// that two servers' streams of the same name never overwrite each other.
type Saved struct{ Dir string }

// SavedIn returns the legacy saved entities of a config dir (see
// ConfigDir): <config dir>/saved-entities, the STRM CLI's layout, shared by
// every server. Entities still reads it, and writes it never.
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
	return path, WriteConfigFile(path, b)
}

// WriteConfigFile writes a file of client state atomically (temporary file,
// then rename) with mode 0600, making its directory (mode 0700) if need be.
func WriteConfigFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
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
	c, _, err := Entities{Server: s}.StreamCredentials(name)
	return c, err
}

// ServerSaved returns the saved entities of one server:
// <config dir>/servers/<server id>/saved-entities. The server id is the
// server_id of GetServerInfo, stable for a data dir.
func ServerSaved(configDir, serverID string) (Saved, error) {
	dir, err := ServerDir(configDir, serverID)
	if err != nil {
		return Saved{}, err
	}
	return Saved{Dir: filepath.Join(dir, "saved-entities")}, nil
}

// ServerDir is the folder of one server's client state:
// <config dir>/servers/<server id>. The id must be a UUID, which also keeps
// a server from naming a folder outside it.
func ServerDir(configDir, serverID string) (string, error) {
	id, err := uuid.Parse(serverID)
	if err != nil || id.String() != strings.ToLower(serverID) {
		return "", fmt.Errorf("invalid server id %q: a strmlocal server's id is a UUID; is it a strmlocal server of the same version?", serverID)
	}
	return filepath.Join(configDir, "servers", id.String()), nil
}

// ServerRecord is <config dir>/servers/<server id>/server.json: which server
// a folder belongs to and the URL it was last seen at.
type ServerRecord struct {
	ServerID string    `json:"serverId"`
	URL      string    `json:"url"`
	LastSeen time.Time `json:"lastSeen"`
}

// WriteServerRecord writes r into its server's own folder (and no other).
func WriteServerRecord(configDir string, r ServerRecord) error {
	dir, err := ServerDir(configDir, r.ServerID)
	if err != nil {
		return err
	}
	r.URL = strings.TrimRight(r.URL, "/")
	r.LastSeen = r.LastSeen.UTC().Truncate(time.Second)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return WriteConfigFile(filepath.Join(dir, "server.json"), append(b, '\n'))
}

// ServerAt finds the server folder last seen at url: of the server.json
// files that record url, the one with the latest LastSeen. ok is false when
// none does. A damaged server.json is skipped: it names no URL.
func ServerAt(configDir, url string) (r ServerRecord, ok bool, err error) {
	url = strings.TrimRight(url, "/")
	entries, err := os.ReadDir(filepath.Join(configDir, "servers"))
	if errors.Is(err, fs.ErrNotExist) {
		return ServerRecord{}, false, nil
	}
	if err != nil {
		return ServerRecord{}, false, err
	}
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(configDir, "servers", ent.Name(), "server.json"))
		if err != nil {
			continue
		}
		var rec ServerRecord
		if json.Unmarshal(b, &rec) != nil || rec.URL != url || !strings.EqualFold(rec.ServerID, ent.Name()) {
			continue
		}
		if !ok || rec.LastSeen.After(r.LastSeen) {
			r, ok = rec, true
		}
	}
	return r, ok, nil
}

// Entities are the saved entities of one server: its own folder, read
// first and the only one written, then the legacy shared folder (see
// SavedIn), read only, so that credentials saved by the STRM CLI or an older
// strmlocal keep working. A zero Server means the server's id is unknown:
// only the legacy folder is read, and nothing can be saved.
type Entities struct {
	Server Saved
	Legacy Saved
}

// Path is the file an entity is saved in: the server's folder, or the
// legacy one when the server's id is unknown.
func (s Entities) Path(kind, name string) string {
	if s.Server.Dir == "" {
		return s.Legacy.Path(kind, name)
	}
	return s.Server.Path(kind, name)
}

// Save writes m into the server's folder and returns its path; the legacy
// folder and other servers' folders are never written.
func (s Entities) Save(kind, name string, m proto.Message) (string, error) {
	if s.Server.Dir == "" {
		return "", errors.New("the server's id is unknown: there is no folder to save its entities in")
	}
	return s.Server.Save(kind, name, m)
}

// Load reads an entity from the server's folder, else from the legacy one,
// and returns the path it read. A missing one is an error that wraps
// fs.ErrNotExist.
func (s Entities) Load(kind, name string, m proto.Message) (string, error) {
	var err error = fs.ErrNotExist
	for _, d := range []Saved{s.Server, s.Legacy} {
		if d.Dir == "" {
			continue
		}
		if err = d.Load(kind, name, m); !errors.Is(err, fs.ErrNotExist) {
			return d.Path(kind, name), err
		}
	}
	return "", err
}

// Remove deletes an entity from the server's folder; a missing one is fine.
// The legacy file, which may be another server's, stays.
func (s Entities) Remove(kind, name string) error {
	if s.Server.Dir == "" {
		return checkName(name)
	}
	return s.Server.Remove(kind, name)
}

// notSaved is the error of a stream without saved credentials; it wraps
// fs.ErrNotExist.
type notSaved struct{ msg string }

func (e notSaved) Error() string { return e.msg }
func (notSaved) Unwrap() error   { return fs.ErrNotExist }

// StreamCredentials reads the saved credentials of a stream, which
// `strmlocal create stream` saved, and returns the file it read them from.
// Without them, the error (which wraps fs.ErrNotExist) names Path.
func (s Entities) StreamCredentials(name string) (*v1.Credentials, string, error) {
	var st v1.Stream
	path, err := s.Load("Stream", name, &st)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", notSaved{fmt.Sprintf("no saved credentials for stream %s: create it with `strmlocal create stream %s`, which saves them in %s; if it was created elsewhere (or with --save=false), save its credentials in that file",
			name, name, s.Path("Stream", name))}
	}
	if err != nil {
		return nil, "", err
	}
	c := st.GetCredentials()
	if c.GetClientId() == "" || c.GetClientSecret() == "" {
		return nil, "", fmt.Errorf("saved stream %s in %s has no client id and secret: add them as \"credentials\": {\"clientId\": ..., \"clientSecret\": ...}, or delete and re-create the stream with this CLI",
			name, path)
	}
	return c, path, nil
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
