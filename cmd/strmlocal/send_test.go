package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strmlocal/strmlocal/strmtest"
)

// demoEvent is an event of the built-in demo schema (contract
// streammachine/example/1.3.0: uniqueIdentifier level 1, consistentValue 2,
// someSensitiveValue 3, keyField consistentValue).
func demoEvent(consent, session string) string {
	return fmt.Sprintf(`{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": %s}, "uniqueIdentifier": "user-1", "consistentValue": %q, "someSensitiveValue": "secret-1", "notSensitiveValue": "plain"}`, consent, session)
}

// labels replaces what varies from run to run (nonces, ciphertexts, key
// links) by numbered placeholders (<ct-1>, <key-1------...>), the same value by the same number over
// a whole test, so outputs compare exactly and still show which values are
// equal.
type labels struct {
	seen map[string]string
	n    map[string]int
}

var (
	// Both also match inside a JSON string (Record.json in --records).
	nonceRE      = regexp.MustCompile(`(nonce\\?":)-?[0-9]+`)
	ciphertextRE = regexp.MustCompile(`"(A[A-Za-z0-9+/]{26,}={0,2})(\\?")`) // Tink output: 0x01, key id, SIV, ...
)

func (l *labels) label(kind, v string) string {
	if l.seen == nil {
		l.seen, l.n = map[string]string{}, map[string]int{}
	}
	if s, ok := l.seen[v]; ok {
		return s
	}
	l.n[kind]++
	s := fmt.Sprintf("<%s-%d", kind, l.n[kind])
	if kind == "key" {
		// As wide as a UUID, so that tables stay aligned.
		s += strings.Repeat("-", max(0, len(v)-len(s)-1))
	}
	s += ">"
	l.seen[v] = s
	return s
}

// scrub replaces nonces by <nonce>, ciphertexts and key links (UUIDs) by
// numbered labels.
func (l *labels) scrub(s string) string {
	s = nonceRE.ReplaceAllString(s, `${1}<nonce>`)
	s = ciphertextRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := ciphertextRE.FindStringSubmatch(m)
		return `"` + l.label("ct", sub[1]) + sub[2]
	})
	return uuidRE.ReplaceAllStringFunc(s, func(m string) string { return l.label("key", m) })
}

// runRaw is run without scrubbing.
func (c *cli) runRaw(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb strings.Builder
	code := run(c.t.Context(), args, strings.NewReader(c.stdin), &out, &errb, c.getenv)
	return code, out.String(), strings.ReplaceAll(errb.String(), c.config, "$CONFIG")
}

// expectLabeled is expect with l.scrub instead of scrub.
func (c *cli) expectLabeled(l *labels, args string, wantCode int, wantOut, wantErr string) {
	c.t.Helper()
	code, out, errs := c.runRaw(strings.Fields(args)...)
	out, errs = l.scrub(out), l.scrub(errs)
	if code != wantCode || out != wantOut || errs != wantErr {
		c.t.Fatalf("strmlocal %s\n exit %d, want %d\n stdout:\n%s\n want:\n%s\n stderr:\n%s\n want:\n%s", args, code, wantCode, out, wantOut, errs, wantErr)
	}
}

// mustRun runs a command line that must succeed.
func (c *cli) mustRun(args string) string {
	c.t.Helper()
	code, out, errs := c.runRaw(strings.Fields(args)...)
	if code != 0 {
		c.t.Fatalf("strmlocal %s: exit %d: %s", args, code, errs)
	}
	return out
}

func TestSend(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.stdin = demoEvent("[]", "session-1") + "\n" +
		demoEvent("[0]", "session-1") + "\n\n" +
		demoEvent("[2]", "") + "\n" +
		demoEvent("[3]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 1,
		"line 4: rejected: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n",
		"sent 4 events to demo: 3 accepted (offsets 0-2), 1 rejected\n"+
			"strmlocal: 1 of 4 events rejected\n")

	file := writeFile(t, "events.jsonl", demoEvent("[1]", "session-2")+"\n")
	c.stdin = ""
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 "+file, 0, "", "sent 1 event to demo: 1 accepted (offset 3)\n")

	c.stdin = demoEvent("[1]", "session-2") + "\n" + demoEvent("[1]", "session-3") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 -", 0, "", "sent 2 events to demo: 2 accepted (offsets 4-5)\n")
}

// TestSendBatches sends more events than one batch holds.
func TestSendBatches(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	var b strings.Builder
	for i := range 2*sendBatch + 3 {
		session := fmt.Sprintf("session-%d", i%7)
		if i == sendBatch+1 {
			session = ""
		}
		b.WriteString(demoEvent("[0]", session) + "\n")
	}
	c.stdin = b.String()
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 1,
		fmt.Sprintf("line %d: rejected: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n", sendBatch+2),
		fmt.Sprintf("sent %d events to demo: %d accepted (offsets 0-%d), 1 rejected\n", 2*sendBatch+3, 2*sendBatch+2, 2*sendBatch+1)+
			fmt.Sprintf("strmlocal: 1 of %d events rejected\n", 2*sendBatch+3))
}

func TestSendErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.mustRun("create stream unsaved --save=false")
	c.mustRun("create stream other")
	dir := c.savedDir()
	if err := os.WriteFile(filepath.Join(dir, "nosecret.json"), []byte(`{"name": "nosecret", "credentials": {"clientId": "x"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"name": `), 0o600); err != nil {
		t.Fatal(err)
	}
	// Credentials of another stream, saved under this one's name.
	b, err := os.ReadFile(filepath.Join(dir, "other.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo-copy.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustRun("create stream demo-copy --save=false")
	c.mustRun("create stream --derived-from demo --levels 2")

	event := demoEvent("[0]", "session-1") + "\n"
	for _, tc := range []struct{ args, stdin, stderr string }{
		{"send", event, "strmlocal: accepts between 1 and 2 arg(s), received 0\n"},
		{"send demo", event, "strmlocal: required flag(s) \"schema-ref\" not set\n"},
		{"send demo --schema-ref streammachine/demo/1.0.2 a b", event, "strmlocal: accepts between 1 and 2 arg(s), received 3\n"},
		{"send unsaved --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: no saved credentials for stream unsaved: create it with `strmlocal create stream unsaved`, which saves them in " + serverDir + "/saved-entities/Stream/unsaved.json; if it was created elsewhere (or with --save=false), save its credentials in that file\n"},
		{"send nosecret --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: saved stream nosecret in " + serverDir + "/saved-entities/Stream/nosecret.json has no client id and secret: add them as \"credentials\": {\"clientId\": ..., \"clientSecret\": ...}, or delete and re-create the stream with this CLI\n"},
		// protojson varies its error messages on purpose: the test matches
		// up to them.
		{"send broken --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: saved stream broken in " + serverDir + "/saved-entities/Stream/broken.json is damaged (proto"},
		{"send ../demo --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: invalid stream name \"../demo\": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'\n"},
		{"send demo --schema-ref streammachine/demo/1.0.2 /nonexistent.jsonl", "",
			"strmlocal: cannot read events: open /nonexistent.jsonl: no such file or directory\n"},
		{"send demo --schema-ref streammachine/demo/1.0.2", "\n \n",
			"strmlocal: no events to send: give a file with one JSON event per line, or pipe them in\n"},
		{"send demo --schema-ref acme/none/1.0.0", event,
			"strmlocal: schema acme/none/1.0.0 not found; see what exists with `strmlocal list`\n"},
		{"send demo-2 --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: stream \"demo-2\" is derived from \"demo\" and accepts no events; send to \"demo\"\n"},
		{"send demo-copy --schema-ref streammachine/demo/1.0.2", event,
			"strmlocal: permission denied: these credentials are for stream \"other\", not \"demo-copy\"\n"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			c.stdin = tc.stdin
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if code != 1 || out != "" || !strings.HasPrefix(errs, tc.stderr) || strings.Count(errs, "\n") != 1 ||
				!strings.HasSuffix(tc.stderr, "\n") && !strings.HasSuffix(errs, "): fix or delete the file\n") {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, tc.stderr)
			}
		})
	}
}

// TestStreamCredentialsWithAdminToken: on a server with an admin token,
// send and egress need only the stream's credentials; keys commands, which
// manage the server, need the token.
func TestStreamCredentialsWithAdminToken(t *testing.T) {
	c := newCLIWith(t, strmtest.WithVirtualClock(t0), strmtest.WithAdminToken("tok"))
	c.mustRun("create stream demo --admin-token tok")
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 1 event to demo: 1 accepted (offset 0)\n")
	var l labels
	c.expectLabeled(&l, "egress demo --follow=false", 0,
		meta("[0]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	c.expect("keys list demo", 1, "", "strmlocal: this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN\n")
	c.expectLabeled(&l, "keys list demo --admin-token tok", 0,
		"KEY LINK                              CREATED               ROTATES AT            EXPIRES AT            SHREDDED\n"+
			"<key-1----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  no\n", "")
}

// TestStaleCredentials: saved credentials of a stream that was deleted
// (here with --save=false semantics: the file stays) and re-created.
func TestStaleCredentials(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	dir := c.savedDir()
	stale, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	c.mustRun("delete stream demo")
	c.mustRun("create stream demo --save=false")
	if err := os.WriteFile(filepath.Join(dir, "demo.json"), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "strmlocal: the server refused the saved credentials of stream demo (invalid client credentials): the stream no longer exists there or was re-created; create it again with this CLI, or save its current credentials in " + serverDir + "/saved-entities/Stream/demo.json\n"
	c.stdin = demoEvent("[0]", "session-1") + "\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 1, "", want)
	c.expect("egress demo", 1, "", want)
}

// send and validate take pretty-printed documents and JSON arrays too.
func TestSendShapes(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	pretty := "{\n  \"strmMeta\": {\"eventContractRef\": \"streammachine/example/1.3.0\", \"consentLevels\": [1]},\n  \"uniqueIdentifier\": \"u\",\n  \"consistentValue\": \"s-1\",\n  \"someSensitiveValue\": \"x\",\n  \"notSensitiveValue\": \"y\"\n}\n"
	c.stdin = pretty + pretty
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 0, "", "sent 2 events to demo: 2 accepted (offsets 0-1)\n")
	c.stdin = "[\n  " + demoEvent("[1]", "s-2") + ",\n  " + demoEvent("[1]", "") + "\n]\n"
	c.expect("send demo --schema-ref streammachine/demo/1.0.2", 1,
		"line 3: rejected: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n",
		"sent 2 events to demo: 1 accepted (offset 2), 1 rejected\nstrmlocal: 1 of 2 events rejected\n")
	c.stdin = "[" + demoEvent("[1]", "s-3") + ",\n{"
	c.expect("validate --schema-ref streammachine/demo/1.0.2", 1, "line 1: valid\n",
		"strmlocal: invalid JSON array of events at line 2 (byte 210): the input ends before the array's closing ']'; nothing after it was sent\n")
}
