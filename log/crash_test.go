//go:build unix

package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strmlocal/strmlocal/internal/store"
)

const (
	crashChildEnv = "STRMLOCAL_CRASH_CHILD" // data dir; its presence makes the test the child
	crashCycleEnv = "STRMLOCAL_CRASH_CYCLE" // cycle number, part of every value the child writes
	crashSeedEnv  = "STRMLOCAL_CRASH_SEED"  // repeats a run's kill delays

	crashCycles   = 20
	crashWriters  = 16
	crashStreams  = 3 // streams 1..crashStreams
	crashMaxBatch = 8 // records per append: 1..crashMaxBatch
	crashValueLen = 300
	crashMinDelay = 30 * time.Millisecond  // kill delay after the child's first acknowledgement
	crashMaxDelay = 150 * time.Millisecond // exclusive
)

// crashPos is one record's place in the log.
type crashPos struct {
	stream StreamID
	offset uint64
}

// crashAck is one record the child saw acknowledged: the record's Meta is id
// and its Value is crashValue(id).
type crashAck struct {
	pos crashPos
	id  string
}

// TestCrashSafety runs its own test binary as a child process that appends
// until it is killed with SIGKILL, then reopens the data dir and checks that
// every append the child saw acknowledged is there, exactly once, with its
// value, and that the log is dense and passes Check. It repeats that on one
// data dir, so each child continues the streams of the one before.
//
// A killed process loses what it had not handed to the kernel, so this
// catches acknowledging before the WAL write, torn or reordered groups, and
// recovery that loses or duplicates records; it cannot catch a missing fsync
// (that needs the machine, not the process, to crash).
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir, os.Getenv(crashCycleEnv))
	}
	if testing.Short() {
		t.Skip("skipped in -short mode: kills and restarts a child process 20 times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
	}
	t.Logf("seed %d (set %s=%d to repeat the kill delays)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	dir := t.TempDir()
	var lg crashLedger
	for cycle := range crashCycles {
		delay := crashMinDelay + time.Duration(rng.Int64N(int64(crashMaxDelay-crashMinDelay)))
		for _, a := range runCrashCycle(t, dir, cycle, delay) {
			if err := lg.ack(a); err != nil {
				t.Fatalf("cycle %d: %v", cycle, err)
			}
		}
		lg.verify(t, dir, cycle)
	}
	t.Logf("%d cycles: %d records acknowledged, %d records found (%d durable but unacknowledged when killed)",
		crashCycles, lg.acks, len(lg.seen), len(lg.seen)-lg.acks)
}

// runCrashCycle starts a child on dir, kills it delay after its first
// acknowledgement and returns every acknowledgement it printed.
func runCrashCycle(t *testing.T, dir string, cycle int, delay time.Duration) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle))
	sink := &ackSink{first: make(chan struct{})}
	var stderr bytes.Buffer // written by exec's copier; read only after Wait
	cmd.Stdout, cmd.Stderr = sink, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case <-sink.first:
	case err := <-exited:
		t.Fatalf("cycle %d: child exited before acknowledging an append (%v); stderr:\n%s", cycle, err, &stderr)
	case <-timeout.C:
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("cycle %d: child acknowledged nothing within 30s; stderr:\n%s", cycle, &stderr)
	}
	kill := time.NewTimer(delay)
	defer kill.Stop()
	select {
	case <-kill.C:
	case err := <-exited:
		t.Fatalf("cycle %d: child exited before it was killed (%v); stderr:\n%s", cycle, err, &stderr)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("cycle %d: child ended with %v, want killed by SIGKILL; stderr:\n%s", cycle, err, &stderr)
	}
	acks, err := sink.result()
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	return acks
}

// crashLedger is what the parent knows about the log across cycles.
type crashLedger struct {
	acked [crashStreams + 1][]string // stream → offset → acknowledged id ("" if none)
	acks  int                        // acknowledged records
	known [crashStreams + 1][]string // stream → offset → id found after the last crash
	seen  map[string]crashPos        // every id in known → where
}

