package s3test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw that `make test-deps` installs.
const Version = "v1.8.0"

const (
	accessKey = "s3test-access"
	secretKey = "s3test-secret-do-not-log"
	// startTimeout bounds how long Start and Restart wait for the server.
	startTimeout = 10 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
)

// Server is a running versitygw. Its methods are safe for concurrent use.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string // the root user's
	SecretKey string
	Dir       string // the POSIX backend's root: a directory per bucket

	bin    string
	addr   string
	client *minio.Client

	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one run of versitygw.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error // of Wait, once done is closed
}

// Start starts a versitygw for the test and stops it when the test ends.
// It fails the test, never skips it, when versitygw is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("s3test: %v: run `make test-deps` to install versitygw %s", err, Version)
	}
	addr := freeAddr(t)
	s := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: accessKey,
		SecretKey: secretKey,
		Dir:       t.TempDir(),
		bin:       bin,
		addr:      addr,
	}
	s.client, err = minio.New(addr, &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatalf("s3test: minio client: %v", err)
	}
	t.Cleanup(func() { s.Stop(t) })
	s.start(t)
	return s
}

// binary finds versitygw: in $(go env GOPATH)/bin, where `make test-deps`
// puts it, else on PATH.
func binary() (string, error) {
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if gopath := filepath.SplitList(strings.TrimSpace(string(out))); len(gopath) > 0 && gopath[0] != "" {
			bin := filepath.Join(gopath[0], "bin", "versitygw")
			if _, err := os.Stat(bin); err == nil {
				return bin, nil
			}
		}
	}
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		return "", errors.New("versitygw is neither in $(go env GOPATH)/bin nor on PATH")
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: finding a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("s3test: finding a free port: %v", err)
	}
	return addr
}

// start runs versitygw and waits until it answers ListBuckets.
func (s *Server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		t.Fatalf("s3test: versitygw at %s is running already", s.Endpoint)
	}
	// Single-account mode (no IAM): the root user is the only user.
	// --quiet: no line per request on stdout.
	cmd := exec.Command(s.bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", s.addr, "--quiet",
		"posix", s.Dir)
	cmd.Env = cleanEnv()
	p := &process{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("s3test: starting %s: %v", s.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, last = s.client.ListBuckets(ctx)
		cancel()
		if last == nil {
			return
		}
		select {
		case <-p.done:
			s.proc = nil
			t.Fatalf("s3test: versitygw at %s exited before answering (%v); its output:\n%s", s.Endpoint, p.err, p.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop(t, p)
			s.proc = nil
			t.Fatalf("s3test: versitygw at %s did not answer ListBuckets within %v (last: %v); its output:\n%s", s.Endpoint, startTimeout, last, p.out)
		}
	}
}

// cleanEnv is the environment without versitygw's own variables, so that
// only the flags configure the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_") || name == "LOGFILE" || name == "WEBHOOK" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for
// it. Stopping a stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.stop(t, s.proc)
		s.proc = nil
	}
}

func (s *Server) stop(t testing.TB, p *process) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Logf("s3test: versitygw at %s ignored SIGTERM for %v and was killed; its output:\n%s", s.Endpoint, stopTimeout, p.out)
	}
}

// Restart stops the server if it runs and starts it again on the same
// port and directory: the buckets and objects are as they were.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.start(t)
}

// MakeBucket creates the bucket name.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("s3test: making bucket %q: %v", name, err)
	}
}

// List returns the names of the objects in bucket that start with
// prefix, all of them ('/' is no delimiter), sorted.
func (s *Server) List(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names := []string{}
	for obj := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("s3test: listing bucket %q prefix %q: %v", bucket, prefix, obj.Err)
		}
		names = append(names, obj.Key)
	}
	slices.Sort(names)
	return names
}

// Get returns the object name of bucket.
func (s *Server) Get(t testing.TB, bucket, name string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obj, err := s.client.GetObject(ctx, bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("s3test: getting %q of bucket %q: %v", name, bucket, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("s3test: reading %q of bucket %q: %v", name, bucket, err)
	}
	return b
}

// Stat returns the object's size and Content-Type.
func (s *Server) Stat(t testing.TB, bucket, name string) (size int64, contentType string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.client.StatObject(ctx, bucket, name, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("s3test: stat %q of bucket %q: %v", name, bucket, err)
	}
	return info.Size, info.ContentType
}

// syncBuffer is a bytes.Buffer for a process's output, read while the
// process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
