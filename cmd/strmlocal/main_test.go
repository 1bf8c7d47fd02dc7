package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// cli runs strmlocal command lines against one server, with its own config
// dir.
type cli struct {
	t      *testing.T
	server string
	config string
	stdin  string            // what the next run reads from stdin
	env    map[string]string // more environment variables
}

func newCLI(t *testing.T) *cli {
	sb := strmtest.New(t, strmtest.WithClock(func() time.Time { return t0 }))
	return &cli{t: t, server: sb.URL, config: t.TempDir()}
}

func (c *cli) getenv(k string) string {
	switch k {
	case "STRMLOCAL_SERVER":
		return c.server
	case "XDG_CONFIG_HOME":
		return c.config
	}
	return c.env[k]
}

// run returns exit code, stdout and stderr, with client ids and secrets
// replaced by placeholders so outputs can be compared exactly.
func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(c.stdin), &out, &errb, c.getenv)
	return code, scrub(out.String()), scrub(strings.ReplaceAll(errb.String(), c.config, "$CONFIG"))
}

var (
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	secretRE = regexp.MustCompile(`\b[A-Z2-7]{52}\b`)
)

func scrub(s string) string {
	s = uuidRE.ReplaceAllString(s, "<client-id---------------------uuid>")
	return secretRE.ReplaceAllString(s, "<secret--------------------------------------base32>")
}

func (c *cli) expect(args string, wantCode int, wantOut, wantErr string) {
	c.t.Helper()
	code, out, errs := c.run(strings.Fields(args)...)
	if code != wantCode || out != wantOut || errs != wantErr {
		c.t.Fatalf("strmlocal %s\n exit %d, want %d\n stdout:\n%s\n want:\n%s\n stderr:\n%s\n want:\n%s", args, code, wantCode, out, wantOut, errs, wantErr)
	}
}

func TestStreamCommands(t *testing.T) {
	c := newCLI(t)
	c.expect("create stream demo --description first --tags a,b", 0,
		"NAME  CLIENT ID                             CLIENT SECRET                                         CREATED               TAGS  DESCRIPTION\n"+
			"demo  <client-id---------------------uuid>  <secret--------------------------------------base32>  2026-11-22T12:00:00Z  a,b   first\n",
		"saved credentials to "+serverDir+"/saved-entities/Stream/demo.json\n")

	saved := filepath.Join(c.savedDir(), "demo.json")
	fi, err := os.Stat(saved)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, mode %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(saved)
	if got := scrub(string(b)); got != `{
  "name": "demo",
  "description": "first",
  "tags": [
    "a",
    "b"
  ],
  "credentials": {
    "clientId": "<client-id---------------------uuid>",
    "clientSecret": "<secret--------------------------------------base32>"
  },
  "createTime": "2026-11-22T12:00:00Z",
  "uuid": "<client-id---------------------uuid>"
}
` {
		t.Fatalf("saved file:\n%s", got)
	}

	c.expect("create stream quiet --save=false", 0,
		"NAME   CLIENT ID                             CLIENT SECRET                                         CREATED               TAGS  DESCRIPTION\n"+
			"quiet  <client-id---------------------uuid>  <secret--------------------------------------base32>  2026-11-22T12:00:00Z        \n", "")
	if _, err := os.Stat(filepath.Join(filepath.Dir(saved), "quiet.json")); !os.IsNotExist(err) {
		t.Fatalf("--save=false saved a file: %v", err)
	}
	c.expect("list streams", 0,
		"NAME   EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"demo   0       <client-id---------------------uuid>  2026-11-22T12:00:00Z  a,b   first\n"+
			"quiet  0       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n", "")
	c.expect("get stream demo -o json", 0, `{
  "stream": {
    "name": "demo",
    "description": "first",
    "tags": [
      "a",
      "b"
    ],
    "credentials": {
      "clientId": "<client-id---------------------uuid>"
    },
    "createTime": "2026-11-22T12:00:00Z",
    "uuid": "<client-id---------------------uuid>",
    "events": "0"
  }
}
`, "")
	c.expect("delete stream demo", 0, "deleted stream demo\n", "")
	if _, err := os.Stat(saved); !os.IsNotExist(err) {
		t.Fatalf("saved file survived delete: %v", err)
	}
	c.expect("list streams -o json", 0, `{
  "streams": [
    {
      "name": "quiet",
      "credentials": {
        "clientId": "<client-id---------------------uuid>"
      },
      "createTime": "2026-11-22T12:00:00Z",
      "uuid": "<client-id---------------------uuid>",
      "events": "0"
    }
  ]
}
`, "")
}