func (lg *crashLedger) ack(a crashAck) error {
	s := &lg.acked[a.pos.stream]
	if n := a.pos.offset + 1; uint64(len(*s)) < n {
		*s = append(*s, make([]string, n-uint64(len(*s)))...)
	}
	if prev := (*s)[a.pos.offset]; prev != "" {
		return fmt.Errorf("stream %d offset %d acknowledged for %s, but it was acknowledged for %s before",
			a.pos.stream, a.pos.offset, a.id, prev)
	}
	(*s)[a.pos.offset] = a.id
	lg.acks++
	return nil
}

// verify reopens dir and checks every stream against what was acknowledged
// and what the previous reopen found, then closes it.
func (lg *crashLedger) verify(t *testing.T, dir string, cycle int) {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatalf("cycle %d: reopen: %v", cycle, err)
	}
	l, err := Open(st.DB, Options{ReadBytes: math.MaxInt}) // verify reads each stream whole
	if err != nil {
		t.Fatalf("cycle %d: reopen: %v", cycle, err)
	}
	defer func() {
		if err := errors.Join(l.Close(), st.Close()); err != nil {
			t.Errorf("cycle %d: close: %v", cycle, err)
		}
	}()
	if lg.seen == nil {
		lg.seen = map[string]crashPos{}
	}

	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	var found [crashStreams + 1][]string
	for id := StreamID(1); id <= crashStreams; id++ {
		first, next, err := l.Bounds(id)
		if err != nil {
			t.Fatalf("cycle %d: Bounds(%d): %v", cycle, id, err)
		}
		if first != 0 {
			bad("stream %d: first offset %d, want 0 (nothing is trimmed)", id, first)
		}
		// Ask for one more than Bounds reports: Read must stop at next.
		recs, err := l.Read(id, 0, int(next)+1)
		if err != nil {
			t.Fatalf("cycle %d: Read(%d): %v", cycle, id, err)
		}
		if uint64(len(recs)) != next {
			bad("stream %d: Read returned %d records, Bounds says [%d, %d)", id, len(recs), first, next)
		}
		known := lg.known[id]
		ids := make([]string, len(recs))
		for i, r := range recs {
			if r.Offset != uint64(i) {
				bad("stream %d: record %d has offset %d", id, i, r.Offset)
			}
			if !isCrashValue(r.Meta, r.Value) {
				bad("stream %d offset %d: value %.40q… does not match its meta %q", id, r.Offset, r.Value, r.Meta)
			}
			// A record found after an earlier crash was durable: it must
			// never change. Only records new since then can duplicate.
			if i < len(known) && string(r.Meta) == known[i] {
				ids[i] = known[i]
				continue
			}
			if i < len(known) {
				bad("stream %d offset %d: holds %s, but held %s after the previous crash", id, i, r.Meta, known[i])
			}
			ids[i] = string(r.Meta)
			if prev, ok := lg.seen[ids[i]]; ok {
				bad("%s appears twice: stream %d offset %d and stream %d offset %d",
					ids[i], prev.stream, prev.offset, id, r.Offset)
			}
			lg.seen[ids[i]] = crashPos{id, r.Offset}
		}
		if len(ids) < len(known) {
			bad("stream %d: ends at %d, but offsets up to %d were found after the previous crash", id, len(ids), len(known))
		}
		for off, want := range lg.acked[id] {
			switch {
			case want == "":
			case off >= len(ids):
				bad("stream %d offset %d: acknowledged for %s, but missing", id, off, want)
			case ids[off] != want:
				bad("stream %d offset %d: acknowledged for %s, but holds %s", id, off, want, ids[off])
			}
		}
		found[id] = ids
	}
	if err := l.Check(); err != nil {
		bad("Check: %v", err)
	}
	if len(problems) > 0 {
		const show = 10
		more := ""
		if len(problems) > show {
			more = fmt.Sprintf("\n… and %d more", len(problems)-show)
			problems = problems[:show]
		}
		t.Fatalf("cycle %d: after SIGKILL:\n%s%s", cycle, strings.Join(problems, "\n"), more)
	}
	lg.known = found
}

