package kafkatest

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a one-broker kfake cluster on a loopback port that stays the
// same across Stop and Start. kfake keeps everything in memory: a cluster
// started again is a new, empty cluster (no topics), as a broker that lost
// its disk.
type Broker struct {
	// Addr is 127.0.0.1:port.
	Addr string
	Port int

	opts []kfake.Opt
	mu   sync.Mutex
	c    *kfake.Cluster
}

// Reserve picks a free loopback port for a broker without starting it
// (a broker that is down when a test begins); Start starts it. The broker
// is closed when the test ends.
func Reserve(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kafkatest: pick a port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("kafkatest: pick a port: %v", err)
	}
	b := &Broker{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, opts: opts}
	t.Cleanup(b.close)
	return b
}

// Start returns a running broker on a free loopback port, with opts
// (kfake.EnableSASL, kfake.Superuser, ...).
func Start(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	b := Reserve(t, opts...)
	b.Start(t)
	return b
}

// Start starts the broker on its port: a new, empty cluster.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		t.Fatalf("kafkatest: broker %s is running already", b.Addr)
	}
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(b.Port), kfake.ClusterID("kafkatest")}, b.opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start a broker on %s: %v", b.Addr, err)
	}
	b.c = c
}

// Stop closes the broker, dropping every connection and everything it
// held.
func (b *Broker) Stop(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		t.Fatalf("kafkatest: broker %s is not running", b.Addr)
	}
	b.c.Close()
	b.c = nil
}

// Cluster is the running kfake cluster (nil when stopped).
func (b *Broker) Cluster() *kfake.Cluster {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.c
}

func (b *Broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// Message is one record of a topic as kcat prints it.
type Message struct {
	Key string
	// Headers are kcat's %h: name=value pairs joined by ',' (values are
	// printed as they are: a value with a ',' is not escaped).
	Headers string
	Value   string
}

// KcatFormat is the kcat format Kcat reads with: key, headers and value
// separated by a space, one record a line. Keys (key links) and headers
// hold no spaces; the value is the rest of the line.
const KcatFormat = "%k %h %s\n"

// Kcat reads every record of topic (one partition) from the beginning to
// its end with kcat, in offset order. A test that needs it fails when
// kcat is missing: `make test-deps` installs it.
func Kcat(t testing.TB, addr, topic string) []Message {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kafkatest: kcat is not installed (the Kafka tests read topics with it): run make test-deps, or install Debian's kcat package")
	}
	cmd := exec.Command(path, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-f", KcatFormat)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kafkatest: %s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	var out []Message
	for line := range strings.SplitSeq(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 {
			t.Fatalf("kafkatest: kcat printed %q: want key, headers and value separated by spaces", line)
		}
		out = append(out, Message{Key: f[0], Headers: f[1], Value: f[2]})
	}
	return out
}

// Headers is the %h kcat prints for these name/value pairs.
func Headers(pairs ...string) string {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("kafkatest: Headers(%q): want name/value pairs", pairs))
	}
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pairs[i] + "=" + pairs[i+1])
	}
	return b.String()
}
