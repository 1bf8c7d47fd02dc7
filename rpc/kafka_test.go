package rpc_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/internal/kafkatest"
	"github.com/strmlocal/strmlocal/strmtest"
)

// kafkaRetries are quick job retries: continuous jobs retry on the wall
// clock.
func kafkaRetries() strmtest.Option {
	return strmtest.WithJobRetries(50*time.Millisecond, 400*time.Millisecond, 1000)
}

// kafkaWant is what kcat should print for the records of st, as egress
// shows them: key link, headers, egress JSON, in offset order.
func kafkaWant(st *strmtest.Stream) []kafkatest.Message {
	var out []kafkatest.Message
	for _, r := range st.Read() {
		levels := make([]string, len(r.ConsentLevels))
		for i, l := range r.ConsentLevels {
			levels[i] = strconv.Itoa(int(l))
		}
		out = append(out, kafkatest.Message{
			Key: r.KeyLink,
			Headers: kafkatest.Headers(
				"strm-schema-ref", r.SchemaRef,
				"strm-contract-ref", r.EventContractRef,
				"strm-consent-levels", strings.Join(levels, ","),
				"strm-offset", strconv.FormatUint(r.Offset, 10),
				"strm-stream", st.Name),
			Value: r.Json,
		})
	}
	return out
}

// kafkaEqual reports every difference between what kcat read and want.
func kafkaEqual(t *testing.T, topic string, got, want []kafkatest.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("topic %s holds %d records, want %d", topic, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("topic %s, record %d:\n got %+v\nwant %+v", topic, i, got[i], want[i])
		}
	}
}

