package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestServer(t *testing.T) {
	s := Start(t)
	if want := fmt.Sprintf("postgres://strmlocal@127.0.0.1:%d/strmlocal?sslmode=disable", s.Port); s.DSN() != want {
		t.Errorf("DSN = %q, want %q", s.DSN(), want)
	}
	conn := connect(t, s.DSN())
	for setting, want := range map[string]string{
		"listen_addresses":        "127.0.0.1",
		"fsync":                   "off",
		"server_encoding":         "UTF8",
		"unix_socket_directories": s.Dir,
	} {
		if got := queryString(t, conn, "SHOW "+setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if got := queryString(t, conn, "SELECT current_user"); got != User {
		t.Errorf("current_user = %q, want %q", got, User)
	}
	if got := queryString(t, conn, "SELECT current_database()"); got != Database {
		t.Errorf("current_database() = %q, want %q", got, Database)
	}
	if os.Geteuid() == 0 {
		// Run as root, the cluster is the postgres user's.
		fi, err := os.Stat(filepath.Join(s.Dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		owner, err := lookupUser("postgres")
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != owner.uid {
			t.Errorf("the data directory's uid = %d, want the postgres user's %d", uid, owner.uid)
		}
	}
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the restart')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// Stopped, it refuses connections; started again, it has what it had,
	// on the same port.
	port := s.Port
	s.Stop(t)
	s.Stop(t) // stopping twice is fine
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := pgx.Connect(short, s.DSN()); err == nil {
		c.Close(ctx)
		t.Fatal("connecting to a stopped server: no error")
	}
	s.Start(t)
	if s.Port != port {
		t.Errorf("Port after Start = %d, want %d", s.Port, port)
	}
	conn = connect(t, s.DSN())
	if got := queryString(t, conn, "SELECT v FROM kept"); got != "before the restart" {
		t.Errorf("after the restart: %q", got)
	}
}

func TestStartRemovesItsDirectory(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		dir = s.Dir
		if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
			t.Fatalf("no cluster in Dir: %v", err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Stat(%s) after the test: %v, want it removed", dir, err)
	}
}

func TestNewDatabase(t *testing.T) {
	s := Shared(t)
	if again := Shared(t); again != s {
		t.Fatal("Shared returned two servers")
	}
	var first string
	t.Run("databases", func(t *testing.T) {
		a, b := NewDatabase(t, s), NewDatabase(t, s)
		if a == b {
			t.Fatalf("NewDatabase returned %q twice", a)
		}
		prefix := fmt.Sprintf("postgres://strmlocal@127.0.0.1:%d/t_", s.Port)
		if !strings.HasPrefix(a, prefix) || !strings.HasSuffix(a, "?sslmode=disable") {
			t.Errorf("NewDatabase = %q, want %s<random>?sslmode=disable", a, prefix)
		}
		ca, cb := connect(t, a), connect(t, b)
		first = queryString(t, ca, "SELECT current_database()")
		if _, err := ca.Exec(context.Background(), "CREATE TABLE only_in_a (v int)"); err != nil {
			t.Fatal(err)
		}
		if got := queryString(t, cb, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'"); got != "0" {
			t.Errorf("a table of one database is in the other: count %s", got)
		}
	})
	// The test's databases are dropped when it ends.
	conn := connect(t, s.DSN())
	if got := queryString(t, conn, fmt.Sprintf("SELECT count(*)::text FROM pg_database WHERE datname = '%s'", first)); got != "0" {
		t.Errorf("database %s is still there after its test", first)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int // sign
	}{
		{"15", "15", 0},
		{"16", "15", 1},
		{"9.6", "15", -1},
		{"10", "9.6", 1},
		{"9.6", "9.5", 1},
	} {
		got := compareVersions(tt.a, tt.b)
		if (got > 0) != (tt.want > 0) || (got < 0) != (tt.want < 0) {
			t.Errorf("compareVersions(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFindBinaries(t *testing.T) {
	// Debian's layout: the highest version with all three binaries wins.
	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "15", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		names := []string{"initdb", "pg_ctl", "postgres"}
		if v == "16" {
			names = names[:2] // no server
		}
		for _, name := range names {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	saved := debianBins
	t.Cleanup(func() { debianBins = saved })
	debianBins = filepath.Join(root, "*", "bin")
	t.Setenv("PATH", t.TempDir())
	b, err := findBinaries()
	if want := filepath.Join(root, "15", "bin", "initdb"); err != nil || b.initdb != want {
		t.Errorf("findBinaries = %+v, %v, want %s", b, err, want)
	}

	// None at all: the tests skip, saying what to do.
	debianBins = filepath.Join(t.TempDir(), "*", "bin")
	if _, err := findBinaries(); err != errNotInstalled {
		t.Errorf("findBinaries with no PostgreSQL = %v, want errNotInstalled", err)
	}
	if SkipMessage != "PostgreSQL is not installed: run make test-deps (it installs Debian's postgresql)" {
		t.Errorf("SkipMessage = %q", SkipMessage)
	}
}