func TestCommandErrors(t *testing.T) {
	c := newCLI(t)
	if code, _, errs := c.run("create", "stream", "demo", "--save=false"); code != 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct{ args, stderr string }{
		{"create stream demo", `strmlocal: stream "demo" already exists; pick another name, or delete it first`},
		{"create stream a/b", `strmlocal: invalid stream name "a/b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"get stream nope", `strmlocal: stream "nope" not found (streams: demo)`},
		{"delete stream nope", `strmlocal: stream "nope" not found (streams: demo)`},
		{"get stream dem", `strmlocal: stream "dem" not found; did you mean demo?`},
		{"list streams -o yaml", `strmlocal: invalid --output "yaml": use table or json`},
		{"get stream", `strmlocal: accepts 1 arg(s), received 0`},
		{"serve --ephemeral --data-dir x", `strmlocal: --data-dir and --ephemeral exclude each other: keep one`},
		{"serve --ephemeral --addr 0.0.0.0:0", `strmlocal: rpc: a non-loopback address needs an admin token: [::]:`},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if code != 1 || out != "" || !strings.HasPrefix(errs, tc.stderr) || strings.Count(errs, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", code, out, errs, tc.stderr)
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	c := &cli{t: t, server: "http://127.0.0.1:1", config: t.TempDir()}
	code, _, errs := c.run("list", "streams")
	want := "strmlocal: cannot reach a strmlocal server at http://127.0.0.1:1 ("
	if code != 1 || !strings.HasPrefix(errs, want) || !strings.HasSuffix(errs, "); start one with `strmlocal serve`, or point --server / STRMLOCAL_SERVER at it\n") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	c := &cli{t: t}
	code, out, _ := c.run("version")
	if code != 0 || !regexp.MustCompile(`^strmlocal devel \(go1\.[0-9.]+, data format 1\)\n$`).MatchString(out) {
		t.Fatalf("version: %d %q", code, out)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, strings.NewReader(""), pw, &errb, func(string) string { return "" })
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing; stderr %s", errb.String())
	}
	m := regexp.MustCompile(`^strmlocal devel serving on (http://127\.0\.0\.1:\d+), data in (.*)$`).FindStringSubmatch(lines.Text())
	if m == nil || m[2] != dir {
		t.Fatalf("first line %q", lines.Text())
	}
	if !lines.Scan() || lines.Text() != "6 schemas and 6 event contracts registered; see `strmlocal list schemas` and `strmlocal list event-contracts`" {
		t.Fatalf("second line %q", lines.Text())
	}
	res, err := http.Get(m[1] + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()

	// A second server on the same data dir is refused with what to do.
	var out2, err2 bytes.Buffer
	code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, strings.NewReader(""), &out2, &err2, func(string) string { return "" })
	want := "strmlocal: store: data dir is in use: " + dir + " is locked by another running strmlocal server; stop it, or pass a different --data-dir (or --ephemeral)\n"
	if code != 1 || err2.String() != want {
		t.Fatalf("second serve: exit %d, stderr %q", code, err2.String())
	}

	cancel()
	if !lines.Scan() || lines.Text() != "strmlocal stopping" {
		t.Fatalf("after cancel: %q", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, errb.String())
	}
}
