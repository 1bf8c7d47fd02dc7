package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/strmlocal/strmlocal/strmtest"
)

// newJobsCLI is newCLI (the fixed clock t0 unless opts say otherwise) with
// the sandbox, for what the CLI cannot do itself.
func newJobsCLI(t *testing.T, opts ...strmtest.Option) (*cli, *strmtest.Sandbox) {
	if len(opts) == 0 {
		opts = []strmtest.Option{strmtest.WithClock(func() time.Time { return t0 })}
	}
	sb := strmtest.New(t, opts...)
	return &cli{t: t, server: sb.URL, config: t.TempDir()}, sb
}

// expectDir is expect with dir shown as $DIR in both outputs.
func (c *cli) expectDir(dir, args string, wantCode int, wantOut, wantErr string) {
	c.t.Helper()
	code, out, errs := c.run(strings.Fields(args)...)
	out, errs = strings.ReplaceAll(out, dir, "$DIR"), strings.ReplaceAll(errs, dir, "$DIR")
	if code != wantCode || out != wantOut || errs != wantErr {
		c.t.Fatalf("strmlocal %s\n exit %d, want %d\n stdout:\n%s\n want:\n%s\n stderr:\n%s\n want:\n%s", args, code, wantCode, out, wantOut, errs, wantErr)
	}
}

// tab is rows of tab-separated cells as printTable aligns them, for tables
// whose widths depend on a temporary directory's path.
func tab(rows ...string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	tw.Flush()
	return b.String()
}

// expectError runs a command line that must fail with exactly one line on
// stderr: "strmlocal: " + want.
func (c *cli) expectError(args, want string) {
	c.t.Helper()
	code, out, errs := c.run(strings.Fields(args)...)
	if want := "strmlocal: " + want + "\n"; code != 1 || out != "" || errs != want {
		c.t.Fatalf("strmlocal %s\n exit %d, stdout %q\n stderr %q\n want   %q", args, code, out, errs, want)
	}
}

