package rpc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/internal/s3test"
	"github.com/strmlocal/strmlocal/strmtest"
)

// probeRE matches the uuid of a probe object's name.
var probeRE = regexp.MustCompile(`\.strmlocal-probe-[0-9a-f-]{36}`)

func asConnect(err error, ce **connect.Error) bool { return errors.As(err, ce) }

func config(t testing.TB, v map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func s3Config(s *s3test.Server, bucket, secret string) map[string]any {
	return map[string]any{"endpoint": s.Endpoint, "bucket": bucket, "pathStyle": true, "accessKeyId": s.AccessKey, "secretAccessKey": secret}
}

func createConnector(t testing.TB, sb *strmtest.Sandbox, name, kind string, cfg map[string]any) *v1.DataConnector {
	t.Helper()
	res, err := sb.Client.Connectors.CreateDataConnector(context.Background(), connect.NewRequest(&v1.CreateDataConnectorRequest{
		DataConnector: &v1.DataConnector{Name: name, Kind: kind, Config: config(t, cfg)}}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.DataConnector
}

func createJob(t testing.TB, sb *strmtest.Sandbox, j *v1.Job) *v1.Job {
	t.Helper()
	res, err := sb.Client.Jobs.CreateJob(context.Background(), connect.NewRequest(&v1.CreateJobRequest{Job: j}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Job
}

func getJob(t testing.TB, sb *strmtest.Sandbox, name string) *v1.Job {
	t.Helper()
	res, err := sb.Client.Jobs.GetJob(context.Background(), connect.NewRequest(&v1.GetJobRequest{Name: name}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Job
}

func advance(t testing.TB, sb *strmtest.Sandbox, d time.Duration) *v1.AdvanceClockResponse {
	t.Helper()
	res, err := sb.ClockService.AdvanceClock(context.Background(), connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(d)}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg
}

// objectLines reads the named objects (in order) and returns their lines.
func objectLines(t *testing.T, s *s3test.Server, bucket string, names []string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		out = append(out, strings.Split(strings.TrimSuffix(string(s.Get(t, bucket, n)), "\n"), "\n")...)
	}
	return out
}

// The blog's sequel through the API: a batch exporter of a derived stream
// and a key exporter of its source write to a real S3 server; the objects,
// read back with an independent client, hold exactly what egress shows,
// and the exported keysets decrypt the source's ciphertext with plain Tink.
func TestExportToS3(t *testing.T) {
	s3 := s3test.Start(t)
	s3.MakeBucket(t, "exports")
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	conn := createConnector(t, sb, "s3", "s3", s3Config(s3, "exports", s3.SecretKey))
	if got := conn.Config.Fields["secretAccessKey"].GetStringValue(); got != "***" {
		t.Errorf("secret returned as %q", got)
	}
	createJob(t, sb, &v1.Job{Kind: "batch-exporter", Stream: "demo", Config: config(t, map[string]any{"pathPrefix": "enc"})})
	createJob(t, sb, &v1.Job{Kind: "batch-exporter", Stream: derived.Name, Config: config(t, map[string]any{"pathPrefix": "plain"})})
	createJob(t, sb, &v1.Job{Kind: "key-exporter", Stream: "demo", Config: config(t, map[string]any{"pathPrefix": "keys"})})
	advance(t, sb, time.Second) // key links of the job's creation instant count as after it
	var events []string
	for i := range 20 {
		events = append(events, demo(fmt.Sprint("s", i%7), 0, 1, 2))
	}
	mustAccept(t, src.Send(demoSchema, events...))
	if adv := advance(t, sb, 2*time.Minute); adv.JobsRun != 3 {
		t.Fatalf("jobs run %d, want 3", adv.JobsRun)
	}

	at := t0.Add(121 * time.Second).UTC().Format("2006-01-02T15:04:05")
	srcUUID, derivedUUID := src.Uuid, derived.Uuid
	for prefix, want := range map[string][]string{
		"enc/":   {"enc/" + at + "-stream-" + srcUUID + "---0.jsonl"},
		"plain/": {"plain/" + at + "-stream-" + derivedUUID + "---0.jsonl"},
		"keys/":  {"keys/" + at + "-keys-" + srcUUID + "---0.csv"},
	} {
		if got := s3.List(t, "exports", prefix); !slices.Equal(got, want) {
			t.Errorf("objects under %s: %v, want %v", prefix, got, want)
		}
	}
	if got, want := objectLines(t, s3, "exports", s3.List(t, "exports", "enc/")), src.JSON(); !slices.Equal(got, want) {
		t.Errorf("source export\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := objectLines(t, s3, "exports", s3.List(t, "exports", "plain/")), derived.JSON(); !slices.Equal(got, want) {
		t.Errorf("derived export\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, ct := s3.Stat(t, "exports", "enc/"+at+"-stream-"+srcUUID+"---0.jsonl"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}

	// Decrypt the exported ciphertext with the exported keys.
	rows, err := csv.NewReader(bytes.NewReader(s3.Get(t, "exports", "keys/"+at+"-keys-"+srcUUID+"---0.csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	keysets := map[string]string{}
	for _, r := range rows {
		keysets[r[0]] = r[1]
	}
	if len(keysets) != 7 {
		t.Fatalf("%d keys exported, want 7 (one per session)", len(keysets))
	}
	for i, line := range objectLines(t, s3, "exports", s3.List(t, "exports", "enc/")) {
		f := fields(t, line)
		link := f["strmMeta"].(map[string]any)["keyLink"].(string)
		h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(keysets[link])))
		if err != nil {
			t.Fatalf("line %d: key link %s: %v", i, link, err)
		}
		d, err := daead.New(h)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(f["uniqueIdentifier"].(string))
		pt, err := d.DecryptDeterministically(ct, []byte("uniqueIdentifier"))
		if want := fmt.Sprintf("unique-s%d", i%7); err != nil || string(pt) != want {
			t.Errorf("line %d: decrypted %q (%v), want %q", i, pt, err, want)
		}
	}
	st := getJob(t, sb, "s3-demo").Status
	if st.State != v1.JobState_JOB_STATE_RUNNING || st.Cursor != 20 || st.Lag != 0 || st.EventsExported != 20 || st.ObjectsWritten != 1 || st.LastError != "" {
		t.Errorf("status %v", st)
	}
}

// The S3 server stopped mid-run: the job reports the error and retries;
// once the server is back every event is exported exactly once.
func TestExportSurvivesS3Outage(t *testing.T) {
	s3 := s3test.Start(t)
	s3.MakeBucket(t, "exports")
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0), strmtest.WithJobRetries(time.Second, 4*time.Second, 100))
	src := sb.CreateStream("demo")
	createConnector(t, sb, "s3", "s3", s3Config(s3, "exports", s3.SecretKey))
	createJob(t, sb, &v1.Job{Kind: "batch-exporter", Stream: "demo", Config: config(t, map[string]any{"maxEventsPerFile": 3})})
	send := func(n int) {
		var events []string
		for i := range n {
			events = append(events, demo(fmt.Sprint("s", i), 0))
		}
		mustAccept(t, src.Send(demoSchema, events...))
	}
	send(4)
	advance(t, sb, time.Minute)
	s3.Stop(t)
	send(5)
	advance(t, sb, time.Minute)
	st := getJob(t, sb, "s3-demo").Status
	wantErr := fmt.Sprintf(`bucket "exports" at %s: put `, s3.Endpoint)
	if st.Retries != 1 || !strings.HasPrefix(st.LastError, wantErr) || !strings.Contains(st.LastError, "connection refused") || st.Lag != 5 || st.State != v1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("during the outage: %v", st)
	}
	advance(t, sb, time.Second) // retry 2: still down
	if st := getJob(t, sb, "s3-demo").Status; st.Retries != 2 {
		t.Fatalf("second retry: %v", st)
	}
	s3.Restart(t)
	advance(t, sb, 2*time.Second)
	st = getJob(t, sb, "s3-demo").Status
	if st.Retries != 0 || st.Lag != 0 || st.EventsExported != 9 || st.ObjectsWritten != 4 {
		t.Fatalf("after the outage: %v", st)
	}
	names := s3.List(t, "exports", "")
	if len(names) != 4 {
		t.Errorf("objects %v, want 4 (2 runs: 3+1, 3+2)", names)
	}
	if got, want := objectLines(t, s3, "exports", names), src.JSON(); !slices.Equal(got, want) {
		t.Errorf("exported\n%s\nwant every event once\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Bad connectors and jobs are refused with the field and the rule, and
// nothing is saved; TestDataConnector says exactly what failed.
func TestConnectorRefusals(t *testing.T) {
	ctx := context.Background()
	s3 := s3test.Start(t)
	s3.MakeBucket(t, "exports")
	sb := strmtest.New(t)
	sb.CreateStream("demo")
	cs := sb.Client.Connectors
	create := func(name, kind string, cfg map[string]any) error {
		_, err := cs.CreateDataConnector(ctx, connect.NewRequest(&v1.CreateDataConnectorRequest{DataConnector: &v1.DataConnector{Name: name, Kind: kind, Config: config(t, cfg)}}))
		return err
	}
	assertError(t, create("x", "gcs", nil), connect.CodeInvalidArgument, `kind: unknown data connector kind "gcs" (kinds: http, kafka, local, s3)`)
	assertError(t, create("x", "s3", map[string]any{"endpoint": "ftp://h", "bucket": "B", "region": 3}), connect.CodeInvalidArgument,
		`config.bucket: 'B' does not match pattern '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'; config.endpoint: 'ftp://h' does not match pattern '^https?://[^/?#@\\s]+/?$'; config.region: got number, want string; config: missing properties 'accessKeyId', 'secretAccessKey'`)
	assertError(t, create("x", "local", map[string]any{"path": "rel/dir"}), connect.CodeInvalidArgument, `config.path: want an absolute directory, got "rel/dir"`)
	assertError(t, create("a b", "local", map[string]any{"path": "/tmp"}), connect.CodeInvalidArgument, `name: invalid data connector name "a b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`)
	if list, err := cs.ListDataConnectors(ctx, connect.NewRequest(&v1.ListDataConnectorsRequest{})); err != nil || len(list.Msg.DataConnectors) != 0 {
		t.Fatalf("refused connectors saved: %v %v", list, err)
	}

	test := func(kind string, cfg map[string]any) error {
		_, err := cs.TestDataConnector(ctx, connect.NewRequest(&v1.TestDataConnectorRequest{DataConnector: &v1.DataConnector{Name: "t", Kind: kind, Config: config(t, cfg)}}))
		return err
	}
	at := fmt.Sprintf("bucket %%q at %s: put .strmlocal-probe-", s3.Endpoint)
	for _, c := range []struct {
		name string
		cfg  map[string]any
		code connect.Code
		msg  string
	}{
		{"no such bucket", s3Config(s3, "nope", s3.SecretKey), connect.CodeFailedPrecondition, fmt.Sprintf(at, "nope") + "…: NoSuchBucket: The specified bucket does not exist (HTTP 404)"},
		{"wrong secret", s3Config(s3, "exports", "wrong"), connect.CodeFailedPrecondition, fmt.Sprintf(at, "exports") + "…: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method (HTTP 403)"},
		{"unreachable", map[string]any{"endpoint": "http://127.0.0.1:1", "bucket": "exports", "accessKeyId": "a", "secretAccessKey": "b"}, connect.CodeUnavailable,
			`bucket "exports" at http://127.0.0.1:1: put .strmlocal-probe-…: dial tcp 127.0.0.1:1: connect: connection refused`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := test("s3", c.cfg)
			if connect.CodeOf(err) != c.code {
				t.Fatalf("code %v (%v), want %v", connect.CodeOf(err), err, c.code)
			}
			var ce *connect.Error
			_ = asConnect(err, &ce)
			if got := probeRE.ReplaceAllString(ce.Message(), ".strmlocal-probe-…"); got != c.msg {
				t.Errorf("got  %s\nwant %s", got, c.msg)
			}
			if strings.Contains(ce.Message(), s3.SecretKey) {
				t.Error("the message holds the secret")
			}
		})
	}
	// A directory that cannot be written (below a regular file: a mode
	// would not stop root).
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := test("local", map[string]any{"path": filepath.Join(file, "dir")})
	var ce *connect.Error
	if !asConnect(err, &ce) || ce.Code() != connect.CodeFailedPrecondition ||
		probeRE.ReplaceAllString(ce.Message(), ".strmlocal-probe-…") != fmt.Sprintf(`directory %q: put .strmlocal-probe-…: mkdir not a directory`, filepath.Join(file, "dir")) {
		t.Errorf("unwritable directory: %v", err)
	}
	// A good one says what it did.
	res, err := cs.TestDataConnector(ctx, connect.NewRequest(&v1.TestDataConnectorRequest{DataConnector: &v1.DataConnector{Name: "t", Kind: "s3", Config: config(t, s3Config(s3, "exports", s3.SecretKey))}}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := probeRE.ReplaceAllString(res.Msg.Result, ".strmlocal-probe-…"), fmt.Sprintf(`wrote and deleted .strmlocal-probe-… in bucket "exports" at %s`, s3.Endpoint); got != want {
		t.Errorf("test: %s, want %s", got, want)
	}
	if objs := s3.List(t, "exports", ""); len(objs) != 0 {
		t.Errorf("the probe left %v", objs)
	}

	// Jobs: unknown connector and stream.
	_, err = sb.Client.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: &v1.Job{Kind: "batch-exporter", Stream: "demo"}}))
	assertError(t, err, connect.CodeInvalidArgument, "dataConnector: there are no data connectors; create one first")
	createConnector(t, sb, "dir", "local", map[string]any{"path": t.TempDir()})
	_, err = sb.Client.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: &v1.Job{Kind: "batch-exporter", Stream: "demo", DataConnector: "s3"}}))
	assertError(t, err, connect.CodeNotFound, `data connector "s3" not found (data connectors: dir)`)
	_, err = sb.Client.Jobs.GetJob(ctx, connect.NewRequest(&v1.GetJobRequest{Name: "nope"}))
	assertError(t, err, connect.CodeNotFound, `job "nope" not found: there are no jobs`)
	_, err = sb.Client.Jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: &v1.Job{Kind: "batch-exporter", Stream: "demo", Config: config(t, map[string]any{"interval": "5s"})}}))
	assertError(t, err, connect.CodeInvalidArgument, "config.interval: 5s is out of bounds: give 30s to 1h")
}

// The secret of an s3 connector is sealed on disk and in no answer.
func TestConnectorSecretSealed(t *testing.T) {
	dir := t.TempDir()
	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	const secret = "SECRET-ACCESS-KEY-PLAINTEXT-42"
	createConnector(t, sb, "s3", "s3", map[string]any{"endpoint": "http://127.0.0.1:1", "bucket": "exports", "accessKeyId": "AKID", "secretAccessKey": secret})
	res, err := sb.Client.Connectors.ListDataConnectors(context.Background(), connect.NewRequest(&v1.ListDataConnectorsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.Msg)
	if bytes.Contains(b, []byte(secret)) || !bytes.Contains(b, []byte(`"secretAccessKey":"***"`)) || !bytes.Contains(b, []byte(`"accessKeyId":"AKID"`)) {
		t.Errorf("list: %s", b)
	}
	resp := aether(t, sb, "GET", "/resource/get?id=s3", "")
	if strings.Contains(resp, secret) {
		t.Errorf("REST get shows the secret: %s", resp)
	}
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// aether calls the REST surface and returns "STATUS BODY".
func aether(t *testing.T, sb *strmtest.Sandbox, method, path, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, sb.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("%d %s", res.StatusCode, strings.TrimSpace(string(b)))
}

// The Aether-shaped REST surface: add, get, list, pause, resume, status,
// update, delete, with JSON errors.
func TestAetherREST(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithVirtualClock(t0))
	src := sb.CreateStream("demo")
	dir := t.TempDir()
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/resource/add", fmt.Sprintf(`{"id": "dir", "kind": "local", "config": {"path": %q}}`, dir),
			fmt.Sprintf(`200 {"id":"dir","kind":"local","config":{"path":%q},"createTime":"2026-11-22T12:00:00Z"}`, dir)},
		{"POST", "/resource/add", `{"id": "dir", "kind": "local", "config": {"path": "/x"}}`, `409 {"error":"data connector \"dir\" already exists"}`},
		{"POST", "/resource/validate", `{"id": "y", "kind": "local", "config": {}}`, `400 {"error":"config: missing property 'path'"}`},
		{"POST", "/resource/validate", `{"id": "y", "kind": "local", "config": {"path": "/x"}, "extra": 1}`, `400 {"error":"body: json: unknown field \"extra\""}`},
		{"GET", "/resource/list", "", `200 ["dir"]`},
		{"POST", "/job/add", `{"id": "export", "kind": "batch-exporter", "stream": "demo", "config": {"interval": "30s"}}`,
			`200 {"id":"export","kind":"batch-exporter","stream":"demo","resource":"dir","config":{"pathPrefix":"","interval":"30s","maxEventsPerFile":100000,"includeExistingEvents":false},"createTime":"2026-11-22T12:00:00Z","status":{"state":"RUNNING","cursor":0,"lag":0,"eventsExported":0,"bytesExported":0,"objectsWritten":0,"retries":0,"nextRunTime":"2026-11-22T12:00:30Z"}}`},
		{"GET", "/job/list", "", `200 ["export"]`},
		{"GET", "/job/get", "", `400 {"error":"id: missing: add ?id=NAME"}`},
		{"GET", "/job/status?id=nope", "", `404 {"error":"job \"nope\" not found (jobs: export)"}`},
		{"POST", "/job/pause?id=export", "", `200 {"id":"export","kind":"batch-exporter","stream":"demo","resource":"dir","config":{"pathPrefix":"","interval":"30s","maxEventsPerFile":100000,"includeExistingEvents":false},"createTime":"2026-11-22T12:00:00Z","status":{"state":"PAUSED","cursor":0,"lag":0,"eventsExported":0,"bytesExported":0,"objectsWritten":0,"retries":0}}`},
		{"POST", "/job/pause?id=export", "", `409 {"error":"job \"export\" is paused already"}`},
		{"POST", "/resource/delete?id=dir", "", `409 {"error":"data connector \"dir\" is used by jobs (export); delete them first, or delete recursively (--recursive)"}`},
	} {
		if got := aether(t, sb, c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s\n got %s\nwant %s", c.method, c.path, got, c.want)
		}
	}
	mustAccept(t, src.Send(demoSchema, demo("a", 0), demo("b", 0)))
	if got, want := aether(t, sb, "GET", "/job/status?id=export", ""), `200 {"state":"PAUSED","cursor":0,"lag":2,"eventsExported":0,"bytesExported":0,"objectsWritten":0,"retries":0}`; got != want {
		t.Errorf("status while paused: %s, want %s", got, want)
	}
	aether(t, sb, "POST", "/job/resume?id=export", "")
	waitUntil(t, func() bool { return getJob(t, sb, "export").Status.Lag == 0 })
	// update keeps the cursor.
	if got := aether(t, sb, "POST", "/job/update", `{"id": "export", "kind": "batch-exporter", "stream": "demo", "config": {"interval": "45s", "pathPrefix": "p"}}`); !strings.Contains(got, `"config":{"pathPrefix":"p","interval":"45s"`) || !strings.Contains(got, `"cursor":2`) {
		t.Errorf("update: %s", got)
	}
	if got, want := aether(t, sb, "POST", "/job/update", `{"id": "export", "kind": "key-exporter", "stream": "demo"}`), `400 {"error":"kind: job \"export\" is a batch-exporter; a job's kind cannot change (delete it and create another)"}`; got != want {
		t.Errorf("update kind: %s", got)
	}
	if got := aether(t, sb, "GET", "/job/schema?id=key-exporter", ""); !strings.HasPrefix(got, `200 {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"key-exporter"`) {
		t.Errorf("schema: %s", got)
	}
	if got, want := aether(t, sb, "POST", "/resource/delete?id=dir&recursive=true", ""), `200 {"deleted":"dir","deletedJobs":["export"]}`; got != want {
		t.Errorf("delete: %s, want %s", got, want)
	}
	if got, want := aether(t, sb, "GET", "/job/list", ""), `200 []`; got != want {
		t.Errorf("list after delete: %s", got)
	}
}

// The REST surface needs the admin token when the server has one.
func TestAetherRESTNeedsAdminToken(t *testing.T) {
	sb := strmtest.New(t, strmtest.WithAdminToken("tok"))
	if got, want := aether(t, sb, "GET", "/job/list", ""), `401 {"error":"this server requires its admin token: pass --admin-token or set STRMLOCAL_ADMIN_TOKEN"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