// kafkaWaitExported waits until job has exported n events and has no lag.
func kafkaWaitExported(t *testing.T, sb *strmtest.Sandbox, job string, n uint64) *v1.JobStatus {
	t.Helper()
	var st *v1.JobStatus
	deadline := time.Now().Add(12 * time.Second)
	for {
		st = getJob(t, sb, job).Status
		if st.Lag == 0 && st.EventsExported == n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not export %d events in 12s: %v", job, n, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kafkaAvroClicks returns n clickstream events as Avro binary.
func kafkaAvroClicks(t *testing.T, n int) [][]byte {
	t.Helper()
	schemas, _, err := engine.LoadCatalogue(catalog.BuiltinFS())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(schemas, func(s *engine.Schema) bool { return s.Ref().String() == "streammachine/clickstream/1.0.0" })
	out := make([][]byte, n)
	for j := range out {
		ev, err := schemas[i].Decode(engine.JSON, []byte(click(fmt.Sprint("s", j%3), fmt.Sprint("c", j%3), fmt.Sprint("https://shop.example/", j), 0, 1)))
		if err != nil {
			t.Fatal(err)
		}
		out[j] = ev.Encode(nil)
	}
	return out
}

// A kafka-exporter of a derived stream, from its first event, writes what
// egress shows to the topic strmlocal-<stream>: read back with kcat (an
// independent client), every record's key, headers and value are egress's
// key link, metadata and JSON, in offset order, each once. Avro events go
// as their egress JSON too.
func TestKafkaExportEndToEnd(t *testing.T) {
	ctx := context.Background()
	broker := kafkatest.Start(t)
	sb := strmtest.New(t, kafkaRetries())
	src := sb.CreateStream("demo")
	derived := sb.CreateDerived("demo", 2)
	var before []string
	for i := range 12 {
		if i%3 == 0 {
			before = append(before, demo(fmt.Sprint("s", i%5), 0)) // not shown by demo-2
		} else {
			before = append(before, demo(fmt.Sprint("s", i%5), 0, 1, 2))
		}
	}
	mustAccept(t, src.Send(demoSchema, before...))

	conn := createConnector(t, sb, "kafka", "kafka", map[string]any{"bootstrapServers": []any{broker.Addr}})
	if got := conn.Config.AsMap()["bootstrapServers"]; fmt.Sprint(got) != "["+broker.Addr+"]" {
		t.Errorf("connector config %v", conn.Config)
	}
	res, err := sb.Client.Connectors.TestDataConnector(ctx, connect.NewRequest(&v1.TestDataConnectorRequest{Name: "kafka"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`connected to %s: 1 broker, cluster "kafkatest", controller 0`, broker.Addr); res.Msg.Result != want {
		t.Errorf("test: %s, want %s", res.Msg.Result, want)
	}

	job := createJob(t, sb, &v1.Job{Kind: "kafka-exporter", Stream: derived.Name, Config: config(t, map[string]any{"includeExistingEvents": true})})
	if job.Name != "kafka-demo-2" || job.DataConnector != "kafka" {
		t.Errorf("job %s on %s", job.Name, job.DataConnector)
	}
	if got := job.Config.AsMap(); got["topic"] != "strmlocal-demo-2" || got["includeExistingEvents"] != true || len(got) != 2 {
		t.Errorf("config with defaults: %v", got)
	}
	var after []string
	for i := range 20 {
		after = append(after, demo(fmt.Sprint("t", i%4), 0, 1, 2))
		if i%4 == 1 {
			after = append(after, demo(fmt.Sprint("t", i%4), 1))
		}
	}
	mustAccept(t, src.Send(demoSchema, after...))
	want := kafkaWant(derived)
	if len(want) != 8+20 {
		t.Fatalf("demo-2 shows %d events, want 28", len(want))
	}
	st := kafkaWaitExported(t, sb, "kafka-demo-2", uint64(len(want)))
	if st.State != v1.JobState_JOB_STATE_RUNNING || st.Retries != 0 || st.LastError != "" || st.Cursor != uint64(len(before)+len(after)) {
		t.Errorf("status %v", st)
	}
	kafkaEqual(t, "strmlocal-demo-2", kafkatest.Kcat(t, broker.Addr, "strmlocal-demo-2"), want)

	// Avro events, to a topic of our choosing.
	clicks := sb.CreateStream("clicks")
	createJob(t, sb, &v1.Job{Name: "clicks", Kind: "kafka-exporter", Stream: "clicks", Config: config(t, map[string]any{"topic": "clicks.avro_v1"})})
	if _, err := clicks.Events.SendEvents(ctx, connect.NewRequest(&v1.SendEventsRequest{
		SchemaRef: "streammachine/clickstream/1.0.0", Serialization: v1.Serialization_SERIALIZATION_AVRO_BINARY, Events: kafkaAvroClicks(t, 5),
	})); err != nil {
		t.Fatal(err)
	}
	kafkaWaitExported(t, sb, "clicks", 5)
	kafkaEqual(t, "clicks.avro_v1", kafkatest.Kcat(t, broker.Addr, "clicks.avro_v1"), kafkaWant(clicks))
}

// The broker is down when the job starts: the job says why and retries;
// once the broker is up every event arrives exactly once.
func TestKafkaExportBrokerDownAtStart(t *testing.T) {
	broker := kafkatest.Reserve(t)
	sb := strmtest.New(t, kafkaRetries())
	src := sb.CreateStream("demo")
	var events []string
	for i := range 5 {
		events = append(events, demo(fmt.Sprint("s", i), 0))
	}
	mustAccept(t, src.Send(demoSchema, events...))
	createConnector(t, sb, "kafka", "kafka", map[string]any{"bootstrapServers": []any{broker.Addr}})
	createJob(t, sb, &v1.Job{Kind: "kafka-exporter", Stream: "demo", Config: config(t, map[string]any{"includeExistingEvents": true})})

	wantErr := fmt.Sprintf(`Kafka at %s: describe topic "strmlocal-demo": dial tcp %s: connect: connection refused`, broker.Addr, broker.Addr)
	waitUntil(t, func() bool { return getJob(t, sb, "kafka-demo").Status.Retries >= 2 })
	st := getJob(t, sb, "kafka-demo").Status
	if st.LastError != wantErr || st.State != v1.JobState_JOB_STATE_RUNNING || st.Lag != 5 || st.EventsExported != 0 || st.LastErrorTime == nil {
		t.Fatalf("while the broker is down: %v\nwant the error %s", st, wantErr)
	}

	broker.Start(t)
	mustAccept(t, src.Send(demoSchema, demo("late", 0), demo("later", 0)))
	st = kafkaWaitExported(t, sb, "kafka-demo", 7)
	if st.Retries != 0 || st.LastError != wantErr {
		t.Errorf("after the outage: %v (the last error stays)", st)
	}
	kafkaEqual(t, "strmlocal-demo", kafkatest.Kcat(t, broker.Addr, "strmlocal-demo"), kafkaWant(src))
}

// The broker restarted mid-run (kfake is in memory: a new, empty cluster
// on the same port): the job reconnects, creates the topic again, and the
// events after the cursor at the stop arrive exactly once.
func TestKafkaExportBrokerRestarted(t *testing.T) {
	broker := kafkatest.Start(t)
	sb := strmtest.New(t, kafkaRetries())
	src := sb.CreateStream("demo")
	createConnector(t, sb, "kafka", "kafka", map[string]any{"bootstrapServers": []any{broker.Addr}})
	createJob(t, sb, &v1.Job{Kind: "kafka-exporter", Stream: "demo"})
	send := func(from, n int) {
		var events []string
		for i := from; i < from+n; i++ {
			events = append(events, demo(fmt.Sprint("s", i), 0))
		}
		mustAccept(t, src.Send(demoSchema, events...))
	}
	send(0, 4)
	kafkaWaitExported(t, sb, "kafka-demo", 4)
	all := kafkaWant(src)
	kafkaEqual(t, "strmlocal-demo", kafkatest.Kcat(t, broker.Addr, "strmlocal-demo"), all)

	cursor := getJob(t, sb, "kafka-demo").Status.Cursor
	broker.Stop(t)
	send(4, 3)
	time.Sleep(200 * time.Millisecond) // the producer finds the broker gone
	broker.Start(t)
	send(7, 2)
	st := kafkaWaitExported(t, sb, "kafka-demo", 9)
	if cursor != 4 || st.Cursor != 9 || st.Retries != 0 || st.LastError == "" {
		t.Errorf("cursor at the stop %d; after the restart: %v (want a last error: the restart failed a run)", cursor, st)
	}
	all = kafkaWant(src)
	kafkaEqual(t, "strmlocal-demo", kafkatest.Kcat(t, broker.Addr, "strmlocal-demo"), all[cursor:])
}

// Connectors and jobs that cannot work are refused with the field and the
// rule; test says exactly what failed, and never shows the password.
func TestKafkaRefusals(t *testing.T) {
	ctx := context.Background()
	const password = "s3cret-PASSWORD-42"
	broker := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "alice", password))
	sb := strmtest.New(t)
	sb.CreateStream("demo")
	cs := sb.Client.Connectors
	test := func(cfg map[string]any) (string, error) {
		res, err := cs.TestDataConnector(ctx, connect.NewRequest(&v1.TestDataConnectorRequest{DataConnector: &v1.DataConnector{Name: "t", Kind: "kafka", Config: config(t, cfg)}}))
		if err != nil {
			return "", err
		}
		return res.Msg.Result, nil
	}
	_, err := test(map[string]any{"bootstrapServers": []any{"127.0.0.1:1"}})
	assertError(t, err, connect.CodeUnavailable, "Kafka at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused")
	scram := func(pw string) map[string]any {
		return map[string]any{"bootstrapServers": []any{broker.Addr}, "saslMechanism": "scram-sha-256", "username": "alice", "password": pw}
	}
	_, err = test(scram("wrong"))
	assertError(t, err, connect.CodeFailedPrecondition, fmt.Sprintf(`Kafka at %s: SASL SCRAM-SHA-256 authentication as "alice" failed: the broker closed the connection (wrong username, password or mechanism)`, broker.Addr))
	_, err = test(map[string]any{"bootstrapServers": []any{broker.Addr}})
	assertError(t, err, connect.CodeFailedPrecondition, fmt.Sprintf("Kafka at %s: broker closed the connection immediately after a request was issued, which often happens when SASL is required but not provided: is SASL missing?", broker.Addr))
	got, err := test(scram(password))
	if want := fmt.Sprintf(`connected to %s: 1 broker, cluster "kafkatest", controller 0; authenticated as "alice" (SASL SCRAM-SHA-256)`, broker.Addr); err != nil || got != want {
		t.Errorf("test: %q %v, want %q", got, err, want)
	}

	create := func(name string, cfg map[string]any) error {
		_, err := cs.CreateDataConnector(ctx, connect.NewRequest(&v1.CreateDataConnectorRequest{DataConnector: &v1.DataConnector{Name: name, Kind: "kafka", Config: config(t, cfg)}}))
		return err
	}
	for _, c := range []struct {
		cfg map[string]any
		msg string
	}{
		{map[string]any{}, "config: missing property 'bootstrapServers'"},
		{map[string]any{"bootstrapServers": []any{}}, "config.bootstrapServers: minItems: got 0, want 1"},
		{map[string]any{"bootstrapServers": []any{"broker"}, "saslMechanism": "gssapi"},
			"config.bootstrapServers.0: 'broker' does not match pattern '^[^\\\\s/@,]+:[0-9]{1,5}$'; config.saslMechanism: value must be one of 'plain', 'scram-sha-256', 'scram-sha-512'"},
		{map[string]any{"bootstrapServers": []any{"h:99999"}}, `config.bootstrapServers.0: want a port from 1 to 65535, got "h:99999"`},
		{map[string]any{"bootstrapServers": []any{"h:9092"}, "saslMechanism": "plain", "username": "u"}, "config.password: SASL plain needs a password, got none"},
		{map[string]any{"bootstrapServers": []any{"h:9092"}, "username": "u", "password": "p"}, "config.saslMechanism: a username or password needs a SASL mechanism: plain, scram-sha-256 or scram-sha-512"},
		{map[string]any{"bootstrapServers": []any{"h:9092"}, "caPem": "x"}, "config.caPem: a CA certificate is for TLS: set tls too"},
		{map[string]any{"bootstrapServers": []any{"h:9092"}, "tls": true, "caPem": "not pem"}, "config.caPem: want a PEM certificate (-----BEGIN CERTIFICATE-----), found none"},
	} {
		assertError(t, create("bad", c.cfg), connect.CodeInvalidArgument, c.msg)
	}

	// The password is sealed and shown as ***.
	conn := createConnector(t, sb, "kafka", "kafka", scram(password))
	if got := conn.Config.AsMap()["password"]; got != "***" {
		t.Errorf("password shown as %v", got)
	}
	if got := aether(t, sb, "GET", "/resource/get?id=kafka", ""); strings.Contains(got, password) {
		t.Errorf("REST get shows the password: %s", got)
	}

	jobs := sb.Client.Jobs
	createJob1 := func(j *v1.Job) error {
		_, err := jobs.CreateJob(ctx, connect.NewRequest(&v1.CreateJobRequest{Job: j}))
		return err
	}
	err = createJob1(&v1.Job{Kind: "kafka-exporter", Stream: "demo", DataConnector: "kafka", Config: config(t, map[string]any{"topic": "a b"})})
	assertError(t, err, connect.CodeInvalidArgument, "config.topic: 'a b' does not match pattern '^[a-zA-Z0-9._-]{1,249}$'")
	err = createJob1(&v1.Job{Kind: "kafka-exporter", Stream: "demo", DataConnector: "kafka", Config: config(t, map[string]any{"topic": ".."})})
	assertError(t, err, connect.CodeInvalidArgument, `config.topic: Kafka refuses ".." as a topic name`)
	err = createJob1(&v1.Job{Kind: "kafka-exporter", Stream: "demo", DataConnector: "kafka", Config: config(t, map[string]any{"topic": strings.Repeat("t", 250)})})
	assertError(t, err, connect.CodeInvalidArgument, "config.topic: '"+strings.Repeat("t", 250)+"' does not match pattern '^[a-zA-Z0-9._-]{1,249}$'")
	sb.CreateLocalConnector(t, "dir")
	err = createJob1(&v1.Job{Kind: "kafka-exporter", Stream: "demo", DataConnector: "dir"})
	assertError(t, err, connect.CodeInvalidArgument, `dataConnector: a kafka-exporter writes to a data connector of kind kafka, and "dir" is of kind local`)
	err = createJob1(&v1.Job{Kind: "batch-exporter", Stream: "demo", DataConnector: "kafka"})
	assertError(t, err, connect.CodeInvalidArgument, `dataConnector: a batch-exporter writes to a data connector of kind local or s3, and "kafka" is of kind kafka`)
	if list, err := jobs.ListJobs(ctx, connect.NewRequest(&v1.ListJobsRequest{})); err != nil || len(list.Msg.Jobs) != 0 {
		t.Errorf("refused jobs saved: %v %v", list, err)
	}
}

// A topic the user may not see or create is a refusal naming the topic
// and Kafka's error code, in the job's status; the job keeps retrying.
func TestKafkaTopicRefused(t *testing.T) {
	describe := kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "strmlocal-demo", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}
	broker := kafkatest.Start(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin"),
		kfake.User("SCRAM-SHA-256", "bob", "pw"),
		kfake.User("SCRAM-SHA-256", "carol", "pw", describe))
	sb := strmtest.New(t, kafkaRetries())
	sb.CreateStream("demo")
	for _, c := range []struct{ user, want string }{
		{"bob", `describe topic "strmlocal-demo": TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed.]`},
		{"carol", `create topic "strmlocal-demo": TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed.]`},
	} {
		createConnector(t, sb, c.user, "kafka", map[string]any{"bootstrapServers": []any{broker.Addr}, "saslMechanism": "scram-sha-256", "username": c.user, "password": "pw"})
		job := createJob(t, sb, &v1.Job{Kind: "kafka-exporter", Stream: "demo", DataConnector: c.user}).Name
		waitUntil(t, func() bool { return getJob(t, sb, job).Status.Retries >= 2 })
		st := getJob(t, sb, job).Status
		if want := fmt.Sprintf("Kafka at %s: %s", broker.Addr, c.want); st.LastError != want || st.State != v1.JobState_JOB_STATE_RUNNING {
			t.Errorf("%s: status %v\nwant the error %s", c.user, st, want)
		}
	}
}