func TestDataConnectorCommands(t *testing.T) {
	c := newCLI(t)
	// A relative --path is sent absolute, from the current directory.
	t.Chdir(t.TempDir())
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(wd, "out")
	c.expect("create data-connector local dir --path out", 0, tab("NAME\tKIND\tCONFIG\tJOBS", "dir\tlocal\t"+`{"path":"`+dir+`"}`+"\t"), "")
	c.expectDir(dir, "create data-connector local other --path ./out/../other/ -o json", 0, `{
  "dataConnector": {
    "name": "other",
    "kind": "local",
    "config": {
      "path": "`+wd+`/other"
    },
    "createTime": "2026-11-22T12:00:00Z"
  }
}
`, "")
	c.expect("list data-connectors", 0, tab("NAME\tKIND\tCONFIG\tJOBS",
		"dir\tlocal\t"+`{"path":"`+dir+`"}`+"\t",
		"other\tlocal\t"+`{"path":"`+wd+`/other"}`+"\t"), "")
	c.mustRun("create stream demo --save=false")
	c.mustRun("create batch-exporter demo --data-connector dir")
	c.expect("get data-connector dir", 0, tab("NAME\tKIND\tCONFIG\tJOBS", "dir\tlocal\t"+`{"path":"`+dir+`"}`+"\tdir-demo"), "")
	c.expectDir(dir, "get data-connector dir -o json", 0, `{
  "dataConnector": {
    "name": "dir",
    "kind": "local",
    "config": {
      "path": "$DIR"
    },
    "createTime": "2026-11-22T12:00:00Z",
    "jobs": [
      "dir-demo"
    ]
  }
}
`, "")

	// test writes and deletes a probe; the directory is made for it.
	code, out, errs := c.run("test", "data-connector", "dir")
	if want := `wrote and deleted .strmlocal-probe-<client-id---------------------uuid> in directory "` + dir + `"` + "\n"; code != 0 || out != want || errs != "" {
		t.Fatalf("test data-connector: exit %d\nstdout %q\nwant   %q\nstderr %q", code, out, want, errs)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("after the probe: %v %v; want an empty directory", entries, err)
	}
	c.expectDir(dir, "test data-connector dir -o json", 0, `{
  "result": "wrote and deleted .strmlocal-probe-<client-id---------------------uuid> in directory \"$DIR\""
}
`, "")
	// A connector that cannot work: its directory is a file.
	if err := os.WriteFile(filepath.Join(wd, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustRun("create data-connector local broken --path file/sub")
	code, out, errs = c.run("test", "data-connector", "broken")
	if want := `strmlocal: directory "` + wd + `/file/sub": put .strmlocal-probe-<client-id---------------------uuid>: mkdir not a directory` + "\n"; code != 1 || out != "" || errs != want {
		t.Fatalf("test a broken data connector: exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, want)
	}

	// Delete: one that jobs write to needs --recursive.
	c.expectError("delete data-connector dir", `data connector "dir" is used by jobs (dir-demo); delete them first, or delete recursively (--recursive)`)
	c.expect("delete data-connector other", 0, "deleted data connector other\n", "")
	c.expect("delete data-connector dir --recursive", 0, "deleted job dir-demo\ndeleted data connector dir\n", "")
	c.expect("delete data-connector broken -o json", 0, "{}\n", "")
	c.expect("list data-connectors", 0, "NAME  KIND  CONFIG  JOBS\n", "")
	c.expect("list data-connectors -o json", 0, "{}\n", "")
	c.expect("list jobs", 0, "NAME  KIND  STREAM  CONNECTOR  STATE  LAG  EVENTS  LAST ERROR\n", "")
}

func TestDataConnectorErrors(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.mustRun("create data-connector local dir --path " + dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noSecret := write("no-secret.json", `{"AccessKey": {"AccessKeyId": "AKIA1", "UserName": "u"}}`)
	empty := write("empty.json", `{}`)
	notJSON := write("not.json", `{"AccessKey": {"SecretAccessKey": hunter2}}`)
	array := write("array.json", `["AKIA1"]`)
	wrongType := write("wrong-type.json", `{"AccessKey": "AKIA1"}`)
	s3 := "create data-connector s3 s b --endpoint http://127.0.0.1:1 --credentials-file "
	formats := `want {"AccessKey":{"AccessKeyId":"…","SecretAccessKey":"…"}} (as aws iam create-access-key prints it) or {"accessKeyId":"…","secretAccessKey":"…"}`
	for _, tc := range []struct{ args, stderr string }{
		{"create data-connector local dir --path " + dir, `data connector "dir" already exists; pick another name, or delete it first`},
		{"create data-connector local", "accepts 1 arg(s), received 0"},
		{"create data-connector local x", `required flag(s) "path" not set`},
		{"create data-connector local a/b --path " + dir, `name: invalid data connector name "a/b": use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'`},
		{"create data-connector ftp x", `unknown data connector kind "ftp": use local (create data-connector local NAME --path DIR), s3 (create data-connector s3 NAME BUCKET --endpoint URL --credentials-file FILE), kafka (create data-connector kafka NAME --bootstrap-servers H:P) or http (create data-connector http NAME --url URL)`},
		{"create data-connector s3 s b --credentials-file " + empty, `required flag(s) "endpoint" not set`},
		{"create data-connector s3 s --endpoint http://127.0.0.1:1 --credentials-file " + empty, "accepts 2 arg(s), received 1"},
		{s3 + filepath.Join(dir, "missing.json"), "cannot read --credentials-file: open " + dir + "/missing.json: no such file or directory"},
		{s3 + noSecret, "credentials file " + noSecret + " has no AccessKey.SecretAccessKey: " + formats},
		{s3 + empty, "credentials file " + empty + " has no accessKeyId and secretAccessKey: " + formats},
		{s3 + notJSON, "credentials file " + notJSON + " is not valid JSON (at byte 35): " + formats},
		{s3 + array, "credentials file " + array + " does not hold a JSON object: " + formats},
		{s3 + wrongType, "credentials file " + wrongType + ": AccessKey has the wrong type (a JSON string): " + formats},
		{"get data-connector nope", `data connector "nope" not found (data connectors: dir); see what exists with ` + "`strmlocal list`"},
		{"delete data-connector nope", `data connector "nope" not found (data connectors: dir); see what exists with ` + "`strmlocal list`"},
		{"test data-connector nope", `data connector "nope" not found (data connectors: dir); see what exists with ` + "`strmlocal list`"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if want := "strmlocal: " + tc.stderr + "\n"; code != 1 || out != "" || errs != want {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, want)
			}
			if strings.Contains(errs, "hunter2") {
				t.Fatalf("the secret is in the message: %s", errs)
			}
		})
	}
}

// The credentials file's two formats, and the config they make.
func TestS3Config(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"aws.json":  `{"AccessKey": {"UserName": "u", "Status": "Active", "AccessKeyId": "AKIA1", "SecretAccessKey": "s3cr3t", "CreateDate": "2026-01-01T00:00:00Z"}}`,
		"flat.json": `{"accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t"}`,
	} {
		o := s3Options{endpoint: "http://127.0.0.1:9000", region: "eu-west-1", pathStyle: true, credentialsFile: filepath.Join(dir, name)}
		if err := os.WriteFile(o.credentialsFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := o.config("bucket")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]any{"endpoint": "http://127.0.0.1:9000", "bucket": "bucket", "region": "eu-west-1", "pathStyle": true, "accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t"}
		if len(got) != len(want) {
			t.Fatalf("%s: config %v, want %v", name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: config %v, want %v", name, got, want)
			}
		}
	}
	o := s3Options{endpoint: "http://127.0.0.1:9000", credentialsFile: filepath.Join(dir, "flat.json")}
	got, _ := o.config("b")
	if _, ok := got["region"]; ok {
		t.Errorf("region without --region: %v", got)
	}
	if _, ok := got["pathStyle"]; ok {
		t.Errorf("pathStyle without --path-style: %v", got)
	}
}

// The secret access key of an s3 connector is in no output of any command.
// Creating the connector does not connect, so the endpoint can be fake.
func TestConnectorSecretNeverShown(t *testing.T) {
	c, sb := newJobsCLI(t)
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
	sb.CreateConnector(t, "bucket", "s3", map[string]any{
		"endpoint": "http://127.0.0.1:1", "bucket": "exports", "pathStyle": true,
		"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": secret,
	})
	// And one created by the CLI, from a credentials file.
	creds := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(creds, []byte(`{"AccessKey": {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "`+secret+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.expect("create data-connector s3 cli exports --endpoint http://127.0.0.1:1 --region eu-west-1 --path-style --credentials-file "+creds, 0,
		"NAME  KIND  CONFIG                                                                                                                                          JOBS\n"+
			`cli   s3    {"accessKeyId":"AKIAEXAMPLE","bucket":"exports","endpoint":"http://127.0.0.1:1","pathStyle":true,"region":"eu-west-1","secretAccessKey":"***"}  `+"\n", "")
	c.mustRun("create stream demo --save=false")
	c.mustRun("create batch-exporter demo --data-connector bucket")
	// An endpoint that cannot be reached is the connector's failure, not
	// the strmlocal server's.
	c.expectError("test data-connector bucket", `bucket "exports" at http://127.0.0.1:1: put .strmlocal-probe-<client-id---------------------uuid>: dial tcp 127.0.0.1:1: connect: connection refused`)
	var all strings.Builder
	for _, args := range []string{
		"list data-connectors", "list data-connectors -o json",
		"get data-connector bucket", "get data-connector bucket -o json",
		"list jobs", "list jobs -o json", "get job bucket-demo", "get job bucket-demo -o json",
		"test data-connector bucket", "test data-connector bucket -o json",
		"describe kinds", "describe kinds s3", "describe kinds -o json",
		"delete data-connector bucket", "delete data-connector bucket --recursive",
	} {
		_, out, errs := c.run(strings.Fields(args)...)
		all.WriteString(out + errs)
	}
	if strings.Contains(all.String(), secret) || strings.Contains(all.String(), "wJalrXUtnFEMI") {
		t.Fatalf("the secret is in the output:\n%s", all.String())
	}
	if !strings.Contains(all.String(), `"secretAccessKey":"***"`) {
		t.Fatalf("no masked secret in the output:\n%s", all.String())
	}
}

func TestDescribeKinds(t *testing.T) {
	c := newCLI(t)
	_, out, _ := c.run("describe", "kinds")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "KIND ") || !strings.Contains(out, "\nlocal ") || !strings.Contains(out, "\nbatch-exporter ") || !strings.Contains(out, "\nkey-exporter ") {
		t.Fatalf("describe kinds:\n%s", out)
	}
	code, out, errs := c.run("describe", "kinds", "batch-exporter")
	if code != 0 || !strings.HasPrefix(out, "batch-exporter (job): Every interval") || !strings.Contains(out, "\nsecret fields: none\nconfig schema:\n{\n") || !strings.Contains(out, `"maxEventsPerFile"`) {
		t.Fatalf("describe kinds batch-exporter: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = c.run("describe", "kinds", "nope")
	if want := "strmlocal: unknown kind \"nope\" (kinds: http, kafka, local, s3, batch-exporter, cloudevents-sink, kafka-exporter, key-exporter)\n"; code != 1 || out != "" || errs != want {
		t.Fatalf("describe kinds nope: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	_, out, _ = c.run("describe", "kinds", "-o", "json")
	for _, want := range []string{"{\n  \"dataConnectorKinds\": [\n    {\n      \"kind\": ", "\n      \"kind\": \"local\",\n", "\n  \"jobKinds\": [\n", "\n      \"kind\": \"batch-exporter\",\n", `"configSchema": "{\n  \"$schema\"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("describe kinds -o json has no %q:\n%s", want, out)
		}
	}
}
