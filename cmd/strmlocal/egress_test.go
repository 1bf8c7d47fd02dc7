package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/rpc"
)

// sendDemo creates stream demo and its derived stream demo-2 (CUMULATIVE
// level 2) and sends four events of one session, with consent [], [0], [2]
// and [3]: the worked example of docs/pipeline.md.
func sendDemo(c *cli) {
	c.t.Helper()
	c.mustRun("create stream demo")
	c.mustRun("create stream --derived-from demo --levels 2")
	c.stdin = demoEvent("[]", "session-1") + "\n" +
		demoEvent("[0]", "session-1") + "\n" +
		demoEvent("[2]", "session-1") + "\n" +
		demoEvent("[3]", "session-1") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	c.stdin = ""
}

// meta is the strmMeta of the demo events sent at t0 with key link 1.
func meta(consent string) string {
	return `{"strmMeta":{"eventContractRef":"streammachine/example/1.3.0","nonce":<nonce>,"timestamp":1795348800000,"keyLink":"<key-1----------------------------->","billingId":null,"consentLevels":` + consent + `}`
}

func TestEgress(t *testing.T) {
	c := newCLI(t)
	sendDemo(c)
	var l labels
	// The source stream: every event, all PII encrypted, equal values equal
	// (one session, one key link).
	c.expectLabeled(&l, "egress demo --follow=false", 0,
		meta("[]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[0]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[2]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[3]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	// The derived stream: consent [2] and [3] only, levels 1 and 2
	// decrypted, level 3 still encrypted.
	c.expectLabeled(&l, "egress demo-2 --follow=false", 0,
		meta("[2]")+`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[3]")+`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	c.expectLabeled(&l, "egress demo-2 --follow=false --from-offset 3 --records", 0,
		`{"offset":"3","time":"2026-11-22T12:00:00Z","schemaRef":"streammachine/demo/1.0.2","eventContractRef":"streammachine/example/1.3.0","keyLink":"<key-1----------------------------->","consentLevels":[3],`+
			`"json":"{\"strmMeta\":{\"eventContractRef\":\"streammachine/example/1.3.0\",\"nonce\":<nonce>,\"timestamp\":1795348800000,\"keyLink\":\"<key-1----------------------------->\",\"billingId\":null,\"consentLevels\":[3]},\"uniqueIdentifier\":\"user-1\",\"consistentValue\":\"session-1\",\"someSensitiveValue\":\"<ct-3>\",\"notSensitiveValue\":\"plain\"}",`+
			`"decrypted":["consistentValue","uniqueIdentifier"],"masked":[],"encrypted":["someSensitiveValue"],"shredded":false}`+"\n", "")
	// Masked: the decrypted value's hash with the stream's seed.
	c.mustRun("create stream masked --derived-from demo --levels 2 --masked-fields streammachine/example/1.3.0:uniqueIdentifier --mask-seed s")
	c.expectLabeled(&l, "egress masked --follow=false --from-offset 3", 0,
		meta("[3]")+`,"uniqueIdentifier":"455ed1617bcf405db20d1598bc220d91","consistentValue":"session-1","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	c.expectLabeled(&l, "egress demo --follow=false --from-offset 3", 0,
		meta("[3]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	all := l.scrub(c.mustRun("egress demo --follow=false --from-offset 0 --records"))
	if strings.Count(all, "\n") != 4 {
		t.Fatalf("records:\n%s", all)
	}
	c.expectLabeled(&l, "egress demo --follow=false --from-time 2026-11-22T12:00:00Z --records", 0, all, "")
	c.expectLabeled(&l, "egress demo --follow=false --from-time 2026-11-22T12:00:00.001Z", 0, "", "")
	c.expectLabeled(&l, "egress demo --follow=false --from-end", 0, "", "")
	c.expectLabeled(&l, "egress demo --follow=false --from-beginning --from-offset 0 --from-time 2026-11-22T12:00:00Z", 1, "",
		"strmlocal: --from-beginning, --from-offset and --from-time exclude each other: give one start position\n")
}

func TestEgressErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.mustRun("create stream unsaved --save=false")
	for _, tc := range []struct{ args, stderr string }{
		{"egress", "accepts 1 arg(s), received 0"},
		{"egress demo --from-beginning --from-end", "--from-beginning and --from-end exclude each other: give one start position"},
		{"egress demo --from-offset 1 --from-time 2026-11-22T12:00:00Z --from-end", "--from-offset, --from-time and --from-end exclude each other: give one start position"},
		{"egress demo --from-time yesterday", `invalid --from-time "yesterday": use RFC 3339, e.g. 2026-11-22T12:00:00Z`},
		{"egress demo --from-offset -1", `invalid argument "-1" for "--from-offset" flag: strconv.ParseUint: parsing "-1": invalid syntax`},
		{"egress unsaved", "no saved credentials for stream unsaved: create it with `strmlocal create stream unsaved`, which saves them in " + serverDir + "/saved-entities/Stream/unsaved.json; if it was created elsewhere (or with --save=false), save its credentials in that file"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if want := "strmlocal: " + tc.stderr + "\n"; code != 1 || out != "" || errs != want {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, want)
			}
		})
	}
}

// TestEgressFollow follows a stream while events arrive, then ends it as
// Ctrl-C would: by canceling its context. That is a clean end, exit 0.
func TestEgressFollow(t *testing.T) {
	c := newCLI(t)
	sendDemo(c)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"egress", "demo-2"}, strings.NewReader(""), pw, &errb, c.getenv)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var l labels
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("egress ended early: %v; stderr %s", lines.Err(), errb.String())
		}
		return l.scrub(lines.Text())
	}
	// What exists: the two events with consent >= 2.
	for _, consent := range []string{"[2]", "[3]"} {
		if got := next(); !strings.HasPrefix(got, meta(consent)) {
			t.Fatalf("got %s", got)
		}
	}
	// New events: only the one the consent rules keep arrives.
	c.stdin = demoEvent("[1]", "session-1") + "\n" + demoEvent("[0,1,2]", "session-1") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	if got, want := next(), meta("[0,1,2]")+`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-1>","notSensitiveValue":"plain"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	cancel()
	if lines.Scan() {
		t.Fatalf("after cancel: %q", lines.Text())
	}
	if code := <-done; code != 0 || errb.String() != "" {
		t.Fatalf("egress ended with exit %d, stderr %q", code, errb.String())
	}
}

// restartable is a server on a data dir that can be stopped and started
// again on the same address.
type restartable struct {
	t    *testing.T
	dir  string
	addr string
	srv  *rpc.Server
}

func (r *restartable) start() {
	r.t.Helper()
	srv, err := rpc.New(rpc.Options{DataDir: r.dir, Clock: clock.Func(func() time.Time { return t0 })})
	if err != nil {
		r.t.Fatal(err)
	}
	lis, err := net.Listen("tcp", r.addr)
	if err == nil {
		err = srv.Start(lis)
	}
	if err != nil {
		_ = srv.Close()
		r.t.Fatal(err)
	}
	r.srv, r.addr = srv, lis.Addr().String()
}

func (r *restartable) stop() {
	r.t.Helper()
	if err := r.srv.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// waitForText waits until s holds want.
func waitForText(t *testing.T, s *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %q; have %q", want, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEgressReconnects stops and restarts the server (same address, same
// data dir) twice under a following egress: it reconnects each time, says
// so once per outage, and prints every event exactly once.
func TestEgressReconnects(t *testing.T) {
	r := &restartable{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	r.start()
	defer func() { _ = r.srv.Close() }()
	c := &cli{t: t, server: r.srv.URL(), config: t.TempDir()}
	c.mustRun("create stream demo")
	send := func(consents ...string) {
		t.Helper()
		c.stdin = ""
		for _, consent := range consents {
			c.stdin += demoEvent(consent, "session-1") + "\n"
		}
		c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	}
	send("[0]", "[1]")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"egress", "demo", "--records"}, strings.NewReader(""), pw, &errb, c.getenv)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var got []string
	read := func(n int) {
		t.Helper()
		for range n {
			if !lines.Scan() {
				t.Fatalf("egress ended early: %v; stderr %q", lines.Err(), errb.String())
			}
			var rec struct{ Offset string }
			if err := json.Unmarshal(lines.Bytes(), &rec); err != nil {
				t.Fatalf("%v: %s", err, lines.Text())
			}
			got = append(got, rec.Offset)
		}
	}
	read(2)
	const closed = "strmlocal: server closed the stream; reconnecting…\n"
	r.stop()
	waitForText(t, &errb, closed)
	r.start()
	send("[2]", "[3]")
	read(2)
	waitForText(t, &errb, "strmlocal: reconnected at offset 2\n")

	r.stop()
	waitForText(t, &errb, closed+"strmlocal: reconnected at offset 2\n"+closed)
	// Down long enough for a few tries, which say nothing more.
	time.Sleep(400 * time.Millisecond)
	r.start()
	waitForText(t, &errb, "strmlocal: reconnected at offset 4\n")
	send("[0,1]")
	read(1)

	cancel()
	if lines.Scan() {
		t.Fatalf("after cancel: %q", lines.Text())
	}
	if code := <-done; code != 0 {
		t.Fatalf("egress ended with exit %d", code)
	}
	if want := "0 1 2 3 4"; strings.Join(got, " ") != want {
		t.Fatalf("offsets printed: %v, want %s", got, want)
	}
	if want := closed + "strmlocal: reconnected at offset 2\n" + closed + "strmlocal: reconnected at offset 4\n"; errb.String() != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errb.String(), want)
	}
}

// TestEgressNoReconnect: with --reconnect=false a following egress whose
// server stops ends with exit 1 and says why; --from-end starts at the end
// all the same.
func TestEgressNoReconnect(t *testing.T) {
	r := &restartable{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	r.start()
	defer func() { _ = r.srv.Close() }()
	c := &cli{t: t, server: r.srv.URL(), config: t.TempDir()}
	c.mustRun("create stream demo")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")

	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(t.Context(), []string{"egress", "demo", "--reconnect=false", "--from-end", "--records"}, strings.NewReader(""), &out, &errb, c.getenv)
	}()
	// The next event, and only it.
	time.Sleep(200 * time.Millisecond)
	c.mustRun("send demo --schema-ref streammachine/demo/1.0.2")
	waitForText(t, &out, "\n")
	r.stop()
	if code := <-done; code != 1 || errb.String() != "strmlocal: server closed the stream\n" {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), `{"offset":"1",`) || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout %q", out.String())
	}
}

// TestEgressNoServer: a follow with no server to begin with is an error at
// once, not a reconnection.
func TestEgressNoServer(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.server = "http://127.0.0.1:1"
	code, _, errs := c.run("egress", "demo")
	if code != 1 || !strings.HasPrefix(errs, "strmlocal: cannot reach a strmlocal server at http://127.0.0.1:1 (") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
