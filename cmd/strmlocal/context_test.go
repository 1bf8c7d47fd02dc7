package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/strmtest"
)

// serverDir is the folder of the server's saved entities in a scrubbed
// output: its id is a UUID.
const serverDir = "$CONFIG/strmlocal/servers/<client-id---------------------uuid>"

// serverID asks a server its id.
func serverID(t *testing.T, server string) string {
	t.Helper()
	res, err := client.New(server, client.Options{}).Server.GetServerInfo(context.Background(), connect.NewRequest(&v1.GetServerInfoRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.ServerId
}

// savedDir is the folder of c's server's saved streams.
func (c *cli) savedDir() string {
	c.t.Helper()
	return filepath.Join(c.config, "strmlocal", "servers", serverID(c.t, c.server), "saved-entities", "Stream")
}

// TestSavedPerServer: two servers, one config dir. A stream of the same
// name on both keeps both secrets, and each server's commands use its own.
func TestSavedPerServer(t *testing.T) {
	a := newCLI(t)
	b := newCLI(t)
	b.config = a.config
	idA, idB := serverID(t, a.server), serverID(t, b.server)
	if idA == idB {
		t.Fatalf("two in-memory servers with one id %s", idA)
	}
	fileA := filepath.Join(a.config, "strmlocal", "servers", idA, "saved-entities", "Stream", "demo.json")
	fileB := filepath.Join(a.config, "strmlocal", "servers", idB, "saved-entities", "Stream", "demo.json")

	code, _, errs := a.runRaw("create", "stream", "demo")
	if want := "saved credentials to $CONFIG/strmlocal/servers/" + idA + "/saved-entities/Stream/demo.json\n"; code != 0 || errs != want {
		t.Fatalf("create on A: exit %d, stderr %q, want %q", code, errs, want)
	}
	savedA, err := os.ReadFile(fileA)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs = b.runRaw("create", "stream", "demo")
	if want := "saved credentials to $CONFIG/strmlocal/servers/" + idB + "/saved-entities/Stream/demo.json\n"; code != 0 || errs != want {
		t.Fatalf("create on B: exit %d, stderr %q, want %q", code, errs, want)
	}
	// Saving for B never touched A's folder.
	if now, err := os.ReadFile(fileA); err != nil || string(now) != string(savedA) {
		t.Fatalf("A's saved stream changed when B's was saved: %v\n%s", err, now)
	}
	savedB, err := os.ReadFile(fileB)
	if err != nil || string(savedB) == string(savedA) {
		t.Fatalf("B's saved stream: %v\n%s", err, savedB)
	}
	if _, err := os.Stat(filepath.Join(a.config, "strmlocal", "saved-entities")); !os.IsNotExist(err) {
		t.Fatalf("the legacy folder was written: %v", err)
	}
	for _, s := range []struct{ id, url string }{{idA, a.server}, {idB, b.server}} {
		path := filepath.Join(a.config, "strmlocal", "servers", s.id, "server.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec client.ServerRecord
		if err := json.Unmarshal(raw, &rec); err != nil || rec.ServerID != s.id || rec.URL != s.url || time.Since(rec.LastSeen) > time.Minute {
			t.Errorf("%s: %v\n%s", path, err, raw)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", path, fi.Mode(), err)
		}
	}

	// Each server's send and egress work with its own credentials: one
	// event on each, at offset 0.
	for _, c := range []*cli{a, b} {
		c.stdin = demoEvent("[0]", "session-1") + "\n"
		c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 0)\n")
		c.stdin = ""
		var l labels
		c.expectLabeled(&l, "egress demo --follow=false", 0,
			meta("[0]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	}

	// Deleting on B removes B's file only.
	b.expect("delete stream demo", 0, "deleted stream demo\n", "")
	if _, err := os.Stat(fileB); !os.IsNotExist(err) {
		t.Fatalf("B's saved stream survived delete: %v", err)
	}
	if now, err := os.ReadFile(fileA); err != nil || string(now) != string(savedA) {
		t.Fatalf("A's saved stream changed when B's was deleted: %v", err)
	}
	a.stdin = demoEvent("[0]", "session-1") + "\n"
	a.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 1)\n")
}

// TestLegacySavedCredentials: credentials in the STRM CLI's shared folder
// are still read, after the server's own folder, and never written or
// removed.
func TestLegacySavedCredentials(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("create stream demo --save=false -o json")
	var res v1.CreateStreamResponse
	if err := protojson.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(c.config, "strmlocal", "saved-entities", "Stream")
	if _, err := client.SavedIn(filepath.Join(c.config, "strmlocal")).Save("Stream", "demo", res.Stream); err != nil {
		t.Fatal(err)
	}
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 0)\n")
	c.stdin = ""
	var l labels
	c.expectLabeled(&l, "egress demo --follow=false", 0,
		meta("[0]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")

	// Once the server has a folder, the legacy file is still read, and
	// stays where it is.
	c.mustRun("create stream other")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 1)\n")
	if _, err := os.Stat(filepath.Join(c.savedDir(), "demo.json")); !os.IsNotExist(err) {
		t.Fatalf("legacy credentials copied to the server's folder: %v", err)
	}

	// Stale legacy credentials: the message names the file they came from
	// and the file to save new ones in.
	c.mustRun("delete stream demo")
	if _, err := os.Stat(filepath.Join(legacy, "demo.json")); err != nil {
		t.Fatalf("delete removed the legacy file, which may be another server's: %v", err)
	}
	c.mustRun("create stream demo --save=false")
	want := "strmlocal: the server refused the saved credentials of stream demo read from $CONFIG/strmlocal/saved-entities/Stream/demo.json (invalid client credentials): the stream no longer exists there or was re-created; create it again with this CLI, or save its current credentials in " + serverDir + "/saved-entities/Stream/demo.json\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 1, "", want)
	c.expect("egress demo", 1, "", want)

	// The server's own file wins over the legacy one.
	c.mustRun("delete stream demo")
	c.mustRun("create stream demo")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 0)\n")
}

// TestAdminTokenServerFolder: a server with an admin token tells its id
// only with the token. Without it, stream commands read the folder of the
// server last seen at the URL; a stream saved nowhere says what to do.
func TestAdminTokenServerFolder(t *testing.T) {
	c := newCLIWith(t, strmtest.WithClock(func() time.Time { return t0 }), strmtest.WithAdminToken("tok"))
	c.mustRun("create stream demo --admin-token tok")
	c.mustRun("create stream unsaved --save=false --admin-token tok")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 0)\n")
	c.expect("send unsaved --schema-ref streammachine/demo/1.0.2", 1, "",
		"strmlocal: no saved credentials for stream unsaved at "+c.server+": the server tells its id, which names the folder of its saved credentials, only with its admin token (this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN); pass --admin-token or set STRMLOCAL_ADMIN_TOKEN\n")
	c.expect("send unsaved --schema-ref streammachine/demo/1.0.2 --admin-token tok", 1, "",
		"strmlocal: no saved credentials for stream unsaved: create it with `strmlocal create stream unsaved`, which saves them in "+serverDir+"/saved-entities/Stream/unsaved.json; if it was created elsewhere (or with --save=false), save its credentials in that file\n")
}

// contextCLI is a cli without STRMLOCAL_SERVER, so that contexts apply.
func contextCLI(t *testing.T) *cli {
	return &cli{t: t, config: t.TempDir()}
}

func TestContexts(t *testing.T) {
	sbA := strmtest.New(t, strmtest.WithClock(func() time.Time { return t0 }))
	sbB := strmtest.New(t, strmtest.WithClock(func() time.Time { return t0 }))
	c := contextCLI(t)
	def := client.DefaultServer
	c.expect("context list", 0, "CURRENT  NAME     SERVER\n*        default  "+def+"\n", "")
	c.expect("context show", 0, "context default: "+def+"\n", "")
	if _, err := os.Stat(filepath.Join(c.config, "strmlocal", "contexts.json")); !os.IsNotExist(err) {
		t.Fatalf("reading contexts wrote the file: %v", err)
	}

	c.expect("context use a --server "+sbA.URL, 0, "using context a ("+sbA.URL+")\n", "")
	c.expect("context use b --server "+sbB.URL+"/", 0, "using context b ("+sbB.URL+")\n", "")
	path := filepath.Join(c.config, "strmlocal", "contexts.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v, %v", path, fi.Mode(), err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{
  "current": "b",
  "contexts": {
    "a": {
      "server": "`+sbA.URL+`"
    },
    "b": {
      "server": "`+sbB.URL+`"
    }
  }
}
` {
		t.Fatalf("contexts.json:\n%s", b)
	}
	c.expect("context list", 0, "CURRENT  NAME     SERVER\n"+
		"         default  "+def+"\n"+
		"         a        "+sbA.URL+"\n"+
		"*        b        "+sbB.URL+"\n", "")
	c.expect("context use a", 0, "using context a ("+sbA.URL+")\n", "")
	c.expect("context show", 0, "context a: "+sbA.URL+"\n", "")
	c.expect("context list -o json", 0, `{
  "current": "a",
  "contexts": [
    {
      "name": "default",
      "server": "`+def+`"
    },
    {
      "name": "a",
      "server": "`+sbA.URL+`"
    },
    {
      "name": "b",
      "server": "`+sbB.URL+`"
    }
  ]
}
`, "")
	c.expect("context show -o json", 0, `{
  "context": "a",
  "server": "`+sbA.URL+`",
  "from": "context"
}
`, "")

	// Commands go to the current context's server; --server and
	// STRMLOCAL_SERVER override it.
	c.mustRun("create stream onA")
	c.expect("list streams", 0,
		"NAME  EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"onA   0       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n", "")
	c.expect("list streams --server "+sbB.URL, 0, "NAME  EVENTS  CLIENT ID  CREATED  TAGS  DESCRIPTION\n", "")
	c.expect("context show --server "+sbB.URL, 0, "--server "+sbB.URL+" overrides context a ("+sbA.URL+")\n", "")
	env := &cli{t: t, config: c.config, server: sbB.URL}
	env.expect("list streams", 0, "NAME  EVENTS  CLIENT ID  CREATED  TAGS  DESCRIPTION\n", "")
	env.expect("context show", 0, "STRMLOCAL_SERVER "+sbB.URL+" overrides context a ("+sbA.URL+")\n", "")
	env.expect("context use b", 0, "using context b ("+sbB.URL+")\n",
		"note: STRMLOCAL_SERVER ("+sbB.URL+") overrides the context while it is set\n")
	c.expect("context use default", 0, "using context default ("+def+")\n", "")
	c.expect("context show", 0, "context default: "+def+"\n", "")
	c.expect("context use a", 0, "using context a ("+sbA.URL+")\n", "")

	// The saved credentials follow the server, not the context: a second
	// context for the same server finds them.
	c.expect("context use a2 --server "+sbA.URL, 0, "using context a2 ("+sbA.URL+")\n", "")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send onA --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to onA: 1 accepted (offset 0)\n")

	for _, tc := range []struct{ args, stderr string }{
		{"context use nosuch", "strmlocal: no context nosuch: define it with `strmlocal context use nosuch --server URL`; see `strmlocal context list`\n"},
		{"context use default --server " + sbB.URL, "strmlocal: the default context is always " + def + ": give the other server a context of its own, e.g. `strmlocal context use NAME --server " + sbB.URL + "`\n"},
		{"context use a/b --server " + sbB.URL, "strmlocal: invalid context name \"a/b\": use 1 to 63 characters of a-z, A-Z, 0-9, '.', '_' and '-', starting with a letter or digit\n"},
		{"context use x --server 127.0.0.1:1", "strmlocal: invalid --server \"127.0.0.1:1\": give the server's URL, e.g. " + def + "\n"},
		{"context use", "strmlocal: accepts 1 arg(s), received 0\n"},
		{"context list x", "strmlocal: unknown command \"x\" for \"strmlocal context list\"\n"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			c.t = t
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if code != 1 || out != "" || errs != tc.stderr {
				t.Errorf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, tc.stderr)
			}
		})
	}
	c.t = t
	c.expect("context show", 0, "context a2: "+sbA.URL+"\n", "")

	// A damaged file: the context commands refuse it, the others warn and
	// use the default context.
	if err := os.WriteFile(path, []byte(`{"current": `), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := "$CONFIG/strmlocal/contexts.json is damaged (unexpected end of JSON input): fix or delete it"
	c.expect("context list", 1, "", "strmlocal: warning: "+damaged+"; using the default context ("+def+")\nstrmlocal: "+damaged+"\n")
	if err := os.WriteFile(path, []byte(`{"current": "gone"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := "$CONFIG/strmlocal/contexts.json names the current context \"gone\", which it does not define: pick one with `strmlocal context use NAME`"
	c.expect("context show", 1, "", "strmlocal: warning: "+missing+"; using the default context ("+def+")\nstrmlocal: "+missing+"\n")
	c.expect("context use gone --server "+sbB.URL, 0, "using context gone ("+sbB.URL+")\n",
		"strmlocal: warning: "+missing+"; using the default context ("+def+")\n")
	c.expect("context show", 0, "context gone: "+sbB.URL+"\n", "")
}

// TestGoneServer: a context whose server is gone, and a --server that
// STRMLOCAL_SERVER that names none: commands that need the saved credentials say so clearly.
func TestGoneServer(t *testing.T) {
	c := contextCLI(t)
	var gone string
	t.Run("server", func(t *testing.T) {
		sb := strmtest.New(t, strmtest.WithClock(func() time.Time { return t0 }))
		gone = sb.URL
		c.t = t
		c.mustRun("context use old --server " + gone)
		c.mustRun("create stream demo")
	}) // The server stops with its subtest.
	c.t = t
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	for _, args := range []string{"send demo --schema-ref streammachine/demo/1.0.2", "egress demo"} {
		code, out, errs := c.run(strings.Fields(args)...)
		prefix := "strmlocal: cannot reach the strmlocal server of context old at " + gone + " ("
		suffix := "); start it, switch to another context with `strmlocal context use NAME` (see `strmlocal context list`), or override it with --server / STRMLOCAL_SERVER\n"
		if code != 1 || out != "" || !strings.HasPrefix(errs, prefix) || !strings.HasSuffix(errs, suffix) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q\nstderr %q\nwant   %q...%q", args, code, out, errs, prefix, suffix)
		}
		// Without a context, the server's URL from STRMLOCAL_SERVER.
		plain := &cli{t: t, server: gone, config: t.TempDir(), stdin: c.stdin}
		code, out, errs = plain.run(strings.Fields(args)...)
		prefix = "strmlocal: cannot reach a strmlocal server at " + gone + " ("
		suffix = "); start one with `strmlocal serve`, or point --server / STRMLOCAL_SERVER at it\n"
		if code != 1 || out != "" || !strings.HasPrefix(errs, prefix) || !strings.HasSuffix(errs, suffix) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s without a context: exit %d, stdout %q\nstderr %q\nwant   %q...%q", args, code, out, errs, prefix, suffix)
		}
	}
}

// TestOneServerInfoCall: the server id costs one GetServerInfo call per
// command line, made only by the commands that save or read credentials.
func TestOneServerInfoCall(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithClock(func() time.Time { return t0 }))
	target, _ := url.Parse(sb.URL)
	var mu sync.Mutex
	calls := 0
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strmlocalv1connect.ServerServiceGetServerInfoProcedure {
			mu.Lock()
			calls++
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c := &cli{t: t, server: front.URL, config: t.TempDir()}
	c.stdin = demoEvent("[0]", "session-1") + "\n" + demoEvent("[0]", "session-2") + "\n"
	for _, tc := range []struct {
		args string
		want int
	}{
		{"create stream demo", 1},
		{"create stream quiet --save=false", 0},
		{"list streams", 0},
		{"send demo --schema-ref streammachine/demo/1.0.2", 1},
		{"egress demo --follow=false", 1},
		{"delete stream quiet", 1},
		{"context show", 0},
	} {
		mu.Lock()
		calls = 0
		mu.Unlock()
		c.mustRun(tc.args)
		mu.Lock()
		if calls != tc.want {
			t.Errorf("%s: %d GetServerInfo calls, want %d", tc.args, calls, tc.want)
		}
		mu.Unlock()
	}
}
