//go:build unix

package rpc_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/rpc"
	"github.com/strmlocal/strmlocal/strmtest"
)

const (
	pipeCrashDirEnv   = "STRMLOCAL_PIPE_CRASH_DIR" // its presence makes the test the child
	pipeCrashCredsEnv = "STRMLOCAL_PIPE_CRASH_CREDS"
	pipeCrashCycleEnv = "STRMLOCAL_PIPE_CRASH_CYCLE"
	pipeCrashCycles   = 5
)

// TestPipelineCrashSafety kills a server with SIGKILL while producers send
// demo events to it, restarts it on the same data dir, and checks that every
// event the producers saw acknowledged is in the stream exactly once, at its
// offset, and decrypts in a derived stream (its key survived too).
func TestPipelineCrashSafety(t *testing.T) {
	if dir := os.Getenv(pipeCrashDirEnv); dir != "" {
		pipeCrashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	dir := t.TempDir()
	// Create the streams first; the children only send.
	sb := strmtest.New(t, strmtest.WithDataDir(dir))
	src := sb.CreateStream("demo")
	creds := src.Credentials.ClientId + ":" + src.Credentials.ClientSecret
	if err := sb.Server.Close(); err != nil {
		t.Fatal(err)
	}

	acked := map[uint64]string{} // offset → session of the event
	for cycle := range pipeCrashCycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineCrashSafety$")
		cmd.Env = append(os.Environ(), pipeCrashDirEnv+"="+dir, pipeCrashCredsEnv+"="+creds, pipeCrashCycleEnv+"="+strconv.Itoa(cycle))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var n int
		deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
		for lines.Scan() {
			// "ack <offset> <session>"
			f := strings.Fields(lines.Text())
			if len(f) != 3 || f[0] != "ack" {
				continue
			}
			off, _ := strconv.ParseUint(f[1], 10, 64)
			if prev, dup := acked[off]; dup {
				t.Fatalf("cycle %d: offset %d acknowledged twice (%s, %s)", cycle, off, prev, f[2])
			}
			acked[off] = f[2]
			if n++; n == 200+cycle*37 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		deadline.Stop()
		_ = cmd.Wait()
		if n == 0 {
			t.Fatalf("cycle %d: the child acknowledged nothing", cycle)
		}
	}

	sb = strmtest.New(t, strmtest.WithDataDir(dir))
	id, secret, _ := strings.Cut(creds, ":")
	egress := strmlocalv1connect.NewEgressServiceClient(sb.HTTPClient, sb.URL, connect.WithInterceptors(strmtest.BasicAuth(id, secret)))
	// Decrypt through a fresh derived stream: its credentials are at hand.
	derivedCreds := sb.CreateStreamWith(&v1.CreateStreamRequest{Name: "check", DerivedFrom: "demo", Levels: []int32{3}}).Stream
	derived := strmlocalv1connect.NewEgressServiceClient(sb.HTTPClient, sb.URL,
		connect.WithInterceptors(strmtest.BasicAuth(derivedCreds.Credentials.ClientId, derivedCreds.Credentials.ClientSecret)))
	read := func(c strmlocalv1connect.EgressServiceClient) map[uint64]*v1.Record {
		recs := map[uint64]*v1.Record{}
		for from := uint64(0); ; {
			res, err := c.ReadEvents(context.Background(), connect.NewRequest(&v1.ReadEventsRequest{FromOffset: from, Limit: 10000}))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Msg.Records {
				if recs[r.Offset] != nil {
					t.Fatalf("offset %d read twice", r.Offset)
				}
				recs[r.Offset] = r
			}
			if res.Msg.NextOffset >= res.Msg.EndOffset {
				return recs
			}
			from = res.Msg.NextOffset
		}
	}
	all, plain := read(egress), read(derived)
	for off, session := range acked {
		if all[off] == nil {
			t.Fatalf("acknowledged event at offset %d (%s) is missing", off, session)
		}
		if got := fields(t, plain[off].Json)["consistentValue"]; got != session {
			t.Fatalf("offset %d decrypts to %v, want %s", off, got, session)
		}
	}
	t.Logf("%d cycles, %d acknowledged events, %d stored", pipeCrashCycles, len(acked), len(all))
}

// pipeCrashChild serves on the data dir and sends events from 8 producers,
// printing every acknowledgement, until it is killed.
func pipeCrashChild(dir string) {
	srv, err := rpc.New(rpc.Options{DataDir: dir})
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
	id, secret, _ := strings.Cut(os.Getenv(pipeCrashCredsEnv), ":")
	client := strmlocalv1connect.NewEventServiceClient(strmtest.NewHTTPClient(), srv.URL(), connect.WithInterceptors(strmtest.BasicAuth(id, secret)))
	cycle := os.Getenv(pipeCrashCycleEnv)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				var events [][]byte
				var sessions []string
				for j := range 4 {
					s := fmt.Sprintf("c%s-p%d-%d-%d", cycle, p, i, j)
					sessions = append(sessions, s)
					events = append(events, []byte(demo(s, 3)))
				}
				res, err := client.SendEvents(context.Background(), connect.NewRequest(&v1.SendEventsRequest{
					SchemaRef: demoSchema, Serialization: v1.Serialization_SERIALIZATION_JSON, Events: events,
				}))
				if err != nil {
					fmt.Println("child:", err)
					os.Exit(2)
				}
				mu.Lock()
				for j, r := range res.Msg.Results {
					fmt.Printf("ack %d %s\n", r.Offset, sessions[j])
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
