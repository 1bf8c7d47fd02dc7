package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/internal/tmpfs"
)

type runResult struct {
	code        int
	out, errOut string
}

// runServe runs `strmlocal serve args...` and fails the test when it does
// not return within a minute.
func runServe(t *testing.T, ctx context.Context, args ...string) runResult {
	t.Helper()
	c := make(chan runResult, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), &out, &errb, func(string) string { return "" })
		c <- runResult{code, out.String(), errb.String()}
	}()
	select {
	case r := <-c:
		return r
	case <-time.After(time.Minute):
		t.Fatalf("strmlocal serve %s did not return within a minute", strings.Join(args, " "))
		return runResult{}
	}
}

// TestServeOnFullDisk: starting on a full disk hung at ~94% CPU, never
// listened, ignored SIGTERM and logged an ERROR line hundreds of times a
// second. It is refused in one line, exit 1.
func TestServeOnFullDisk(t *testing.T) {
	root := tmpfs.Mount(t, 32<<20)
	dir := root + "/data"
	a, err := app.Open(app.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	free := tmpfs.Fill(t, root)
	defer free()
	r := runServe(t, context.Background(), "--data-dir", dir)
	const prefix = "strmlocal: storage full: the disk of the data dir has 0 B free; strmlocal needs 16."
	const suffix = " kept free); free some space and start again\n"
	if r.code != 1 || r.out != "" || !strings.HasPrefix(r.errOut, prefix) || !strings.HasSuffix(r.errOut, suffix) || strings.Count(r.errOut, "\n") != 1 {
		t.Fatalf("exit %d\nstdout: %q\nstderr: %q\nwant exit 1, stderr one line %q...%q", r.code, r.out, r.errOut, prefix, suffix)
	}
}

// TestServeStopsWhileOpening: SIGTERM was handled only once the server was
// up. A serve whose context ends while it starts stops without serving.
func TestServeStopsWhileOpening(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := runServe(t, ctx, "--ephemeral")
	if r.code != 0 || r.out != "strmlocal stopping\n" || r.errOut != "" {
		t.Fatalf("exit %d\nstdout: %q\nstderr: %q\nwant exit 0, stdout only \"strmlocal stopping\"", r.code, r.out, r.errOut)
	}
}

// TestServeSetsMemoryLimit: serve puts the soft limit of 100 MiB on the Go
// runtime's memory, unless GOMEMLIMIT gives one (which the runtime has
// applied already).
func TestServeSetsMemoryLimit(t *testing.T) {
	defer func(f func(int64)) { setMemoryLimit = f }(setMemoryLimit)
	for _, tc := range []struct {
		env  string
		want []int64
	}{
		{"", []int64{100 << 20}},
		{"1GiB", nil},
		{"off", nil},
	} {
		var got []int64
		setMemoryLimit = func(n int64) { got = append(got, n) }
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // serve stops while opening: the limit is set before
		getenv := func(k string) string {
			if k == "GOMEMLIMIT" {
				return tc.env
			}
			return ""
		}
		var out, errb bytes.Buffer
		if code := run(ctx, []string{"serve", "--ephemeral", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb, getenv); code != 0 {
			t.Fatalf("GOMEMLIMIT=%q: exit %d, stderr %q", tc.env, code, errb.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("GOMEMLIMIT=%q: memory limits set %v, want %v", tc.env, got, tc.want)
		}
	}
}
