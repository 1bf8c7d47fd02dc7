package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// serveInit runs serve --init on a data dir until its third line (what the
// file did), checks /ready and returns that line and the files of saved
// credentials, then stops it.
func serveInit(t *testing.T, dataDir, config, file string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	getenv := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return config
		}
		return ""
	}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--init", file}, strings.NewReader(""), pw, &errb, getenv)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var got []string
	for len(got) < 3 && lines.Scan() {
		got = append(got, lines.Text())
	}
	if len(got) < 3 {
		t.Fatalf("serve --init printed %q; stderr %s", got, errb.String())
	}
	m := regexp.MustCompile(`^strmlocal devel serving on (http://127\.0\.0\.1:\d+), data in `).FindStringSubmatch(got[0])
	if m == nil {
		t.Fatalf("first line %q", got[0])
	}
	res, err := http.Get(m[1] + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()
	saved, _ := filepath.Glob(filepath.Join(config, "strmlocal", "servers", "*", "saved-entities", "Stream", "*.json"))
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, errb.String())
	}
	return got[2], saved
}

func TestServeInit(t *testing.T) {
	dataDir, config := t.TempDir(), t.TempDir()
	line, saved := serveInit(t, dataDir, config, exampleSandbox)
	if line != "applied "+exampleSandbox+": 7 created" {
		t.Fatalf("third line %q", line)
	}
	if len(saved) != 2 || filepath.Base(saved[0]) != "orders-shipping.json" || filepath.Base(saved[1]) != "orders.json" {
		t.Fatalf("saved %q", saved)
	}
	if b, err := os.ReadFile(saved[1]); err != nil || !strings.Contains(string(b), pinnedSecret) {
		t.Fatalf("saved orders.json: %v\n%s", err, b)
	}
	if line, _ := serveInit(t, dataDir, config, exampleSandbox); line != "applied "+exampleSandbox+": nothing to change" {
		t.Fatalf("second start: %q", line)
	}

	// A conflict: serve refuses to start, naming it.
	example, err := os.ReadFile(exampleSandbox)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "schemas"), os.DirFS("../../examples/schemas")); err != nil {
		t.Fatal(err)
	}
	changed := write(t, dir, "sandbox.yaml", strings.Replace(string(example), "levels: [2]", "levels: [3]", 1))
	r := runServe(t, context.Background(), "--data-dir", dataDir, "--init", changed)
	want := "strmlocal: " + changed + ": 1 conflict, nothing was applied: stream orders-shipping: levels: differs from the existing stream's; a stream's settings are fixed when it is created: delete it (strmlocal delete stream NAME) and apply again\n"
	if r.code != 1 || r.out != "" || r.errOut != want {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant   %q", r.code, r.out, r.errOut, want)
	}
}

// TestStrmtestWithConfig: a sandbox with a sandbox file applied holds what
// it declares, and its pinned credentials work.
func TestStrmtestWithConfig(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithConfig(exampleSandbox))
	plan := sb.Server.SandboxPlan()
	if plan == nil || len(plan.Items) != 7 || !plan.Applied || len(plan.CreatedStreams) != 2 || plan.CreatedStreams[0].GetCredentials().GetClientId() != pinnedClientID {
		t.Fatalf("plan %v", plan)
	}
	c := &cli{t: t, server: sb.URL, config: t.TempDir()}
	c.expect("apply -f "+exampleSandbox, 0, exampleUnchanged, "")
}
