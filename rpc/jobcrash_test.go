//go:build unix

package rpc_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/internal/clock"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

const jobCrashDirEnv = "STRMLOCAL_JOB_CRASH_DIR" // its presence makes the test the child

// TestJobCrashSafety SIGKILLs a server process while a batch exporter
// writes its files, restarts it on the same data dir, and checks that the
// job completes and that the exported events are the stream's, each once,
// in the same files a run without the crash writes.
func TestJobCrashSafety(t *testing.T) {
	if dir := os.Getenv(jobCrashDirEnv); dir != "" {
		jobCrashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	dir, out := t.TempDir(), t.TempDir()
	sb := strmtest.New(t, strmtest.WithDataDir(dir), strmtest.WithVirtualClock(t0))
	src := sb.CreateStream("demo")
	createConnector(t, sb, "dir", "local", map[string]any{"path": out})
	createJob(t, sb, &v1.Job{Kind: "batch-exporter", Stream: "demo", Config: config(t, map[string]any{"maxEventsPerFile": 250, "includeExistingEvents": true})})
	const events, perFile = 12000, 250
	for i := 0; i < events; i += 1000 {
		var batch []string
		for j := range 1000 {
			batch = append(batch, demo(fmt.Sprint("s", (i+j)%50), 0))
		}
		mustAccept(t, src.Send(demoSchema, batch...))
	}
	want := src.JSON()
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}

	exported := func() []string {
		names, _ := filepath.Glob(filepath.Join(out, "*.jsonl"))
		return names
	}
	// First life: killed once a few files are out.
	c := startJobCrashChild(t, dir)
	go func() {
		_, _ = c.Clock.AdvanceClock(context.Background(), connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(time.Minute)}))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for len(exported()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the job wrote %d files in 20s", len(exported()))
		}
		time.Sleep(time.Millisecond)
	}
	c.kill(t)
	before := len(exported())
	if before >= events/perFile {
		t.Fatalf("the job finished (%d files) before the kill: make the export longer", before)
	}

	// Second life: the job resumes from its plan and completes.
	c = startJobCrashChild(t, dir)
	if _, err := c.Clock.AdvanceClock(context.Background(), connect.NewRequest(&v1.AdvanceClockRequest{By: durationpb.New(time.Minute)})); err != nil {
		t.Fatal(err)
	}
	job, err := c.Jobs.GetJob(context.Background(), connect.NewRequest(&v1.GetJobRequest{Name: "dir-demo"}))
	if err != nil {
		t.Fatal(err)
	}
	if st := job.Msg.Job.Status; st.Lag != 0 || st.Cursor != events || st.LastError != "" {
		t.Errorf("after the restart: %v", st)
	}
	c.kill(t)

	names := exported()
	slices.Sort(names)
	if len(names) != events/perFile {
		t.Fatalf("%d files, want %d", len(names), events/perFile)
	}
	at := t0.Add(time.Minute).Format("2006-01-02T15:04:05")
	var got []string
	for i, n := range names {
		base := filepath.Base(n)
		wantName := at + "-stream-" + src.Uuid + "---0"
		if i > 0 {
			wantName += fmt.Sprintf("_%04d", i)
		}
		if base != wantName+".jsonl" {
			t.Fatalf("file %d is %s, want %s.jsonl", i, base, wantName)
		}
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exported %d lines, want the stream's %d, each once, in order", len(got), len(want))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	t.Logf("killed after %d of %d files", before, len(names))
}

type crashedServer struct {
	*client.Client
	cmd *exec.Cmd
}

func (c *crashedServer) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

func startJobCrashChild(t *testing.T, dir string) *crashedServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJobCrashSafety$")
	cmd.Env = append(os.Environ(), jobCrashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "serving "); ok {
			go func() {
				for lines.Scan() {
				}
			}()
			return &crashedServer{Client: client.New(url, client.Options{HTTPClient: strmtest.NewHTTPClient()}), cmd: cmd}
		}
	}
	t.Fatal("the child did not start")
	return nil
}

// jobCrashChild serves the data dir on a virtual clock at t0 until killed.
func jobCrashChild(dir string) {
	srv, err := rpc.New(rpc.Options{DataDir: dir, Clock: clock.NewVirtual(t0)})
	if err != nil {
		fmt.Println("child:", err)
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		err = srv.Start(lis)
	}
	if err != nil {
		fmt.Println("child:", err)
		os.Exit(2)
	}
	fmt.Println("serving", srv.URL())
	select {}
}
