package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strmlocal/strmlocal/exporter"
)

// Config is the config of a kafka connector.
type Config struct {
	// BootstrapServers are the brokers first asked for the cluster's
	// metadata, as host:port; the client learns the others from them.
	BootstrapServers []string `json:"bootstrapServers"`
	// SASLMechanism is "plain", "scram-sha-256" or "scram-sha-512"; empty
	// for no authentication. It needs Username and Password.
	SASLMechanism string `json:"saslMechanism,omitempty"`
	Username      string `json:"username,omitempty"`
	// Password is the SASL password; it is in no message.
	Password string `json:"password,omitempty"`
	// TLS dials the brokers with TLS, checking their certificates against
	// the system's roots or CAPEM.
	TLS bool `json:"tls"`
	// CAPEM is the certificate (PEM text) of the CA the brokers'
	// certificates are checked against instead of the system's roots.
	CAPEM string `json:"caPem,omitempty"`
}

// Schema is the JSON Schema of Config. Validate checks the rest.
const Schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "kafka data connector",
  "type": "object",
  "additionalProperties": false,
  "required": ["bootstrapServers"],
  "properties": {
    "bootstrapServers": {
      "type": "array",
      "minItems": 1,
      "maxItems": 100,
      "items": {"type": "string", "pattern": "^[^\\s/@,]+:[0-9]{1,5}$"},
      "description": "The brokers first asked for the cluster's metadata, as host:port, e.g. [\"127.0.0.1:9092\"]; the client learns the other brokers from them."
    },
    "saslMechanism": {
      "type": "string",
      "enum": ["plain", "scram-sha-256", "scram-sha-512"],
      "description": "The SASL mechanism to authenticate with; omit it for none. It needs username and password."
    },
    "username": {
      "type": "string",
      "description": "The SASL user name."
    },
    "password": {
      "type": "string",
      "description": "The SASL password; a secret, never shown."
    },
    "tls": {
      "type": "boolean",
      "description": "Dial the brokers with TLS, checking their certificates against the system's roots or caPem."
    },
    "caPem": {
      "type": "string",
      "description": "The certificate of the CA that signed the brokers' certificates, as PEM text, checked instead of the system's roots; needs tls."
    }
  }
}`

// Secrets are the secret fields of Config, by their JSON names.
var Secrets = []string{"password"}

// The SASL mechanisms of Config.SASLMechanism.
const (
	MechanismPlain       = "plain"
	MechanismSCRAMSHA256 = "scram-sha-256"
	MechanismSCRAMSHA512 = "scram-sha-512"
)

// Validate checks what the schema cannot. Its messages name the field and
// never show the password.
func (c Config) Validate() error {
	if len(c.BootstrapServers) == 0 {
		return errors.New("bootstrapServers: want at least one broker as host:port, got none")
	}
	for i, s := range c.BootstrapServers {
		if err := checkHostPort(s); err != nil {
			return fmt.Errorf("bootstrapServers.%d: %w", i, err)
		}
	}
	switch c.SASLMechanism {
	case "":
		if c.Username != "" || c.Password != "" {
			return errors.New("saslMechanism: a username or password needs a SASL mechanism: plain, scram-sha-256 or scram-sha-512")
		}
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if c.Username == "" {
			return fmt.Errorf("username: SASL %s needs a username, got none", c.SASLMechanism)
		}
		if c.Password == "" {
			return fmt.Errorf("password: SASL %s needs a password, got none", c.SASLMechanism)
		}
	default:
		return fmt.Errorf("saslMechanism: want plain, scram-sha-256 or scram-sha-512, got %q", c.SASLMechanism)
	}
	if c.CAPEM != "" {
		if !c.TLS {
			return errors.New("caPem: a CA certificate is for TLS: set tls too")
		}
		if _, err := certPool(c.CAPEM); err != nil {
			return fmt.Errorf("caPem: %w", err)
		}
	}
	return nil
}

// checkHostPort checks one bootstrap server.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, " \t/@,") {
		return fmt.Errorf("want host:port (a [bracketed] IPv6 address), got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want a port from 1 to 65535, got %q", s)
	}
	return nil
}

// certPool is the pool of the certificates in pemText: at least one.
func certPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(pemText)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("want PEM CERTIFICATE blocks, got a %s block", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("want a PEM certificate (-----BEGIN CERTIFICATE-----), found none")
	}
	return pool, nil
}

// Timeouts and retries of the clients: a few tries for a blip, then an
// error, and the job's own retry (with its backoff) takes over.
const (
	dialTimeout = 10 * time.Second
	// handshakeTimeout bounds a TLS handshake: a plaintext listener reads
	// the client's hello as the start of a request and never answers.
	handshakeTimeout = 10 * time.Second
	// requestRetries is how many times a metadata or admin request is
	// tried (franz-go's default is 20 within 30 s).
	requestRetries = 3
	retryTimeout   = 15 * time.Second
	// metadataMinAge is the least time between two metadata requests
	// (franz-go's default is 5 s). A topic the brokers do not know (a
	// broker that lost its data, a topic deleted) fails the messages after
	// four metadata requests: a few seconds, not twenty.
	metadataMinAge = time.Second
	// ackTimeout bounds how long Publish waits for the brokers to
	// acknowledge its messages while they cannot be reached; then it fails,
	// the producer is closed and the job retries with a new one. (Not
	// franz-go's RecordDeliveryTimeout: that counts from a record's
	// timestamp, and an exported event keeps the time it was accepted.)
	ackTimeout = 15 * time.Second
	// maxBufferedBytes bounds what a producer holds: a Publish of a
	// bounded batch never reaches it; it is a backstop.
	maxBufferedBytes = 256 << 20
)

// Cluster is a Kafka cluster as a Config describes it. It holds no
// connection: Test and Publisher connect.
type Cluster struct {
	servers   string // the bootstrap servers, for messages
	user      string
	mechanism string
	opts      []kgo.Opt
}

// New returns the cluster of c; it connects nowhere.
func New(c Config) (*Cluster, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cl := &Cluster{servers: strings.Join(c.BootstrapServers, ","), user: c.Username, mechanism: c.SASLMechanism}
	var tc *tls.Config
	if c.TLS {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAPEM != "" {
			tc.RootCAs, _ = certPool(c.CAPEM) // checked by Validate
		}
	}
	cl.opts = []kgo.Opt{
		kgo.SeedBrokers(c.BootstrapServers...),
		kgo.Dialer(dialer(tc)),
		kgo.RequestRetries(requestRetries),
		kgo.RetryTimeout(retryTimeout),
		kgo.ClientID("strmlocal"),
		kgo.MetadataMinAge(metadataMinAge),
	}
	if c.SASLMechanism != "" {
		var m sasl.Mechanism
		switch c.SASLMechanism {
		case MechanismPlain:
			m = plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism()
		case MechanismSCRAMSHA256:
			m = scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism()
		case MechanismSCRAMSHA512:
			m = scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism()
		}
		cl.opts = append(cl.opts, kgo.SASL(m))
	}
	return cl, nil
}

func (c *Cluster) String() string { return "Kafka at " + c.servers }

// client is a franz-go client and what its hooks saw.
type client struct {
	*kgo.Client
	c *Cluster
	// saslClosed is set when a broker closed the connection during SASL
	// authentication: what Kafka does when the credentials are wrong.
	saslClosed atomic.Bool
	// lastNetErr is the last error of a connection to a broker, for a
	// Publish that timed out waiting.
	lastNetErr atomic.Pointer[error]
}

// OnBrokerConnect is kgo.HookBrokerConnect.
func (cl *client) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		cl.lastNetErr.Store(&err)
	}
}

// OnBrokerWrite is kgo.HookBrokerWrite.
func (cl *client) OnBrokerWrite(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		cl.lastNetErr.Store(&err)
	}
}

// OnBrokerRead is kgo.HookBrokerRead.
func (cl *client) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		return
	}
	cl.lastNetErr.Store(&err)
	const saslHandshake, saslAuthenticate = 17, 36
	if (key == saslHandshake || key == saslAuthenticate) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		cl.saslClosed.Store(true)
	}
}

func (c *Cluster) newClient(extra ...kgo.Opt) (*client, error) {
	cl := &client{c: c}
	opts := append(append(c.opts[:len(c.opts):len(c.opts)], kgo.WithHooks(cl)), extra...)
	k, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, (&client{c: c}).fail("", "", err)
	}
	cl.Client = k
	return cl, nil
}

// Test asks the cluster for its metadata and says what it found:
// `connected to 127.0.0.1:9092: 1 broker, cluster "kfake", controller 0`.
func (c *Cluster) Test(ctx context.Context) (string, error) {
	cl, err := c.newClient()
	if err != nil {
		return "", err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl.Client).BrokerMetadata(ctx)
	if err != nil {
		return "", ctxOr(ctx, cl.fail("", "", err))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "connected to %s: %d broker", c.servers, len(md.Brokers))
	if len(md.Brokers) != 1 {
		b.WriteString("s")
	}
	if md.Cluster != "" {
		fmt.Fprintf(&b, ", cluster %q", md.Cluster)
	}
	if md.Controller >= 0 {
		fmt.Fprintf(&b, ", controller %d", md.Controller)
	}
	if c.mechanism != "" {
		fmt.Fprintf(&b, "; authenticated as %q (SASL %s)", c.user, strings.ToUpper(c.mechanism))
	}
	return b.String(), nil
}

// Publisher returns a producer of topic, creating the topic (1 partition,
// the brokers' default replication factor) when it is missing. Its
// messages go with acks from every in-sync replica, through franz-go's
// idempotent producer.
func (c *Cluster) Publisher(ctx context.Context, topic string) (exporter.Publisher, error) {
	cl, err := c.newClient(
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Let ctx and Close fail a message in flight too: the producer
		// is closed after any failure, and the job sends the step again
		// with a new one (at least once across that failure) rather than
		// hanging until the brokers are back.
		kgo.AllowIdempotentProduceCancellation(),
		kgo.MaxBufferedBytes(maxBufferedBytes),
		kgo.ProducerLinger(0), // Publish waits for every message: nothing to linger for
	)
	if err != nil {
		return nil, err
	}
	if err := cl.ensureTopic(ctx, topic); err != nil {
		cl.Close()
		return nil, err
	}
	return &publisher{cl: cl, topic: topic}, nil
}

// ensureTopic creates topic when it is missing.
func (cl *client) ensureTopic(ctx context.Context, topic string) error {
	adm := kadm.NewClient(cl.Client)
	name := strconv.Quote(topic)
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return ctxOr(ctx, cl.fail("describe topic", name, err))
	}
	if d, ok := topics[topic]; ok && d.Err == nil {
		return nil
	} else if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return cl.fail("describe topic", name, d.Err)
	}
	res, err := adm.CreateTopic(ctx, 1, -1, nil, topic)
	switch {
	case err == nil && res.Err == nil, errors.Is(res.Err, kerr.TopicAlreadyExists), errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case err == nil:
		err = res.Err
		if res.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", res.Err, res.ErrMessage)
		}
	}
	return ctxOr(ctx, cl.fail("create topic", name, err))
}

// ctxOr is ctx's error once it ended, else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// publisher is a producer of one topic.
type publisher struct {
	cl    *client
	topic string
}

func (p *publisher) String() string {
	return fmt.Sprintf("Kafka topic %q at %s", p.topic, p.cl.c.servers)
}

// Publish produces msgs in order and waits until the brokers acknowledged
// every one; it returns the first failure. When ctx ends it returns at
// once, and after ackTimeout without an answer it fails (the messages
// still in flight fail when the publisher closes).
func (p *publisher) Publish(ctx context.Context, msgs []exporter.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var (
		mu    sync.Mutex
		first error
		left  = len(msgs)
		done  = make(chan struct{})
	)
	promise := func(_ *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		if left--; left == 0 {
			close(done)
		}
	}
	for i := range msgs {
		m := &msgs[i]
		r := &kgo.Record{Value: m.Value, Timestamp: m.Time}
		if m.Key != "" {
			r.Key = []byte(m.Key)
		}
		if len(m.Attrs) > 0 {
			r.Headers = make([]kgo.RecordHeader, len(m.Attrs))
			for j, a := range m.Attrs {
				r.Headers[j] = kgo.RecordHeader{Key: a.Key, Value: []byte(a.Value)}
			}
		}
		p.cl.Produce(ctx, r, promise)
	}
	what := "1 message"
	if len(msgs) != 1 {
		what = fmt.Sprintf("%d messages", len(msgs))
	}
	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		err := fmt.Errorf("no acknowledgement in %s", ackTimeout)
		if last := p.cl.lastNetErr.Load(); last != nil {
			err = fmt.Errorf("no acknowledgement in %s; the last error: %w", ackTimeout, *last)
		}
		return &exporter.Error{Where: p.String(), Op: "produce", Name: what, Kind: exporter.ErrUnavailable, Err: err}
	}
	mu.Lock()
	err := first
	mu.Unlock()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e := p.cl.fail("produce", what, err).(*exporter.Error)
	e.Where = p.String()
	return e
}

// Close closes the producer's connections; messages still in flight fail.
func (p *publisher) Close() error {
	p.cl.Close()
	return nil
}

// tlsError is a failed TLS handshake, said plainly. It wraps nothing, so
// that franz-go does not retry it: another try fails the same way.
type tlsError struct{ msg string }

func (e *tlsError) Error() string { return e.msg }

// dialer dials a broker, with TLS when t is not nil, and says what failed
// in the handshake.
func dialer(t *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, host)
		if err != nil || t == nil {
			return conn, err
		}
		cfg := t.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(host)
		}
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
		err = tc.HandshakeContext(hctx)
		if err == nil {
			return tc, nil
		}
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var rh tls.RecordHeaderError
		var ua x509.UnknownAuthorityError
		var hn x509.HostnameError
		var ci x509.CertificateInvalidError
		switch {
		case hctx.Err() != nil:
			err = fmt.Errorf("TLS handshake with %s: no answer in %s: is the listener plaintext? unset tls, or use the broker's TLS listener", host, handshakeTimeout)
		case errors.As(err, &rh), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			err = fmt.Errorf("TLS handshake with %s: the broker does not speak TLS (%v): unset tls, or use the broker's TLS listener", host, err)
		case errors.As(err, &ua):
			err = fmt.Errorf("TLS handshake with %s: %v: give the certificate of the CA that signed the broker's (caPem)", host, err)
		case errors.As(err, &hn), errors.As(err, &ci):
			err = fmt.Errorf("TLS handshake with %s: %v", host, err)
		default:
			err = fmt.Errorf("TLS handshake with %s: %v", host, err)
		}
		return nil, &tlsError{msg: err.Error()}
	}
}

// permanent are the codes of refusals no retry mends.
var permanent = []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.InvalidTopicException, kerr.CorruptMessage}

// fail turns an error of franz-go into an *exporter.Error:
//   - a broker's answer with a Kafka error code is a refusal with its code
//     and the broker's message (ErrUnavailable for the codes Kafka marks
//     retriable, such as NOT_LEADER_OR_FOLLOWER; ErrPermanent for a
//     message larger than the broker accepts);
//   - a connection the broker closed during SASL authentication is a
//     refusal: Kafka does so when the user, password or mechanism is wrong;
//   - a failed TLS handshake is a refusal saying what failed;
//   - an error of the network (refused, reset, a timeout, DNS, a
//     connection closed) is ErrUnavailable, and so are messages that timed
//     out waiting for the brokers.
//
// The password is in none of these errors.
func (cl *client) fail(op, name string, err error) error {
	c := cl.c
	e := &exporter.Error{Where: c.String(), Op: op, Name: name, Kind: exporter.ErrRefused, Err: err}
	var ke *kerr.Error
	var te *tlsError
	var first *kgo.ErrFirstReadEOF
	var oe *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &ke):
		e.Code = ke.Message
		e.Err = errors.New(ke.Description)
		// kgo says "CODE: description: the broker's message".
		if s := err.Error(); strings.Contains(s, ke.Error()) {
			if rest := s[strings.Index(s, ke.Error())+len(ke.Error()):]; rest != "" {
				e.Err = errors.New(ke.Description + rest)
			}
		}
		switch {
		case isAny(ke, permanent):
			e.Kind = exporter.ErrPermanent
		case ke.Retriable:
			e.Kind = exporter.ErrUnavailable
		}
	case errors.As(err, &te):
		e.Err = te
	case cl.saslClosed.Load() && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		e.Err = fmt.Errorf("SASL %s authentication as %q failed: the broker closed the connection (wrong username, password or mechanism)", strings.ToUpper(c.mechanism), c.user)
	case errors.As(err, &first):
		e.Err = first
	case errors.As(err, &oe) && oe.Op == "dial":
		e.Kind, e.Err = exporter.ErrUnavailable, oe
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		e.Kind = exporter.ErrUnavailable
	}
	return e
}

func isAny(ke *kerr.Error, errs []error) bool {
	for _, x := range errs {
		if errors.Is(ke, x) {
			return true
		}
	}
	return false
}
