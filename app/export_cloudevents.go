package app

// The http connector and the cloudevents-sink job (docs/cloudevents.md).

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/cloudevents"
)

const cloudEventsSink = "cloudevents-sink"

// Bounds and defaults of a cloudevents-sink's config.
const (
	DefaultCloudEventsBatch = 1
	MaxCloudEventsBatch     = 1000
)

// CloudEventsSchemaPrefix starts the dataschema of the CloudEvents a
// cloudevents-sink sends: strmlocal:schema:<handle/name/version>.
const CloudEventsSchemaPrefix = "strmlocal:schema:"

func httpConnectorKind() *connectorKind {
	return &connectorKind{
		Kind: Kind{Name: "http", Description: "An HTTP endpoint that takes CloudEvents: a Knative broker, an Argo Events webhook, Azure Event Grid, any webhook.",
			Schema: cloudevents.Schema, Secrets: cloudevents.Secrets},
		open: openAs(cloudevents.New),
		test: func(ctx context.Context, sink any) (string, error) { return sink.(*cloudevents.Endpoint).Test(ctx) },
	}
}

// cloudEventsConfig is the config of a cloudevents-sink.
type cloudEventsConfig struct {
	Structured            bool   `json:"structured"`
	Batch                 int    `json:"batch"`
	Type                  string `json:"type,omitempty"`
	IncludeExistingEvents bool   `json:"includeExistingEvents"`
}

func cloudEventsSinkKind() *jobKind {
	return &jobKind{
		Kind: Kind{
			Name:        cloudEventsSink,
			Description: "Follows the stream and POSTs each event the stream shows to an http connector as a CloudEvent 1.0 (binary mode, structured mode, or JSON batches), in order, at least once.",
			Schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "cloudevents-sink",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "structured": {
      "type": "boolean",
      "description": "Send each event as a JSON document (application/cloudevents+json) instead of in binary mode (attributes in ce- headers, the event as the body)."
    },
    "batch": {
      "type": "integer",
      "minimum": 1,
      "maximum": 1000,
      "description": "Above 1: send up to this many events per request in the JSON batch format (application/cloudevents-batch+json). Default: 1."
    },
    "type": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255,
      "description": "The CloudEvents type of every event. Default: the schema's handle and name, e.g. streammachine.clickstream."
    },
    "includeExistingEvents": {
      "type": "boolean",
      "description": "Start at the stream's first event instead of its end at creation."
    }
  }
}`,
		},
		connectors: []string{"http"},
		continuous: true,
		prepare:    prepareCloudEvents,
		start:      startExport,
		run:        runCloudEventsSink,
	}
}

func prepareCloudEvents(_ *App, _ *catalog.Stream, schema kindSchema, config []byte) ([]byte, error) {
	var c cloudEventsConfig
	if err := schema.check(config, &c); err != nil {
		return nil, err
	}
	if c.Batch == 0 {
		c.Batch = DefaultCloudEventsBatch
	}
	if strings.TrimSpace(c.Type) != c.Type {
		return nil, invalidf("config.type: want no leading or trailing spaces, got %q", c.Type)
	}
	return json.Marshal(c)
}

func decodeCloudEvents(config []byte) cloudEventsConfig {
	var c cloudEventsConfig
	_ = json.Unmarshal(config, &c) // checked by prepare when the job was created
	c.Batch = max(c.Batch, 1)
	return c
}

// runCloudEventsSink follows the stream and POSTs what it shows.
func runCloudEventsSink(ctx context.Context, r *jobRun) error {
	c := decodeCloudEvents(r.job.Config)
	p := r.sink.(*cloudevents.Endpoint).Publisher(cloudevents.Mode{Structured: c.Structured, Batch: c.Batch})
	return followAndPublish(ctx, r, p, c.Batch, cloudEventsMessage(r.a.ServerID(), r.stream, c.Type))
}

// cloudEventsMessage returns the function that makes the CloudEvent of a
// record (docs/cloudevents.md): id <stream uuid>-<offset>, source
// strmlocal://<server id>/streams/<stream>, type the schema's handle.name
// (or typ), subject the key link, time the acceptance time, dataschema
// strmlocal:schema:<ref>, and the extensions strmcontractref,
// strmconsentlevels and strmoffset.
func cloudEventsMessage(serverID string, st *catalog.Stream, typ string) func(*Record) exporter.Message {
	source := "strmlocal://" + serverID + "/streams/" + st.Name
	types := map[string]string{} // schema ref → type
	var levels []byte
	return func(rec *Record) exporter.Message {
		t := typ
		if t == "" {
			var ok bool
			if t, ok = types[rec.Meta.SchemaRef]; !ok {
				t = eventType(rec.Meta.SchemaRef)
				types[rec.Meta.SchemaRef] = t
			}
		}
		levels = levels[:0]
		for i, l := range rec.Meta.Consent {
			if i > 0 {
				levels = append(levels, ',')
			}
			levels = strconv.AppendInt(levels, int64(l), 10)
		}
		offset := strconv.FormatUint(rec.Offset, 10)
		return exporter.Message{
			Key:   rec.Meta.KeyLink,
			Value: []byte(rec.JSON),
			Time:  rec.Time,
			Attrs: []exporter.Attr{
				{Key: "id", Value: st.UUID + "-" + offset},
				{Key: "source", Value: source},
				{Key: "type", Value: t},
				{Key: "subject", Value: rec.Meta.KeyLink},
				{Key: "dataschema", Value: CloudEventsSchemaPrefix + rec.Meta.SchemaRef},
				{Key: "datacontenttype", Value: "application/json"},
				{Key: "strmcontractref", Value: rec.Meta.ContractRef},
				{Key: "strmconsentlevels", Value: string(levels)},
				{Key: "strmoffset", Value: offset},
			},
		}
	}
}

// eventType is the CloudEvents type of events of a schema: its handle and
// name, "streammachine.clickstream" for streammachine/clickstream/1.0.0.
func eventType(schemaRef string) string {
	if ref, err := engine.ParseRef(schemaRef); err == nil {
		return ref.Handle + "." + ref.Name
	}
	return schemaRef
}
