package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// User is the superuser initdb creates; every local connection is
	// trusted, so it has no password.
	User = "strmlocal"
	// Database is the database DSN names, created when the server is made.
	Database = "strmlocal"

	// SkipMessage is why a test is skipped when no PostgreSQL binaries
	// are found: the only reason pgtest skips.
	SkipMessage = "PostgreSQL is not installed: run make test-deps (it installs Debian's postgresql)"

	// startTimeout bounds how long starting waits for the server to accept
	// connections; stopTimeout how long stopping waits for it to exit.
	startTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
)

// debianBins are where Debian's packages put each version's binaries.
var debianBins = "/usr/lib/postgresql/*/bin"

// errNotInstalled: no initdb, pg_ctl and postgres were found.
var errNotInstalled = errors.New(SkipMessage)

// Server is a PostgreSQL server on a loopback port, over a cluster of its
// own. Its methods are safe for concurrent use.
type Server struct {
	// Port is the TCP port on 127.0.0.1, the same across Stop and Start.
	Port int
	// Dir holds the cluster (Dir/data) and the server's unix socket.
	Dir string

	bin   binaries
	owner *osUser // whom initdb and the server run as; nil: this process's user

	mu   sync.Mutex
	proc *process // nil when stopped
}

// binaries are one PostgreSQL version's programs.
type binaries struct{ initdb, pgCtl, postgres string }

// osUser is the OS user the server runs as when the tests run as root.
type osUser struct {
	name     string
	uid, gid uint32
}

// process is one run of the server.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer // the server's log (stderr) and stdout
	done chan struct{}
	err  error // of Wait, once done is closed
}

// Start makes a cluster in a fresh directory, starts a server on it and
// stops and removes both when the test ends. It skips the test when
// PostgreSQL is not installed, and fails it on any other trouble.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := newServer()
	if errors.Is(err, errNotInstalled) {
		t.Skip(SkipMessage)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	if err := s.init(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s
}

// DSN is the connection string of Database as User over TCP.
func (s *Server) DSN() string { return s.dsn(Database) }

func (s *Server) dsn(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.Port, database)
}

// Stop stops the server (pg_ctl stop -m fast: open connections are ended)
// and keeps its cluster; stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Start starts a stopped server again on the same cluster and port, and
// waits until it accepts connections: the databases are as they were.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// NewDatabase creates a database of its own for the test on s (named
// t_<random>), drops it when the test ends, and returns its DSN.
func NewDatabase(t testing.TB, s *Server) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := "t_" + hex.EncodeToString(b[:])
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !s.running() {
			return // a stopped server is thrown away with its cluster
		}
		// FORCE ends the connections a test left open.
		if err := s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// The shared server: started by the first Shared, stopped by StopShared.
var shared struct {
	mu  sync.Mutex
	s   *Server
	err error
}

// Shared returns the one server of the test binary, started on its first
// call. Tests share it, each with databases of its own (NewDatabase); it
// must not be stopped by a test (fault tests Start a server of their own).
// The package's TestMain stops it through Main (or StopShared); should it
// not, the server is killed with the test process, and only its directory
// under os.TempDir() is left.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s == nil && shared.err == nil {
		s, err := newServer()
		if err == nil {
			if err = s.init(); err != nil {
				if stopErr := s.shutdown(); stopErr != nil {
					err = fmt.Errorf("%w; %v", err, stopErr)
				}
			}
		}
		if err != nil {
			shared.err = err
		} else {
			shared.s = s
		}
	}
	if errors.Is(shared.err, errNotInstalled) {
		t.Skip(SkipMessage)
	}
	if shared.err != nil {
		t.Fatalf("pgtest: the shared server: %v", shared.err)
	}
	return shared.s
}

// StopShared stops the shared server, if one was started, and removes its
// cluster. A later Shared starts a new one.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	s := shared.s
	shared.s, shared.err = nil, nil
	if s == nil {
		return nil
	}
	return s.shutdown()
}

// Main is a TestMain for a package whose tests use Shared:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// It runs the tests, stops the shared server and exits.
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping the shared server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// newServer finds the binaries, picks a port and makes the directory; the
// cluster is made by init.
func newServer() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if !canSwitchUser {
			return nil, errors.New("PostgreSQL refuses to run as root, and pgtest runs it as another user only on Linux")
		}
		if s.owner, err = lookupUser("postgres"); err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses to run as root, and pgtest runs it as the postgres user: %v (the Debian package creates it: run make test-deps)", err)
		}
	}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	if s.Dir, err = s.makeDir(); err != nil {
		return nil, err
	}
	return s, nil
}

