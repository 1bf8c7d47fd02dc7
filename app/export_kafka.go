package app

// The kafka connector and the kafka-exporter job (docs/kafka.md).

import (
	"context"
	"encoding/json"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/kafka"
)

const kafkaExporter = "kafka-exporter"

// kafkaBatch is the most messages a kafka-exporter hands the
// producer at once (a follow step is bounded by Options.PageBytes too).
const kafkaBatch = 10_000

// KafkaTopicPrefix starts the default topic of a kafka-exporter:
// strmlocal-<stream>.
const KafkaTopicPrefix = "strmlocal-"

func kafkaConnectorKind() *connectorKind {
	return &connectorKind{
		Kind: Kind{Name: "kafka", Description: "A Kafka cluster (Apache Kafka, Redpanda, any broker speaking the Kafka protocol), optionally with SASL (PLAIN, SCRAM) and TLS.",
			Schema: kafka.Schema, Secrets: kafka.Secrets},
		open: openAs(kafka.New),
		test: func(ctx context.Context, sink any) (string, error) { return sink.(*kafka.Cluster).Test(ctx) },
	}
}

// kafkaConfig is the config of a kafka-exporter.
type kafkaConfig struct {
	Topic                 string `json:"topic"`
	IncludeExistingEvents bool   `json:"includeExistingEvents"`
}

func kafkaExporterKind() *jobKind {
	return &jobKind{
		Kind: Kind{
			Name: kafkaExporter,
			Description: "Follows the stream and produces each event it shows to a Kafka topic, in order. Value: the event's egress JSON (also for Avro events). " +
				"Key: the key link. Headers: strm-schema-ref, strm-contract-ref, strm-consent-levels, strm-offset, strm-stream. " +
				"Idempotent producer; the cursor moves only after the broker acknowledged.",
			Schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "kafka-exporter",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "topic": {
      "type": "string",
      "pattern": "^[a-zA-Z0-9._-]{1,249}$",
      "description": "The topic the events go to: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', not '.' or '..'. Created with 1 partition when missing. Default: strmlocal-<stream>."
    },
    "includeExistingEvents": {
      "type": "boolean",
      "description": "Start at the stream's first event instead of its end at creation."
    }
  }
}`,
		},
		connectors: []string{"kafka"},
		continuous: true,
		prepare:    prepareKafka,
		start:      startExport, // includeExistingEvents: the first event, else the end
		run:        runKafkaExport,
	}
}

func prepareKafka(_ *App, st *catalog.Stream, schema kindSchema, config []byte) ([]byte, error) {
	var c kafkaConfig
	if err := schema.check(config, &c); err != nil {
		return nil, err
	}
	switch c.Topic {
	case "":
		c.Topic = KafkaTopicPrefix + st.Name
	case ".", "..":
		return nil, invalidf("config.topic: Kafka refuses %q as a topic name", c.Topic)
	}
	return json.Marshal(c)
}

func decodeKafka(config []byte) kafkaConfig {
	var c kafkaConfig
	_ = json.Unmarshal(config, &c) // checked by prepare when the job was created
	return c
}

// runKafkaExport follows the stream and produces what it shows to the
// topic, creating the topic first if it is missing.
func runKafkaExport(ctx context.Context, r *jobRun) error {
	c := decodeKafka(r.job.Config)
	p, err := r.sink.(*kafka.Cluster).Publisher(ctx, c.Topic)
	if err != nil {
		return err
	}
	return followAndPublish(ctx, r, p, kafkaBatch, kafkaMessage(r.stream.Name))
}

// kafkaMessage returns the function that makes the Kafka record of a
// record (docs/kafka.md).
func kafkaMessage(stream string) func(*Record) exporter.Message {
	return func(rec *Record) exporter.Message {
		return exporter.Message{Key: rec.Meta.KeyLink, Value: []byte(rec.JSON), Attrs: recordAttrs(stream, rec), Time: rec.Time}
	}
}
