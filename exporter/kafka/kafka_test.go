package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/kafka"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
)

func TestKafkaValidate(t *testing.T) {
	ok := []string{"127.0.0.1:9092"}
	for _, c := range []struct {
		cfg  kafka.Config
		want string
	}{
		{kafka.Config{BootstrapServers: ok}, ""},
		{kafka.Config{BootstrapServers: []string{"[::1]:9092", "kafka-1.internal:19092"}}, ""},
		{kafka.Config{}, "bootstrapServers: want at least one broker as host:port, got none"},
		{kafka.Config{BootstrapServers: []string{"h:9092", "h"}}, `bootstrapServers.1: want host:port (a [bracketed] IPv6 address), got "h"`},
		{kafka.Config{BootstrapServers: []string{":9092"}}, `bootstrapServers.0: want host:port (a [bracketed] IPv6 address), got ":9092"`},
		{kafka.Config{BootstrapServers: []string{"h:0"}}, `bootstrapServers.0: want a port from 1 to 65535, got "h:0"`},
		{kafka.Config{BootstrapServers: ok, SASLMechanism: "PLAIN", Username: "u", Password: "pw-42"}, `saslMechanism: want plain, scram-sha-256 or scram-sha-512, got "PLAIN"`},
		{kafka.Config{BootstrapServers: ok, SASLMechanism: "scram-sha-512", Password: "pw-42"}, "username: SASL scram-sha-512 needs a username, got none"},
		{kafka.Config{BootstrapServers: ok, SASLMechanism: "scram-sha-512", Username: "u"}, "password: SASL scram-sha-512 needs a password, got none"},
		{kafka.Config{BootstrapServers: ok, Password: "pw-42"}, "saslMechanism: a username or password needs a SASL mechanism: plain, scram-sha-256 or scram-sha-512"},
		{kafka.Config{BootstrapServers: ok, CAPEM: "x"}, "caPem: a CA certificate is for TLS: set tls too"},
		{kafka.Config{BootstrapServers: ok, TLS: true, CAPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "caPem: want PEM CERTIFICATE blocks, got a PRIVATE KEY block"},
	} {
		err := c.cfg.Validate()
		if got := fmt.Sprint(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), c.cfg.Password) && c.cfg.Password != "" {
			t.Errorf("the message shows the password: %v", err)
		}
	}
}

// selfSigned is a CA certificate for 127.0.0.1 and its PEM text.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafkatest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func testCluster(t *testing.T, c kafka.Config) (string, error) {
	t.Helper()
	cl, err := kafka.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return cl.Test(context.Background())
}

func wantError(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	var e *exporter.Error
	if !errors.As(err, &e) || !errors.Is(err, kind) || err.Error() != msg {
		t.Errorf("got  %v (%T)\nwant %s (%v)", err, err, msg, kind)
	}
}