// init makes the cluster, starts the server and creates Database.
func (s *Server) init() error {
	// --no-sync: a test cluster need not survive a crash of the machine.
	// --locale=C: the same cluster whatever the environment's locale
	// (bytea compares bytes under any locale).
	out, err := s.command(s.bin.initdb,
		"-D", s.dataDir(), "--auth=trust", "-U", User,
		"--encoding=UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v; its output:\n%s", s.bin.initdb, err, out)
	}
	if err := s.start(); err != nil {
		return err
	}
	if err := s.exec("CREATE DATABASE " + Database); err != nil {
		return fmt.Errorf("creating database %s: %v", Database, err)
	}
	return nil
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// start runs the server and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("the server on port %d is running already", s.Port)
	}
	cmd := s.command(s.bin.postgres,
		"-D", s.dataDir(), "-p", strconv.Itoa(s.Port),
		"-k", s.Dir, // the unix socket: in the server's own directory
		"-c", "listen_addresses=127.0.0.1",
		// fsync, synchronous commit and full page writes off, for speed:
		// a test cluster need not survive a crash of the machine (a clean
		// Stop still writes everything, so a restart keeps every commit).
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		// Tests sharing a server open pools of their own.
		"-c", "max_connections=200")
	p := &process{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", s.bin.postgres, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if last = s.ping(); last == nil {
			return nil
		}
		select {
		case <-p.done:
			s.proc = nil
			return fmt.Errorf("the server on port %d exited before accepting connections (%v); its output:\n%s", s.Port, p.err, p.out)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.kill(p)
			s.proc = nil
			return fmt.Errorf("the server on port %d did not accept connections within %v (last: %v); its output:\n%s", s.Port, startTimeout, last, p.out)
		}
	}
}

// ping connects to the postgres database (there from initdb on) and pings.
func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// exec runs one statement in the postgres database.
func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// stop stops the server with pg_ctl stop -m fast and waits for it to exit.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	out, err := s.command(s.bin.pgCtl, "stop", "-D", s.dataDir(), "-m", "fast", "-w",
		"-t", strconv.Itoa(int(stopTimeout/time.Second))).CombinedOutput()
	if err != nil {
		killErr := s.kill(p)
		return fmt.Errorf("pg_ctl stop: %v: %s (the server was killed: %v); its output:\n%s", err, bytes.TrimSpace(out), killErr, p.out)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		killErr := s.kill(p)
		return fmt.Errorf("the server on port %d had not exited %v after pg_ctl stop and was killed (%v); its output:\n%s", s.Port, stopTimeout, killErr, p.out)
	}
}

// kill ends the server: SIGQUIT (immediate shutdown: the postmaster ends
// its backends), then SIGKILL.
func (s *Server) kill(p *process) error {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	err := p.cmd.Process.Kill()
	<-p.done
	return err
}

// shutdown stops the server and removes its directory.
func (s *Server) shutdown() error {
	err := s.stop()
	if rmErr := os.RemoveAll(s.Dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// command is a run of one of the binaries, as the owner when there is one,
// in the server's directory, with no PG* variable of this process (they
// would redirect the tools).
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	setProcAttr(cmd, s.owner)
	return cmd
}

// makeDir makes the server's directory under os.TempDir() (not the test's
// TempDir: when the tests run as root that one is root's, mode 0700, and
// the owner could not reach it), owned by the owner.
func (s *Server) makeDir() (string, error) {
	roots := []string{os.TempDir()}
	if s.owner != nil && roots[0] != "/tmp" {
		roots = append(roots, "/tmp")
	}
	var lastErr error
	for _, root := range roots {
		if s.owner != nil {
			if err := searchable(root); err != nil {
				lastErr = err
				continue
			}
		}
		dir, err := os.MkdirTemp(root, "pgtest-")
		if err != nil {
			lastErr = err
			continue
		}
		if s.owner != nil {
			if err := os.Chown(dir, int(s.owner.uid), int(s.owner.gid)); err != nil {
				_ = os.RemoveAll(dir)
				return "", err
			}
		}
		return dir, nil
	}
	return "", fmt.Errorf("no directory for the server that the %s user can reach: %v", s.owner.name, lastErr)
}

// searchable checks that every user may enter dir and its parents.
func searchable(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users (mode %v)", dir, fi.Mode().Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// findBinaries finds initdb, pg_ctl and postgres of one version: beside
// the initdb on PATH (through its symlinks), else in Debian's
// /usr/lib/postgresql/VERSION/bin of the highest version.
func findBinaries() (binaries, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob(debianBins)
	slices.SortFunc(versions, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	dirs = append(dirs, versions...)
	for _, dir := range dirs {
		b := binaries{
			initdb:   filepath.Join(dir, "initdb"),
			pgCtl:    filepath.Join(dir, "pg_ctl"),
			postgres: filepath.Join(dir, "postgres"),
		}
		if executable(b.initdb) && executable(b.pgCtl) && executable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, errNotInstalled
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// compareVersions compares Debian's version directories ("15", "9.6")
// number by number.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

func lookupUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %v", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %v", name, u.Gid, err)
	}
	return &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

// freePort returns a loopback port nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("finding a free port: %v", err)
	}
	return port, nil
}

// syncBuffer is a bytes.Buffer for a process's output, read while the
// process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
