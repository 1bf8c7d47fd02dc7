package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

// Saved entities are kept per server (see client.Entities):
//
//	<config dir>/servers/<server id>/saved-entities/<Kind>/<name>.json
//	<config dir>/servers/<server id>/server.json   (URL it was last seen at)
//
// and the legacy <config dir>/saved-entities/<Kind>/<name>.json is still
// read, after the server's folder, but never written or removed.
//
// The server id costs one GetServerInfo call, made once per command line
// and only by the commands that save or read credentials.

// lookupTimeout bounds the GetServerInfo call, which has no command context:
// the saved-entity API (and the UI's Credentials func) takes none.
const lookupTimeout = 30 * time.Second

// runState is what one command line learned beyond its flags: the context
// that named its server, and its server's saved entities (env.run).
type runState struct {
	// Set when the command line is built (see applyContext).
	context, contextServer string

	once sync.Once
	ents client.Entities
	id   string // the id the server told; "" when it did not
	why  error  // why it did not: it needs the admin token
	err  error  // no server to tell it

	mu   sync.Mutex
	read map[string]string // stream → file its credentials were read from
}

func (e *env) state() *runState {
	e.runOnce.Do(func() { e.run = &runState{read: map[string]string{}} })
	return e.run
}

// configDir is this command line's config dir.
func (e *env) configDir() string { return client.ConfigDir(e.getenv) }

// entities are the saved entities of this command line's server, looked up
// once.
func (e *env) entities() (client.Entities, *runState) {
	s := e.state()
	s.once.Do(func() { s.err = e.lookupServer(s) })
	return s.ents, s
}

// lookupServer asks the server its id. A server with an admin token tells
// it only with the token, which stream-scoped commands do not need: without
// it, the folder last seen at this URL is read (s.why says why), else only
// the legacy folder.
func (e *env) lookupServer(s *runState) error {
	dir := e.configDir()
	s.ents.Legacy = client.SavedIn(dir)
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	res, err := e.client().Server.GetServerInfo(ctx, connect.NewRequest(&v1.GetServerInfoRequest{}))
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		s.why = err
		rec, ok, err := client.ServerAt(dir, e.server)
		if err != nil || !ok {
			return err
		}
		s.ents.Server, err = client.ServerSaved(dir, rec.ServerID)
		return err
	}
	if err != nil {
		return e.unreachable(err)
	}
	id := res.Msg.GetServerId()
	if s.ents.Server, err = client.ServerSaved(dir, id); err != nil {
		return fmt.Errorf("the server at %s: %w", e.server, err)
	}
	s.id = id
	// Record where it was seen, in its own folder, if it has one.
	if sdir, _ := client.ServerDir(dir, id); exists(sdir) {
		return e.recordServer(id)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// recordServer writes the server.json of a server: the URL it was seen at
// now.
func (e *env) recordServer(id string) error {
	return client.WriteServerRecord(e.configDir(), client.ServerRecord{ServerID: id, URL: e.server, LastSeen: time.Now()})
}

// unreachable names the context that points at a server that is gone;
// without one, the error is left to describe.
func (e *env) unreachable(err error) error {
	s := e.state()
	if connect.CodeOf(err) != connect.CodeUnavailable || s.context == "" || s.contextServer != e.server {
		return err
	}
	return fmt.Errorf("cannot reach the strmlocal server of context %s at %s (%s); start it, switch to another context with `strmlocal context use NAME` (see `strmlocal context list`), or override it with --server / STRMLOCAL_SERVER",
		s.context, e.server, client.Message(err))
}

// savedEntities is the saved-entity API of the commands (create and delete
// stream): the server's own folder, found on first use.
type savedEntities struct{ e *env }

// saved is the saved entities of this command line's server.
func (e *env) saved() savedEntities { return savedEntities{e} }

// Save writes m into the server's folder, with its server.json, and returns
// its path.
func (s savedEntities) Save(kind, name string, m proto.Message) (string, error) {
	ents, st := s.e.entities()
	if st.err != nil {
		return "", st.err
	}
	if st.id == "" {
		// Only what the server told: never a guess at another's folder.
		return "", fmt.Errorf("the server at %s tells its id, which names the folder of its saved entities, only with its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN", s.e.server)
	}
	path, err := ents.Save(kind, name, m)
	if err != nil {
		return "", err
	}
	return path, s.e.recordServer(st.id)
}

// Remove deletes an entity from the server's folder; a missing one is fine,
// and the legacy file (maybe another server's) stays.
func (s savedEntities) Remove(kind, name string) error {
	ents, st := s.e.entities()
	if st.err != nil {
		return st.err
	}
	return ents.Remove(kind, name)
}

// Path is the file an entity is saved in (see client.Entities.Path).
func (s savedEntities) Path(kind, name string) string {
	ents, _ := s.e.entities()
	return ents.Path(kind, name)
}

// streamCredentialsFile reads the saved credentials of a stream and returns
// the file it read them from.
func (e *env) streamCredentialsFile(name string) (*v1.Credentials, string, error) {
	ents, st := e.entities()
	if st.err != nil {
		return nil, "", st.err
	}
	c, path, err := ents.StreamCredentials(name)
	if errors.Is(err, fs.ErrNotExist) && st.why != nil {
		return nil, "", notSavedError{fmt.Sprintf("no saved credentials for stream %s at %s: the server tells its id, which names the folder of its saved credentials, only with its admin token (%s); pass --admin-token or set STRMLOCAL_ADMIN_TOKEN",
			name, e.server, client.Message(st.why))}
	}
	if err == nil {
		st.mu.Lock()
		st.read[name] = path
		st.mu.Unlock()
	}
	return c, path, err
}

// notSavedError is a stream without saved credentials, like the one of
// client.Entities: it wraps fs.ErrNotExist.
type notSavedError struct{ msg string }

func (e notSavedError) Error() string { return e.msg }
func (notSavedError) Unwrap() error   { return fs.ErrNotExist }

// credentialsFile is the file the credentials of a stream were read from
// in this command line, if they were.
func (e *env) credentialsFile(name string) string {
	st := e.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.read[name]
}