// TLS: with the CA a broker's certificate checks; without it, or against
// a listener of the other kind, the error says what is wrong.
func TestKafkaTLS(t *testing.T) {
	cert, caPEM := selfSigned(t)
	b := kafkatest.Start(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	got, err := testCluster(t, kafka.Config{BootstrapServers: []string{b.Addr}, TLS: true, CAPEM: caPEM})
	if want := fmt.Sprintf(`connected to %s: 1 broker, cluster "kafkatest", controller 0`, b.Addr); err != nil || got != want {
		t.Errorf("test: %q %v, want %q", got, err, want)
	}
	_, err = testCluster(t, kafka.Config{BootstrapServers: []string{b.Addr}, TLS: true})
	wantError(t, err, exporter.ErrRefused, fmt.Sprintf("Kafka at %s: TLS handshake with %s: tls: failed to verify certificate: x509: certificate signed by unknown authority: give the certificate of the CA that signed the broker's (caPem)", b.Addr, b.Addr))
	_, err = testCluster(t, kafka.Config{BootstrapServers: []string{b.Addr}})
	wantError(t, err, exporter.ErrRefused, fmt.Sprintf("Kafka at %s: broker closed the connection immediately during api versions negotiation, which often happens when the broker requires TLS but the client is using plaintext: is TLS missing?", b.Addr))

	// A plaintext listener that drops what it cannot parse (as Kafka
	// does with a TLS hello: far too large a request).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = io.Copy(io.Discard, c) // all of it: unread bytes would make the close a reset
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	_, err = testCluster(t, kafka.Config{BootstrapServers: []string{addr}, TLS: true})
	wantError(t, err, exporter.ErrRefused, fmt.Sprintf("Kafka at %s: TLS handshake with %s: the broker does not speak TLS (EOF): unset tls, or use the broker's TLS listener", addr, addr))
}

// Publish writes key, value, headers and timestamp, in order, whatever the
// age of the timestamps (events accepted long ago); a message larger than
// the broker takes fails for good.
func TestKafkaPublish(t *testing.T) {
	ctx := context.Background()
	b := kafkatest.Start(t)
	cl, err := kafka.New(kafka.Config{BootstrapServers: []string{b.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Publisher(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, want := p.String(), fmt.Sprintf(`Kafka topic "events" at %s`, b.Addr); got != want {
		t.Errorf("String %s, want %s", got, want)
	}
	at := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Millisecond) // an old event
	var msgs []exporter.Message
	for i := range 50 {
		msgs = append(msgs, exporter.Message{Key: fmt.Sprint("k", i%3), Value: fmt.Appendf(nil, `{"n":%d}`, i),
			Attrs: []exporter.Attr{{Key: "a", Value: fmt.Sprint(i)}, {Key: "b", Value: ""}}, Time: at.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := p.Publish(ctx, msgs[:20]); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, msgs[20:]); err != nil {
		t.Fatal(err)
	}
	// A second publisher finds the topic there.
	p2, err := cl.Publisher(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	p2.Close()

	c, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var recs []*kgo.Record
	for len(recs) < len(msgs) {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		f := c.PollFetches(fctx)
		cancel()
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, f.Records()...)
	}
	for i, r := range recs {
		m := msgs[i]
		if string(r.Key) != m.Key || string(r.Value) != string(m.Value) || !r.Timestamp.Equal(m.Time) || r.Offset != int64(i) ||
			len(r.Headers) != 2 || r.Headers[0].Key != "a" || string(r.Headers[0].Value) != m.Attrs[0].Value || r.Headers[1].Key != "b" || len(r.Headers[1].Value) != 0 {
			t.Errorf("record %d: %+v, want %+v", i, r, m)
		}
	}

	err = p.Publish(ctx, []exporter.Message{{Key: "big", Value: make([]byte, 2<<20)}})
	wantError(t, err, exporter.ErrPermanent, fmt.Sprintf(`Kafka topic "events" at %s: produce 1 message: MESSAGE_TOO_LARGE: The request included a message larger than the max message size the server will accept (uncompressed_bytes=2097155)`, b.Addr))
}

// While the broker is down, a Publish stops as soon as its context ends
// (pausing or deleting a job must not wait for the broker).
func TestKafkaPublishStopsWithContext(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kafka.New(kafka.Config{BootstrapServers: []string{b.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Publisher(context.Background(), "events")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.Publish(ctx, []exporter.Message{{Value: []byte("x")}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("publish: %v after %v, want the context's error at once", err, time.Since(start))
	}
	start = time.Now()
	p.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v", d)
	}
}

// Errors name the brokers and never the password.
func TestKafkaErrors(t *testing.T) {
	const pw = "the-password-123"
	b := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "alice", pw))
	_, err := testCluster(t, kafka.Config{BootstrapServers: []string{b.Addr}, SASLMechanism: "scram-sha-512", Username: "alice", Password: pw + "x"})
	wantError(t, err, exporter.ErrRefused, fmt.Sprintf(`Kafka at %s: SASL SCRAM-SHA-512 authentication as "alice" failed: the broker closed the connection (wrong username, password or mechanism)`, b.Addr))
	got, err := testCluster(t, kafka.Config{BootstrapServers: []string{b.Addr}, SASLMechanism: "scram-sha-512", Username: "alice", Password: pw})
	if err != nil || !strings.HasSuffix(got, `; authenticated as "alice" (SASL SCRAM-SHA-512)`) {
		t.Errorf("test: %q %v", got, err)
	}
	_, err = testCluster(t, kafka.Config{BootstrapServers: []string{"127.0.0.1:1", "127.0.0.1:2"}})
	if !errors.Is(err, exporter.ErrUnavailable) || !strings.HasPrefix(err.Error(), "Kafka at 127.0.0.1:1,127.0.0.1:2: dial tcp 127.0.0.1:") {
		t.Errorf("unreachable: %v", err)
	}
	cl, err := kafka.New(kafka.Config{BootstrapServers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Publisher(context.Background(), "t")
	wantError(t, err, exporter.ErrUnavailable, `Kafka at 127.0.0.1:1: describe topic "t": dial tcp 127.0.0.1:1: connect: connection refused`)
}
