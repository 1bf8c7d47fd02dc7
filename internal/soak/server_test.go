//go:build soak

package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// server is the strmlocal binary under test: one process at a time, on one
// address and one data directory, killed and started again by the test.
type server struct {
	bin, dataDir, addr string
	log                *os.File // the server's stdout and stderr, all incarnations

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	up   chan struct{} // closed once the current incarnation is ready
	gen  int           // incarnation; moves when the server is taken down

	starts, kills int
	maxRSS        atomic.Int64 // bytes, over every sample of every incarnation
	rssSamples    atomic.Int64
}

// buildBinary builds cmd/strmlocal into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "strmlocal")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/strmlocal")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address nothing listens on now. The server
// keeps it across restarts, so clients need not learn a new one.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *server) url() string { return "http://" + s.addr }

// start runs a new incarnation on the same data directory and returns once
// it answers GET /ready.
func (s *server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, "serve", "--data-dir", s.dataDir, "--clock", "virtual", "--addr", s.addr)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// Keep the user's configuration out of it.
	home := filepath.Join(filepath.Dir(s.dataDir), "home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	fmt.Fprintf(s.log, "--- soak: start %d\n", s.starts+1)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	go s.sampleRSS(cmd.Process.Pid, done)

	ready := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := ready.Get(s.url() + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			return fmt.Errorf("server exited during start-up (%v); see its log", cmd.ProcessState)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return errors.New("server not ready within 60s")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd, s.done = cmd, done
	s.starts++
	close(s.up)
	return nil
}

// down marks the server as going down: requests started from now on wait
// for the next incarnation, and errors of requests started before it are
// expected. REQUIRES: s.mu held.
func (s *server) down() {
	s.gen++
	s.up = make(chan struct{})
}

// kill SIGKILLs the current incarnation and waits for it to exit.
func (s *server) kill() {
	s.mu.Lock()
	s.down()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	if cmd != nil {
		s.kills++
	}
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop asks the current incarnation to shut down (SIGTERM) and reports how
// it exited; after 30 s it is killed.
func (s *server) stop() error {
	s.mu.Lock()
	s.down()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("server did not stop within 30s of SIGTERM")
	}
	if !cmd.ProcessState.Success() {
		return fmt.Errorf("server exited with %v after SIGTERM", cmd.ProcessState)
	}
	return nil
}

// current returns the incarnation and a channel closed once it is ready.
func (s *server) current() (gen int, up <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, s.up
}

// waitUp waits until the server is ready and returns its incarnation.
func (s *server) waitUp(ctx context.Context) (int, error) {
	gen, up := s.current()
	select {
	case <-up:
		return gen, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// wentDown reports whether the server has been taken down since
// incarnation gen was ready: an error of a request sent to gen is then to
// be expected.
func (s *server) wentDown(gen int) bool {
	now, _ := s.current()
	return now != gen
}

// sampleRSS records the resident set size of pid every 100 ms until done.
func (s *server) sampleRSS(pid int, done <-chan struct{}) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if rss, ok := readRSS(path); ok {
			s.rssSamples.Add(1)
			for {
				old := s.maxRSS.Load()
				if rss <= old || s.maxRSS.CompareAndSwap(old, rss) {
					break
				}
			}
		}
	}
}

// readRSS reads VmRSS from a /proc/PID/status file, in bytes.
func readRSS(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}

// logTail returns the last n lines of the server's log.
func (s *server) logTail(n int) string {
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
