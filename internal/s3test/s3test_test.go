package s3test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestServer(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint = %q, want http://127.0.0.1:PORT", s.Endpoint)
	}
	s.MakeBucket(t, "b-one")
	if fi, err := os.Stat(filepath.Join(s.Dir, "b-one")); err != nil || !fi.IsDir() {
		t.Errorf("the bucket is no directory in Dir: %v", err)
	}
	if got := s.List(t, "b-one", ""); got == nil || len(got) != 0 {
		t.Errorf("List of an empty bucket = %#v, want []string{}", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objects := map[string]string{"z.jsonl": "z", "a/2.jsonl": "2", "a/1.jsonl": "1", "b/x": ""}
	for name, body := range objects {
		if _, err := s.client.PutObject(ctx, "b-one", name, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("PutObject %s: %v", name, err)
		}
	}
	if got, want := s.List(t, "b-one", ""), []string{"a/1.jsonl", "a/2.jsonl", "b/x", "z.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	if got, want := s.List(t, "b-one", "a/"), []string{"a/1.jsonl", "a/2.jsonl"}; !slices.Equal(got, want) {
		t.Errorf("List a/ = %q, want %q", got, want)
	}
	if got := s.Get(t, "b-one", "a/2.jsonl"); !bytes.Equal(got, []byte("2")) {
		t.Errorf("Get = %q, want %q", got, "2")
	}

	// Stopped, it does not answer; restarted, it has what it had, on the
	// same endpoint.
	endpoint := s.Endpoint
	s.Stop(t)
	s.Stop(t) // stopping twice is fine
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := s.client.ListBuckets(short); err == nil {
		t.Errorf("ListBuckets of a stopped server: no error")
	}
	s.Restart(t)
	if s.Endpoint != endpoint {
		t.Errorf("Endpoint after Restart = %q, want %q", s.Endpoint, endpoint)
	}
	if got := s.Get(t, "b-one", "z.jsonl"); !bytes.Equal(got, []byte("z")) {
		t.Errorf("Get after Restart = %q, want %q", got, "z")
	}
	s.Restart(t) // restarting a running server is fine
	if size, _ := s.Stat(t, "b-one", "a/1.jsonl"); size != 1 {
		t.Errorf("Stat after a second Restart: size %d, want 1", size)
	}
}

// fatalTB records a Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestNoBinary: without versitygw, Start fails (it does not skip) and
// says what to run.
func TestNoBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() // only go on PATH
	if err := os.Symlink(goBin, filepath.Join(path, "go")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", path)
	t.Setenv("GOPATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(f)
	}()
	<-done
	if want := "s3test: versitygw is neither in $(go env GOPATH)/bin nor on PATH: run `make test-deps` to install versitygw " + Version; f.msg != want {
		t.Errorf("Start without versitygw: Fatalf(%q), want %q", f.msg, want)
	}
}
