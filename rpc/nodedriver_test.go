package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

// installNodeFlow copies testdata/nodedriver into a temporary directory
// and installs its pinned packages there with npm ci: one install per test
// run. An unreachable registry fails the test within npmTimeout.
func installNodeFlow(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the Node driver flow needs node and npm: install them (apt-get install nodejs npm; make test does as root): %v", err)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", ".npmrc", "flow.js"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "nodedriver", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const npmTimeout = 3 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--fetch-timeout=30000", "--fetch-retries=1")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("npm ci in a copy of testdata/nodedriver did not finish within %s: is the npm registry reachable?\n%s", npmTimeout, out)
		}
		t.Fatalf("npm ci in a copy of testdata/nodedriver: %v (the npm registry must be reachable, or the packages in npm's cache)\n%s", err, out)
	}
	return dir
}

// TestNodeDriverFlow runs testdata/nodedriver/flow.js with node: the Node
// driver's wire (3.0.0) over node's own HTTP/2 client and the ws package,
// Avro binary bodies encoded by avsc from the catalogue's schema text. A
// Receiver on a derived stream gets exactly the events its consent level
// keeps, decrypted as the level says.
func TestNodeDriverFlow(t *testing.T) {
	dir := installNodeFlow(t)
	sb := strmtest.New(t)
	src := sb.CreateStream("node")
	derived := sb.CreateDerived("node", 2)
	schema, err := filepath.Abs("../catalog/builtin/strmprivacy/demo/1.0.2/schema.avsc")
	if err != nil {
		t.Fatal(err)
	}
	const events = 8 // consent level i % 4: demo-2 keeps 2, 3, 6 and 7
	kept := []int{2, 3, 6, 7}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "flow.js")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(),
		"STRM_URL="+sb.URL,
		"STRM_CLIENT_ID="+src.Credentials.ClientId, "STRM_CLIENT_SECRET="+src.Credentials.ClientSecret,
		"STRM_DERIVED_CLIENT_ID="+derived.Credentials.ClientId, "STRM_DERIVED_CLIENT_SECRET="+derived.Credentials.ClientSecret,
		"STRM_SCHEMA_FILE="+schema,
		"STRM_EVENTS="+strconv.Itoa(events), "STRM_EXPECT="+strconv.Itoa(len(kept)), "STRM_TIMEOUT_MS=20000",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node flow.js: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	if got, want := stderr.String(), "flow.js: sent "+strconv.Itoa(events)+" events\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}

	// The source holds the 8 events, under the refs the driver sent, PII
	// encrypted.
	recs := src.Read()
	if len(recs) != events {
		t.Fatalf("%d records, want %d", len(recs), events)
	}
	for i, r := range recs {
		f := fields(t, r.Json)
		if r.SchemaRef != "strmprivacy/demo/1.0.2" || r.EventContractRef != "strmprivacy/example/1.3.0" || !isCiphertext(f["uniqueIdentifier"]) ||
			!isCiphertext(f["consistentValue"]) || !isCiphertext(f["someSensitiveValue"]) || f["notSensitiveValue"] != "plain-node-"+strconv.Itoa(i) {
			t.Errorf("source offset %d: %s %s %s", r.Offset, r.SchemaRef, r.EventContractRef, r.Json)
		}
	}

	// The Receiver printed exactly the events demo-2 keeps, as the Connect
	// egress shows them: levels 1 and 2 decrypted, 3 not.
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	view := derived.Read()
	if len(lines) != len(kept) || len(view) != len(kept) {
		t.Fatalf("received %d events, the derived stream has %d, want %d:\n%s", len(lines), len(view), len(kept), out)
	}
	for k, i := range kept {
		s := "node-" + strconv.Itoa(i)
		var got, egress map[string]any
		if err := json.Unmarshal([]byte(lines[k]), &got); err != nil {
			t.Fatalf("line %d: %q: %v", k, lines[k], err)
		}
		if err := json.Unmarshal([]byte(view[k].Json), &egress); err != nil {
			t.Fatalf("derived offset %d: %q: %v", view[k].Offset, view[k].Json, err)
		}
		if !reflect.DeepEqual(got, egress) {
			t.Errorf("event %d received as\n%s\nthe derived stream has\n%s", i, lines[k], view[k].Json)
		}
		meta, _ := got["strmMeta"].(map[string]any)
		if got["uniqueIdentifier"] != "unique-"+s || got["consistentValue"] != s || !isCiphertext(got["someSensitiveValue"]) ||
			got["notSensitiveValue"] != "plain-"+s || meta["eventContractRef"] != "strmprivacy/example/1.3.0" ||
			!reflect.DeepEqual(meta["consentLevels"], []any{float64(i % 4)}) || meta["keyLink"] != recs[i].KeyLink {
			t.Errorf("event %d: %s", i, lines[k])
		}
	}
}
