package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTUICredentials: the UI reads streams with the credentials create
// stream saved, and explains a stream without them.
func TestTUICredentials(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	e := &env{getenv: c.getenv, server: c.server}
	o := e.tuiOptions()
	if o.Server != c.server {
		t.Fatalf("server %q", o.Server)
	}
	cr, err := o.Credentials("demo")
	if err != nil || cr.ClientId == "" || cr.ClientSecret == "" {
		t.Fatalf("demo: %v", err)
	}
	_, err = o.Credentials("other")
	if err == nil || !strings.HasPrefix(err.Error(), "no saved credentials for stream other: create it with `strmlocal create stream other`") {
		t.Fatalf("other: %v", err)
	}
}

// TestTUIQuits runs the whole program on a pipe (no terminal): q quits
// with exit 0, and the alternate screen it entered is left at the end.
func TestTUIQuits(t *testing.T) {
	c := newCLI(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"tui"}, strings.NewReader("q"), &out, &errb, c.getenv)
	if code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	s := out.String()
	const enter, leave = "\x1b[?1049h", "\x1b[?1049l"
	if !strings.Contains(s, enter) || strings.LastIndex(s, leave) < strings.LastIndex(s, enter) {
		t.Fatalf("alternate screen not left at the end: %q", s)
	}
	if strings.Contains(s, "client_secret") || strings.Contains(s, "Basic ") {
		t.Fatal("credentials in the output")
	}
}

func TestTUIRejectsArgs(t *testing.T) {
	c := newCLI(t)
	code, _, errs := c.run("tui", "demo")
	if code != 1 || !strings.Contains(errs, `unknown command "demo" for "strmlocal tui"`) {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
}
