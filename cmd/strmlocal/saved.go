package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// savedEntities is the directory of saved entities:
// <config dir>/saved-entities/<Kind>/<name>.json, one protojson document
// each, as the original CLI kept them. Files hold credentials, so they are
// written with mode 0600.
type savedEntities struct{ dir string }

func (e *env) saved() savedEntities {
	return savedEntities{dir: filepath.Join(configDir(e.getenv), "saved-entities")}
}

func (s savedEntities) path(kind, name string) string {
	return filepath.Join(s.dir, kind, name+".json")
}

// save writes m atomically (temporary file, then rename) and returns its path.
func (s savedEntities) save(kind, name string, m proto.Message) (string, error) {
	b, err := marshalJSON(m)
	if err != nil {
		return "", err
	}
	path := s.path(kind, name)
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

// load reads a saved entity into m. A missing one is an error that
// wraps fs.ErrNotExist.
func (s savedEntities) load(kind, name string, m proto.Message) error {
	b, err := os.ReadFile(s.path(kind, name))
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("saved %s %s in %s is damaged (%v): fix or delete the file", strings.ToLower(kind), name, s.path(kind, name), err)
	}
	return nil
}

// remove deletes a saved entity; a missing one is fine.
func (s savedEntities) remove(kind, name string) error {
	err := os.Remove(s.path(kind, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