// ackSink parses the child's stdout as exec copies it: one line per
// acknowledged record, "ack <stream> <offset> <id>".
type ackSink struct {
	first chan struct{} // closed on the first acknowledgement

	mu   sync.Mutex
	buf  []byte // a line not yet complete
	acks []crashAck
	err  error // the first malformed line
}

func (s *ackSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	rest := s.buf
	for {
		line, after, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			break
		}
		rest = after
		a, err := parseAck(string(line))
		if err != nil {
			if s.err == nil {
				s.err = err
			}
			continue
		}
		if len(s.acks) == 0 {
			close(s.first)
		}
		s.acks = append(s.acks, a)
	}
	s.buf = s.buf[:copy(s.buf, rest)]
	return len(p), nil
}

// result returns the acknowledgements once the child is gone. The child
// writes whole lines in one write of less than PIPE_BUF bytes, so a partial
// last line means its output was torn.
func (s *ackSink) result() ([]crashAck, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return nil, s.err
	case len(s.buf) > 0:
		return nil, fmt.Errorf("child output ends in a partial line %q", s.buf)
	}
	return s.acks, nil
}

func parseAck(line string) (crashAck, error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ack" {
		return crashAck{}, fmt.Errorf("unexpected child output line %q", line)
	}
	stream, err1 := strconv.ParseUint(f[1], 10, 64)
	offset, err2 := strconv.ParseUint(f[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil || stream < 1 || stream > crashStreams {
		return crashAck{}, fmt.Errorf("malformed child output line %q", line)
	}
	return crashAck{pos: crashPos{StreamID(stream), offset}, id: f[3]}, nil
}

// crashValue is the value stored with id: id and '|', repeated to
// crashValueLen bytes.
func crashValue(id string) []byte {
	unit := id + "|"
	return []byte(strings.Repeat(unit, crashValueLen/len(unit)+1)[:crashValueLen])
}

// isCrashValue reports whether v is crashValue(id), without allocating.
func isCrashValue(id, v []byte) bool {
	if len(v) != crashValueLen {
		return false
	}
	n := len(id) + 1
	for i, b := range v {
		want := byte('|')
		if j := i % n; j < len(id) {
			want = id[j]
		}
		if b != want {
			return false
		}
	}
	return true
}

// runCrashChild is the child process: crashWriters goroutines append to the
// log in dir until the process is killed, each printing its records once
// Append has acknowledged them. It never returns.
func runCrashChild(dir, cycle string) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		os.Exit(3)
	}
	c, err := strconv.Atoi(cycle)
	if err != nil {
		fail("%s=%q: %v", crashCycleEnv, cycle, err)
	}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		fail("%v", err)
	}
	l, err := Open(st.DB, Options{ReadBytes: math.MaxInt}) // verify reads each stream whole
	if err != nil {
		fail("%v", err)
	}
	for w := range crashWriters {
		go func() {
			var out []byte
			for seq := 0; ; seq++ {
				stream := StreamID(1 + (w+seq)%crashStreams)
				recs := make([]Record, 1+(w*7+seq*3)%crashMaxBatch)
				for i := range recs {
					id := fmt.Sprintf("c%02d.w%02d.a%06d.r%d", c, w, seq, i)
					recs[i] = Record{Meta: []byte(id), Value: crashValue(id)}
				}
				first, err := l.Append(context.Background(), stream, recs)
				if err != nil {
					fail("append: %v", err)
				}
				out = out[:0]
				for i, r := range recs {
					if r.Offset != first+uint64(i) {
						fail("append returned first %d but record %d has offset %d", first, i, r.Offset)
					}
					out = fmt.Appendf(out, "ack %d %d %s\n", stream, r.Offset, r.Meta)
				}
				// One write per append, under PIPE_BUF: lines never
				// interleave or tear, and the parent sees them only
				// after Append returned.
				if _, err := os.Stdout.Write(out); err != nil {
					fail("write stdout: %v", err)
				}
			}
		}()
	}
	select {}
}
