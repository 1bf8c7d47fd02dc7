package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/s3"
	"github.com/strmlocal/strmlocal/internal/s3test"
)

const bucket = "exports"

// setup starts a versitygw with the bucket "exports" and returns it with
// a Bucket of it.
func setup(t *testing.T, pathStyle bool) (*s3test.Server, *s3.Bucket) {
	t.Helper()
	srv := s3test.Start(t)
	srv.MakeBucket(t, bucket)
	return srv, newBucket(t, config(srv, pathStyle))
}

func config(srv *s3test.Server, pathStyle bool) s3.Config {
	return s3.Config{
		Endpoint:        srv.Endpoint,
		Bucket:          bucket,
		PathStyle:       pathStyle,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
	}
}

func newBucket(t *testing.T, c s3.Config) *s3.Bucket {
	t.Helper()
	b, err := s3.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, b *s3.Bucket, name, body string) {
	t.Helper()
	n, err := b.Put(ctx(t), name, strings.NewReader(body))
	if err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
	if n != int64(len(body)) {
		t.Fatalf("Put %s: wrote %d bytes, want %d", name, n, len(body))
	}
}

func TestPutGet(t *testing.T) {
	t.Parallel()
	srv, b := setup(t, true)
	objects := []struct{ name, body, contentType string }{
		{"jobs/j1/part-0001.jsonl", "{\"a\":1}\n{\"a\":2}\n", "application/x-ndjson"},
		{"jobs/j1/keys.csv", "id,key\n1,k\n", "text/csv"},
		{"jobs/j1/raw.bin", "\x00\x01\xff", "application/octet-stream"},
		{"empty.jsonl", "", "application/x-ndjson"},
	}
	for _, o := range objects {
		put(t, b, o.name, o.body)
	}
	for _, o := range objects {
		if got := srv.Get(t, bucket, o.name); !bytes.Equal(got, []byte(o.body)) {
			t.Errorf("Get %s = %q, want %q", o.name, got, o.body)
		}
		if size, ct := srv.Stat(t, bucket, o.name); size != int64(len(o.body)) || ct != o.contentType {
			t.Errorf("Stat %s = %d bytes %q, want %d bytes %q", o.name, size, ct, len(o.body), o.contentType)
		}
	}
	// Put replaces.
	put(t, b, "jobs/j1/keys.csv", "id,key\n2,l\n")
	if got, want := string(srv.Get(t, bucket, "jobs/j1/keys.csv")), "id,key\n2,l\n"; got != want {
		t.Errorf("Get after a second Put = %q, want %q", got, want)
	}
	want := []string{"empty.jsonl", "jobs/j1/keys.csv", "jobs/j1/part-0001.jsonl", "jobs/j1/raw.bin"}
	if got := srv.List(t, bucket, ""); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

// generator yields n pseudo-random bytes, made as they are read.
type generator struct {
	rng  *rand.ChaCha8
	left int64
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	return n, nil
}

// TestPutLarge streams 20 MiB (three parts) and checks that Put did not
// hold the object: it allocates one 8 MiB part buffer and little else.
// Not parallel, so that the allocation count is this test's.
func TestPutLarge(t *testing.T) {
	srv, b := setup(t, true)
	const size = 20 << 20
	sum := sha256.New()
	body := io.TeeReader(&generator{rng: rand.NewChaCha8([32]byte{1}), left: size}, sum)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := b.Put(ctx(t), "big.jsonl", body)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != size {
		t.Fatalf("Put wrote %d bytes, want %d", n, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= size {
		t.Errorf("Put of %d bytes allocated %d bytes: it should hold one 8 MiB part, not the object", size, alloc)
	}

	got := srv.Get(t, bucket, "big.jsonl")
	if len(got) != size {
		t.Fatalf("Get: %d bytes, want %d", len(got), size)
	}
	if g, w := sha256.Sum256(got), sum.Sum(nil); !bytes.Equal(g[:], w) {
		t.Errorf("Get: sha256 %x, want %x", g, w)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	srv, b := setup(t, true)
	put(t, b, "a/1.jsonl", "x\n")
	put(t, b, "a/2.jsonl", "y\n")
	if err := b.Delete(ctx(t), "a/1.jsonl"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, want := srv.List(t, bucket, ""), []string{"a/2.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("List after Delete = %q, want %q", got, want)
	}
	if err := b.Delete(ctx(t), "a/1.jsonl"); err != nil {
		t.Errorf("Delete of a deleted object: %v, want nil", err)
	}
	if err := b.Delete(ctx(t), "never/was.jsonl"); err != nil {
		t.Errorf("Delete of a missing object: %v, want nil", err)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	srv, b := setup(t, true)
	const uuid = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	for _, prefix := range []string{"", "jobs/j1"} {
		msg, err := exporter.Probe(ctx(t), b, prefix)
		if err != nil {
			t.Fatalf("Probe(%q): %v", prefix, err)
		}
		name := `\.strmlocal-probe-` + uuid
		if prefix != "" {
			name = regexp.QuoteMeta(prefix+"/") + name
		}
		want := `^wrote and deleted ` + name + ` in bucket "exports" at ` + regexp.QuoteMeta(srv.Endpoint) + `$`
		if !regexp.MustCompile(want).MatchString(msg) {
			t.Errorf("Probe(%q) = %q, want it to match %s", prefix, msg, want)
		}
	}
	if got := srv.List(t, bucket, ""); len(got) != 0 {
		t.Errorf("Probe left %q", got)
	}
}

// TestAddressing: path style and auto (which is path style for any
// endpoint but Amazon's, Google's and Aliyun's) both work.
func TestAddressing(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	srv.MakeBucket(t, bucket)
	for _, pathStyle := range []bool{true, false} {
		b := newBucket(t, config(srv, pathStyle))
		name := map[bool]string{true: "path.jsonl", false: "auto.jsonl"}[pathStyle]
		put(t, b, name, "{}\n")
		if got := string(srv.Get(t, bucket, name)); got != "{}\n" {
			t.Errorf("pathStyle %v: Get = %q", pathStyle, got)
		}
		if _, err := exporter.Probe(ctx(t), b, ""); err != nil {
			t.Errorf("pathStyle %v: Probe: %v", pathStyle, err)
		}
	}
	// An endpoint with a trailing slash is the same endpoint.
	c := config(srv, false)
	c.Endpoint += "/"
	if got, want := newBucket(t, c).String(), `bucket "exports" at `+srv.Endpoint; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// closedEndpoint returns the URL of a loopback port nothing listens on.
func closedEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	srv.MakeBucket(t, bucket)
	closed := closedEndpoint(t)
	at := " at " + srv.Endpoint + ": "
	const wrongSecret = "not-the-secret-0123456789"
	tests := []struct {
		name string
		edit func(*s3.Config)
		kind error
		code string
		put  string // the error of Put "x.jsonl"
		del  string // the error of Delete "x.jsonl"
	}{{
		name: "no such bucket",
		edit: func(c *s3.Config) { c.Bucket = "no-such-bucket" },
		kind: exporter.ErrRefused, code: "NoSuchBucket",
		put: `bucket "no-such-bucket"` + at + `put x.jsonl: NoSuchBucket: The specified bucket does not exist (HTTP 404)`,
		del: `bucket "no-such-bucket"` + at + `delete x.jsonl: NoSuchBucket: The specified bucket does not exist (HTTP 404)`,
	}, {
		name: "wrong secret",
		edit: func(c *s3.Config) { c.SecretAccessKey = wrongSecret },
		kind: exporter.ErrRefused, code: "SignatureDoesNotMatch",
		put: `bucket "exports"` + at + `put x.jsonl: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method (HTTP 403)`,
		del: `bucket "exports"` + at + `delete x.jsonl: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your key and signing method (HTTP 403)`,
	}, {
		// versitygw's code for an unknown key (Amazon says
		// InvalidAccessKeyId, 403).
		name: "unknown access key",
		edit: func(c *s3.Config) { c.AccessKeyID, c.SecretAccessKey = "nobody", wrongSecret },
		kind: exporter.ErrRefused, code: "XAdminUserNotFound",
		put: `bucket "exports"` + at + `put x.jsonl: XAdminUserNotFound: No user exists with the provided access key ID (HTTP 404)`,
		del: `bucket "exports"` + at + `delete x.jsonl: XAdminUserNotFound: No user exists with the provided access key ID (HTTP 404)`,
	}, {
		name: "wrong region",
		edit: func(c *s3.Config) { c.Region = "eu-west-1" },
		kind: exporter.ErrRefused, code: "AuthorizationHeaderMalformed",
		put: `bucket "exports"` + at + `put x.jsonl: AuthorizationHeaderMalformed: The authorization header is malformed; the region "eu-west-1" is wrong; expecting "us-east-1" (HTTP 400)`,
		del: `bucket "exports"` + at + `delete x.jsonl: AuthorizationHeaderMalformed: The authorization header is malformed; the region "eu-west-1" is wrong; expecting "us-east-1" (HTTP 400)`,
	}, {
		name: "closed port",
		edit: func(c *s3.Config) { c.Endpoint = closed },
		kind: exporter.ErrUnavailable,
		put:  `bucket "exports" at ` + closed + `: put x.jsonl: dial tcp ` + strings.TrimPrefix(closed, "http://") + `: connect: connection refused`,
		del:  `bucket "exports" at ` + closed + `: delete x.jsonl: dial tcp ` + strings.TrimPrefix(closed, "http://") + `: connect: connection refused`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config(srv, true)
			tt.edit(&c)
			b := newBucket(t, c)
			_, perr := b.Put(ctx(t), "x.jsonl", strings.NewReader("{}\n"))
			derr := b.Delete(ctx(t), "x.jsonl")
			for _, e := range []struct {
				op   string
				err  error
				want string
			}{{"Put", perr, tt.put}, {"Delete", derr, tt.del}} {
				if e.err == nil {
					t.Errorf("%s: no error, want %q", e.op, e.want)
					continue
				}
				if e.err.Error() != e.want {
					t.Errorf("%s:\n got %q\nwant %q", e.op, e.err, e.want)
				}
				var se *exporter.Error
				if !errors.As(e.err, &se) || se.Code != tt.code || se.Where != b.String() {
					t.Errorf("%s: %#v, want an *exporter.Error with Code %q and Where %q", e.op, e.err, tt.code, b.String())
				}
				if !errors.Is(e.err, tt.kind) {
					t.Errorf("%s: %v is not %v", e.op, e.err, tt.kind)
				}
				if strings.Contains(e.err.Error(), wrongSecret) || strings.Contains(e.err.Error(), srv.SecretKey) {
					t.Errorf("%s: the message shows a secret: %v", e.op, e.err)
				}
			}
			// Probe fails the same way, at its Put.
			_, err := exporter.Probe(ctx(t), b, "")
			if prefix := b.String() + ": put " + exporter.ProbePrefix; err == nil || !strings.HasPrefix(err.Error(), prefix) || !errors.Is(err, tt.kind) {
				t.Errorf("Probe: %v, want %v starting %q", err, tt.kind, prefix)
			}
		})
	}
	if got := srv.List(t, bucket, ""); len(got) != 0 {
		t.Errorf("failed Puts left %q", got)
	}
}

// failingReader yields some bytes, then fails.
type failingReader struct{ n int }

var errBody = errors.New("the body broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBody
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

// TestBodyError: a body that fails is no failure of the bucket, and
// leaves no object, even after a first part went up.
func TestBodyError(t *testing.T) {
	t.Parallel()
	srv, b := setup(t, true)
	for _, n := range []int{100, 9 << 20} {
		_, err := b.Put(ctx(t), "broken.jsonl", &failingReader{n: n})
		want := `bucket "exports" at ` + srv.Endpoint + `: put broken.jsonl: reading the object: the body broke`
		if err == nil || err.Error() != want {
			t.Errorf("Put of a body failing after %d bytes: %v, want %q", n, err, want)
		}
		if !errors.Is(err, errBody) || errors.Is(err, exporter.ErrRefused) || errors.Is(err, exporter.ErrUnavailable) {
			t.Errorf("Put of a failing body: %#v, want the body's error, not the bucket's", err)
		}
	}
	if got := srv.List(t, bucket, ""); len(got) != 0 {
		t.Errorf("failed Puts left %q", got)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	_, b := setup(t, true)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Put(c, "x.jsonl", strings.NewReader("x")); err != context.Canceled {
		t.Errorf("Put with a canceled context: %v, want context.Canceled", err)
	}
	if err := b.Delete(c, "x.jsonl"); err != context.Canceled {
		t.Errorf("Delete with a canceled context: %v, want context.Canceled", err)
	}
}

// TestStopRestart: the server goes away mid-run and comes back.
func TestStopRestart(t *testing.T) {
	t.Parallel()
	srv, b := setup(t, true)
	put(t, b, "before.jsonl", "1\n")
	srv.Stop(t)
	_, err := b.Put(ctx(t), "during.jsonl", strings.NewReader("2\n"))
	addr := strings.TrimPrefix(srv.Endpoint, "http://")
	want := `bucket "exports" at ` + srv.Endpoint + `: put during.jsonl: dial tcp ` + addr + `: connect: connection refused`
	if err == nil || err.Error() != want || !errors.Is(err, exporter.ErrUnavailable) {
		t.Errorf("Put to a stopped server: %v, want ErrUnavailable %q", err, want)
	}
	srv.Restart(t)
	put(t, b, "after.jsonl", "3\n")
	if got, want := srv.List(t, bucket, ""), []string{"after.jsonl", "before.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func valid() s3.Config {
	return s3.Config{
		Endpoint:        "https://s3.eu-west-1.amazonaws.com",
		Bucket:          "my-exports.2026",
		Region:          "eu-west-1",
		AccessKeyID:     "AKIAEXAMPLE",
		SecretAccessKey: "top-secret/value",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*s3.Config)
		want string // "" for valid
	}{
		{"valid", func(*s3.Config) {}, ""},
		{"http with port and slash", func(c *s3.Config) { c.Endpoint = "http://127.0.0.1:7070/" }, ""},
		{"no region", func(c *s3.Config) { c.Region = "" }, ""},
		{"empty endpoint", func(c *s3.Config) { c.Endpoint = "" }, `endpoint: want an http:// or https:// URL with a host, got ""`},
		{"no scheme", func(c *s3.Config) { c.Endpoint = "foo" }, `endpoint: want an http:// or https:// URL with a host, got "foo"`},
		{"host:port", func(c *s3.Config) { c.Endpoint = "localhost:9000" }, `endpoint: want an http:// or https:// URL with a host, got "localhost:9000"`},
		{"ftp", func(c *s3.Config) { c.Endpoint = "ftp://h" }, `endpoint: want an http:// or https:// URL with a host, got "ftp://h"`},
		{"no host", func(c *s3.Config) { c.Endpoint = "http://:9000" }, `endpoint: want an http:// or https:// URL with a host, got "http://:9000"`},
		{"bad port", func(c *s3.Config) { c.Endpoint = "http://h:port" }, `endpoint: want an http:// or https:// URL with a host, got "http://h:port"`},
		{"path", func(c *s3.Config) { c.Endpoint = "https://h/bucket" }, `endpoint: want no path other than "/", got "https://h/bucket"`},
		{"query", func(c *s3.Config) { c.Endpoint = "https://h/?x=1" }, `endpoint: want no query or fragment, got "https://h/?x=1"`},
		{"fragment", func(c *s3.Config) { c.Endpoint = "https://h#x" }, `endpoint: want no query or fragment, got "https://h#x"`},
		{"user info", func(c *s3.Config) { c.Endpoint = "https://key:top-secret@h" }, `endpoint: want no user info (user:password@) in the URL: the keys go in accessKeyId and secretAccessKey`},
		{"empty bucket", func(c *s3.Config) { c.Bucket = "" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got ""`},
		{"short bucket", func(c *s3.Config) { c.Bucket = "ab" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got "ab"`},
		{"long bucket", func(c *s3.Config) { c.Bucket = strings.Repeat("a", 64) }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got "` + strings.Repeat("a", 64) + `"`},
		{"63 bytes", func(c *s3.Config) { c.Bucket = strings.Repeat("a", 63) }, ""},
		{"upper case", func(c *s3.Config) { c.Bucket = "Exports" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got "Exports"`},
		{"underscore", func(c *s3.Config) { c.Bucket = "my_exports" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got "my_exports"`},
		{"ends with -", func(c *s3.Config) { c.Bucket = "exports-" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got "exports-"`},
		{"starts with .", func(c *s3.Config) { c.Bucket = ".exports" }, `bucket: want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, got ".exports"`},
		{"two dots", func(c *s3.Config) { c.Bucket = "my..exports" }, `bucket: want no "..", ".-" or "-.", got "my..exports"`},
		{"dot dash", func(c *s3.Config) { c.Bucket = "my.-exports" }, `bucket: want no "..", ".-" or "-.", got "my.-exports"`},
		{"IP address", func(c *s3.Config) { c.Bucket = "192.168.1.1" }, `bucket: want a name, not an IP address, got "192.168.1.1"`},
		{"region with space", func(c *s3.Config) { c.Region = "eu west" }, `region: want a region name such as us-east-1, got "eu west"`},
		{"no access key", func(c *s3.Config) { c.AccessKeyID = "" }, `accessKeyId: want an access key ID, got none`},
		{"no secret", func(c *s3.Config) { c.SecretAccessKey = "" }, `secretAccessKey: want a secret access key, got none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate():\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(got, "top-secret") {
				t.Errorf("Validate() shows a secret: %q", got)
			}
			// New validates too.
			if _, err := s3.New(c); (err == nil) != (tt.want == "") || err != nil && err.Error() != tt.want {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSchema compiles Schema and checks it against instances: what it
// accepts, Validate's endpoint and bucket rules accept.
func TestSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s3.Schema))
	if err != nil {
		t.Fatalf("Schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s3.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("s3.json")
	if err != nil {
		t.Fatalf("Schema does not compile: %v", err)
	}
	// Every property has a description; the secrets are properties.
	props := doc.(map[string]any)["properties"].(map[string]any)
	for name, p := range props {
		if d, _ := p.(map[string]any)["description"].(string); d == "" {
			t.Errorf("property %s has no description", name)
		}
	}
	for _, s := range s3.Secrets {
		if props[s] == nil {
			t.Errorf("secret %s is no property", s)
		}
	}
	// And they are Config's JSON names.
	js, err := json.Marshal(valid())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for name := range m {
		if props[name] == nil {
			t.Errorf("Config's field %s is not in the schema", name)
		}
	}

	base := `"bucket": "exports", "accessKeyId": "k", "secretAccessKey": "s"`
	tests := []struct {
		instance string
		ok       bool
	}{
		{`{"endpoint": "https://s3.amazonaws.com", ` + base + `}`, true},
		{`{"endpoint": "http://127.0.0.1:7070/", ` + base + `, "region": "us-east-1", "pathStyle": true}`, true},
		{`{"endpoint": "foo", ` + base + `}`, false},
		{`{"endpoint": "ftp://h", ` + base + `}`, false},
		{`{"endpoint": "https://", ` + base + `}`, false},
		{`{"endpoint": "https://h/path", ` + base + `}`, false},
		{`{"endpoint": "https://h?x", ` + base + `}`, false},
		{`{"endpoint": "https://u:p@h", ` + base + `}`, false},
		{`{"endpoint": "https://h", "bucket": "Ab", "accessKeyId": "k", "secretAccessKey": "s"}`, false},
		{`{"endpoint": "https://h", "bucket": "ab-", "accessKeyId": "k", "secretAccessKey": "s"}`, false},
		{`{"endpoint": "https://h", "bucket": "exports", "accessKeyId": "k"}`, false},
		{`{"endpoint": "https://h", "bucket": "exports", "accessKeyId": "k", "secretAccessKey": ""}`, false},
		{`{"endpoint": "https://h", ` + base + `, "extra": 1}`, false},
	}
	for _, tt := range tests {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.instance))
		if err != nil {
			t.Fatal(err)
		}
		err = sch.Validate(inst)
		if (err == nil) != tt.ok {
			t.Errorf("Schema on %s: %v, want ok=%v", tt.instance, err, tt.ok)
		}
		if err == nil {
			var c s3.Config
			if err := json.Unmarshal([]byte(tt.instance), &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Schema accepts %s, Validate does not: %v", tt.instance, err)
			}
		}
	}
}
