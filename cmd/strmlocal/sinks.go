package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// The commands of the sinks that follow a stream: Kafka topics and
// CloudEvents webhooks (docs/kafka.md, docs/cloudevents.md).

// Kinds of the continuous jobs.
const (
	kafkaExporterKind   = "kafka-exporter"
	cloudEventsSinkKind = "cloudevents-sink"
)

// readUserPassword reads a JSON file {"username": "…", "password": "…"}
// (SASL and basic-auth credentials). No message carries the password.
func readUserPassword(flag, file string) (user, password string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("cannot read --%s: %w", flag, err)
	}
	var f struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", "", fmt.Errorf("--%s %s is not valid JSON (at byte %d): want {\"username\": \"…\", \"password\": \"…\"}", flag, file, se.Offset)
		}
		return "", "", fmt.Errorf("--%s %s: want {\"username\": \"…\", \"password\": \"…\"}", flag, file)
	}
	if f.Username == "" || f.Password == "" {
		return "", "", fmt.Errorf("--%s %s needs both username and password: want {\"username\": \"…\", \"password\": \"…\"}", flag, file)
	}
	return f.Username, f.Password, nil
}

func newCreateKafkaConnectorCmd(e *env) *cobra.Command {
	var (
		servers              []string
		mechanism, creds, ca string
		useTLS               bool
	)
	cmd := &cobra.Command{
		Use:   "kafka NAME --bootstrap-servers H:P[,H:P]",
		Short: "Create a data connector to a Kafka cluster",
		Long: `Create a data connector to a Kafka cluster (Apache Kafka, Redpanda, or any
broker that speaks the Kafka protocol), for kafka-exporter jobs.

--sasl-mechanism plain, scram-sha-256 or scram-sha-512 authenticates with the
credentials in --credentials-file, a JSON file {"username": "…", "password":
"…"}; the password is stored encrypted by the server and never shown. --tls
connects over TLS, verified against the system's roots or --ca-file (PEM).
Creating the connector does not connect: see strmlocal test data-connector NAME.`,
		Example: `  strmlocal create data-connector kafka broker --bootstrap-servers 127.0.0.1:9092
  strmlocal create data-connector kafka cloud --bootstrap-servers b1.example.com:9093,b2.example.com:9093 --sasl-mechanism scram-sha-512 --credentials-file kafka.json --tls`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			config := map[string]any{"bootstrapServers": toAny(servers)}
			if mechanism != "" {
				if creds == "" {
					return errors.New("--sasl-mechanism needs --credentials-file with the username and password")
				}
				user, password, err := readUserPassword("credentials-file", creds)
				if err != nil {
					return err
				}
				config["saslMechanism"], config["username"], config["password"] = mechanism, user, password
			} else if creds != "" {
				return errors.New("--credentials-file is for SASL: add --sasl-mechanism plain, scram-sha-256 or scram-sha-512")
			}
			if useTLS || ca != "" {
				config["tls"] = true
			}
			if ca != "" {
				pem, err := os.ReadFile(ca)
				if err != nil {
					return fmt.Errorf("cannot read --ca-file: %w", err)
				}
				config["caPem"] = string(pem)
			}
			return e.createConnector(cmd, args[0], "kafka", config)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&servers, "bootstrap-servers", nil, "`host:port` of the brokers, comma-separated (required)")
	f.StringVar(&mechanism, "sasl-mechanism", "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	f.StringVar(&creds, "credentials-file", "", `JSON file {"username": "…", "password": "…"} for SASL`)
	f.BoolVar(&useTLS, "tls", false, "connect over TLS")
	f.StringVar(&ca, "ca-file", "", "PEM file of the CA that signed the brokers' certificates (implies --tls)")
	_ = cmd.MarkFlagRequired("bootstrap-servers")
	return cmd
}

func newCreateHTTPConnectorCmd(e *env) *cobra.Command {
	var (
		url, tokenFile, basicFile string
		headers                   []string
	)
	cmd := &cobra.Command{
		Use:   "http NAME --url URL",
		Short: "Create a data connector to a webhook (CloudEvents over HTTP)",
		Long: `Create a data connector to an HTTP endpoint that takes CloudEvents (a Knative
broker, Argo Events, Azure Event Grid, any webhook), for cloudevents-sink jobs.

--bearer-token-file holds the token to send as "Authorization: Bearer …";
--basic-auth-file is a JSON file {"username": "…", "password": "…"}. Secrets
are stored encrypted by the server and never shown. --header K=V (repeatable)
adds a header to every request. Creating the connector does not connect: see
strmlocal test data-connector NAME.`,
		Example: `  strmlocal create data-connector http hook --url http://127.0.0.1:8080/events
  strmlocal create data-connector http hook2 --url https://hooks.example.com/in --bearer-token-file token.txt --header X-Team=data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			config := map[string]any{"url": url}
			if tokenFile != "" && basicFile != "" {
				return errors.New("give --bearer-token-file or --basic-auth-file, not both")
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("cannot read --bearer-token-file: %w", err)
				}
				token := strings.TrimSpace(string(b))
				if token == "" {
					return fmt.Errorf("--bearer-token-file %s is empty", tokenFile)
				}
				config["bearerToken"] = token
			}
			if basicFile != "" {
				user, password, err := readUserPassword("basic-auth-file", basicFile)
				if err != nil {
					return err
				}
				config["username"], config["password"] = user, password
			}
			if len(headers) > 0 {
				h := map[string]any{}
				for _, kv := range headers {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || strings.TrimSpace(k) == "" {
						return fmt.Errorf("--header %q: want NAME=VALUE", kv)
					}
					h[strings.TrimSpace(k)] = v
				}
				config["headers"] = h
			}
			return e.createConnector(cmd, args[0], "http", config)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "the endpoint's URL (required)")
	f.StringVar(&tokenFile, "bearer-token-file", "", "file holding a bearer token to send")
	f.StringVar(&basicFile, "basic-auth-file", "", `JSON file {"username": "…", "password": "…"} for basic auth`)
	f.StringArrayVar(&headers, "header", nil, "`NAME=VALUE` header to send with every request (repeatable)")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// createFollowingJob creates a continuous job with the flags given (only
// those go into the config; the server fills the defaults).
func (e *env) createFollowingJob(cmd *cobra.Command, kind, stream, name, connector string, config map[string]any) error {
	s, err := structpb.NewStruct(config)
	if err != nil {
		return err
	}
	res, err := e.jobs().CreateJob(cmd.Context(), connect.NewRequest(&v1.CreateJobRequest{
		Job: &v1.Job{Name: name, Kind: kind, Stream: stream, DataConnector: connector, Config: s},
	}))
	if err != nil {
		return err
	}
	return e.printJobs(res.Msg, res.Msg.Job)
}

func newCreateKafkaExporterCmd(e *env) *cobra.Command {
	var (
		name, connector, topic string
		includeExisting        bool
	)
	cmd := &cobra.Command{
		Use:   "kafka-exporter STREAM --data-connector C [--topic T]",
		Short: "Create a job that writes a stream's events to a Kafka topic as they arrive",
		Long: `Create a Kafka exporter: a job that writes every event STREAM shows to a Kafka
topic (default strmlocal-<stream>, created if missing) on a kafka data
connector, as it is appended. The value is the event's JSON as egress prints
it; the key is its key link, so a session's events stay in order on one
partition; the headers are strm-schema-ref, strm-contract-ref,
strm-consent-levels, strm-offset and strm-stream. It starts at the end of the
stream unless --include-existing-events. Read the topic with, e.g.,
kcat -C -b HOST:PORT -t strmlocal-STREAM -f '%k %h %s\n'.`,
		Example: `  strmlocal create kafka-exporter demo --data-connector broker
  strmlocal create kafka-exporter demo-2 --data-connector broker --topic demo-decrypted --include-existing-events`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			config := map[string]any{}
			if topic != "" {
				config["topic"] = topic
			}
			if includeExisting {
				config["includeExistingEvents"] = true
			}
			return e.createFollowingJob(cmd, kafkaExporterKind, args[0], name, connector, config)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "name of the job (default: <data connector>-<stream>)")
	f.StringVar(&connector, "data-connector", "", "the kafka data connector (default: the only one)")
	f.StringVar(&topic, "topic", "", "the topic (default: strmlocal-<stream>)")
	f.BoolVar(&includeExisting, "include-existing-events", false, "start at the stream's first event instead of its end")
	return cmd
}

func newCreateCloudEventsSinkCmd(e *env) *cobra.Command {
	var (
		name, connector, typ string
		structured, existing bool
		batch                int
	)
	cmd := &cobra.Command{
		Use:   "cloudevents-sink STREAM --data-connector C",
		Short: "Create a job that POSTs a stream's events to a webhook as CloudEvents",
		Long: `Create a CloudEvents sink: a job that POSTs every event STREAM shows, as it is
appended, to an http data connector as a CloudEvent 1.0: binary content mode
by default, --structured for structured JSON, --batch N for the JSON batch
format with N events per request. id is <stream uuid>-<offset>, source
strmlocal://<server id>/streams/<stream>, type the schema's handle.name
(--type sets it), subject the key link, time the acceptance time. A 2xx is
success; 429, 5xx and timeouts are retried in order (Retry-After honoured);
another 4xx fails the job with the answer in its status (strmlocal get job).
It starts at the end of the stream unless --include-existing-events.`,
		Example: `  strmlocal create cloudevents-sink demo --data-connector hook
  strmlocal create cloudevents-sink demo-2 --data-connector hook --structured --batch 10 --type acme.demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			config := map[string]any{}
			f := cmd.Flags()
			if structured {
				config["structured"] = true
			}
			if f.Changed("batch") {
				config["batch"] = batch
			}
			if typ != "" {
				config["type"] = typ
			}
			if existing {
				config["includeExistingEvents"] = true
			}
			return e.createFollowingJob(cmd, cloudEventsSinkKind, args[0], name, connector, config)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "name of the job (default: <data connector>-<stream>)")
	f.StringVar(&connector, "data-connector", "", "the http data connector (default: the only one)")
	f.BoolVar(&structured, "structured", false, "send structured-mode CloudEvents (the event and its attributes in one JSON)")
	f.IntVar(&batch, "batch", 1, "events per request; above 1 the JSON batch format is sent")
	f.StringVar(&typ, "type", "", "the CloudEvents type (default: the schema's handle.name, e.g. streammachine.clickstream)")
	f.BoolVar(&existing, "include-existing-events", false, "start at the stream's first event instead of its end")
	return cmd
}
