package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/exporter"
	"github.com/strmlocal/strmlocal/exporter/local"
	"github.com/strmlocal/strmlocal/exporter/s3"
)

// Kind describes a kind of data connector or job: its config's JSON Schema
// and its secret fields.
type Kind struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the config, as JSON text.
	Schema string
	// Secrets are the config fields stored encrypted and never returned.
	Secrets []string
}

// connectorKind is one kind of data connector.
type connectorKind struct {
	Kind
	schema kindSchema
	// open checks a whole config (secrets included) and returns the sink it
	// describes (an exporter.Bucket; the config of a Publisher) without
	// connecting anywhere.
	open func(config []byte, schema kindSchema) (any, error)
	// test connects to the sink open returned and says what it did.
	test func(ctx context.Context, sink any) (string, error)
}

// openAs decodes a config into C, checks it with its Validate, and opens it
// with newSink.
func openAs[C interface{ Validate() error }, S any](newSink func(C) (S, error)) func([]byte, kindSchema) (any, error) {
	return func(config []byte, schema kindSchema) (any, error) {
		var c C
		if err := schema.check(config, &c); err != nil {
			return nil, err
		}
		if err := c.Validate(); err != nil {
			return nil, invalidf("config.%v", err)
		}
		s, err := newSink(c)
		if err != nil {
			return nil, invalidf("config.%v", err)
		}
		return s, nil
	}
}

// probe is the test of a bucket kind: a probe object written and deleted.
func probe(ctx context.Context, sink any) (string, error) {
	return exporter.Probe(ctx, sink.(exporter.Bucket), "")
}

// connectorKindList is every kind of data connector.
var connectorKindList = []*connectorKind{
	{Kind: Kind{Name: "local", Description: "A directory on the server's machine.", Schema: local.Schema, Secrets: local.Secrets},
		open: openAs(local.New), test: probe},
	{Kind: Kind{Name: "s3", Description: "An S3-compatible bucket (AWS, MinIO, Ceph, GCS interoperability, Versity).", Schema: s3.Schema, Secrets: s3.Secrets},
		open: openAs(s3.New), test: probe},
	kafkaConnectorKind(), // export_kafka.go
	httpConnectorKind(),  // export_cloudevents.go
}

var connectorKinds, connectorKindsSorted = indexKinds("connector", connectorKindList)

// ConnectorKinds returns the kinds of data connector, by name.
func ConnectorKinds() []Kind { return slices.Clone(connectorKindsSorted) }

func connectorKindOf(kind string) (*connectorKind, error) {
	k, ok := connectorKinds[kind]
	if !ok {
		return nil, invalidf("kind: unknown data connector kind %q (kinds: %s)", kind, kindNames(connectorKindsSorted))
	}
	return k, nil
}

// NewConnector is a data connector to create, validate or test.
type NewConnector struct {
	Name, Kind string
	// Config is the kind's config as a JSON object, secrets included.
	Config []byte
}

// ValidateConnector checks a connector without saving it or connecting.
func (a *App) ValidateConnector(n NewConnector) error {
	if err := catalog.ValidateName(n.Name); err != nil {
		return invalidf("name: invalid data connector name %q: use 1 to 100 characters of a-z, A-Z, 0-9, '.', '_' and '-'", n.Name)
	}
	k, err := connectorKindOf(n.Kind)
	if err != nil {
		return err
	}
	_, err = k.open(n.Config, k.schema)
	return err
}

// CreateConnector checks and saves a connector, its secrets sealed under
// the master key. It does not connect (TestConnector does).
func (a *App) CreateConnector(n NewConnector) (*catalog.Connector, error) {
	c, err := a.sealConnector(n)
	if err != nil {
		return nil, err
	}
	if err := a.jobs.CreateConnector(c); err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateConnector replaces the config of a connector (to rotate its
// credentials, say); the jobs that use it write with the new config from
// their next run on.
func (a *App) UpdateConnector(n NewConnector) (*catalog.Connector, error) {
	old, err := a.jobs.Connector(n.Name)
	if err != nil {
		return nil, err
	}
	c, err := a.sealConnector(n)
	if err != nil {
		return nil, err
	}
	c.CreateTime = old.CreateTime
	if err := a.jobs.ReplaceConnector(c); err != nil {
		return nil, err
	}
	return c, nil
}

// sealConnector checks n and returns it as saved: secrets sealed.
func (a *App) sealConnector(n NewConnector) (*catalog.Connector, error) {
	if err := a.ValidateConnector(n); err != nil {
		return nil, err
	}
	k := connectorKinds[n.Kind]
	public, secret, had, err := splitSecrets(n.Config, k.Secrets)
	if err != nil {
		return nil, err
	}
	c := &catalog.Connector{Name: n.Name, Kind: n.Kind, Config: public, Secrets: had, CreateTime: a.opts.Clock.Now().UTC()}
	if secret != nil {
		if c.Sealed, err = a.keys.Seal(secret, sealLabel(n.Name)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func sealLabel(connector string) string { return "data connector " + connector }

// MaskedConfig is a connector's config as it may be shown: every secret
// field it has "***".
func MaskedConfig(c *catalog.Connector) []byte {
	secrets := c.Secrets
	if k, ok := connectorKinds[c.Kind]; ok && secrets == nil && c.Sealed != nil {
		secrets = k.Secrets // saved before connectors listed theirs
	}
	return maskSecrets(c.Config, secrets)
}

// Connector returns the named connector (secrets sealed).
func (a *App) Connector(name string) (*catalog.Connector, error) { return a.jobs.Connector(name) }

// Connectors returns every connector, by name.
func (a *App) Connectors() []*catalog.Connector { return a.jobs.Connectors() }

// DeleteConnector deletes a connector; one that jobs use needs recursive,
// which stops and deletes those jobs (not what they wrote). It returns the
// jobs deleted.
func (a *App) DeleteConnector(name string, recursive bool) ([]string, error) {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	jobs, err := a.jobs.DeleteConnector(name, recursive)
	if err != nil {
		return nil, err
	}
	a.stopRunnersLocked(jobs)
	return jobs, nil
}

// sink opens the sink of a saved connector (see connectorKind.open).
func (a *App) sink(c *catalog.Connector) (any, error) {
	k, err := connectorKindOf(c.Kind)
	if err != nil {
		return nil, err
	}
	config, err := a.plainConfig(c)
	if err != nil {
		return nil, err
	}
	return k.open(config, k.schema)
}

// plainConfig is a saved connector's whole config, its secrets unsealed.
func (a *App) plainConfig(c *catalog.Connector) (json.RawMessage, error) {
	if c.Sealed == nil {
		return c.Config, nil
	}
	secret, err := a.keys.Unseal(c.Sealed, sealLabel(c.Name))
	if err != nil {
		return nil, err
	}
	config, err := joinSecrets(c.Config, secret)
	if err != nil {
		return nil, fmt.Errorf("data connector %q: stored config is corrupt", c.Name)
	}
	return config, nil
}

// TestConnector connects to a saved connector (name) or to one not saved
// (n, when name is ""): a bucket gets a probe object written and deleted,
// and it says what it did, or exactly what failed.
func (a *App) TestConnector(ctx context.Context, name string, n NewConnector) (string, error) {
	var sink any
	var k *connectorKind
	if name != "" {
		c, err := a.jobs.Connector(name)
		if err != nil {
			return "", err
		}
		if sink, err = a.sink(c); err != nil {
			return "", err
		}
		k = connectorKinds[c.Kind]
	} else {
		if err := a.ValidateConnector(n); err != nil {
			return "", err
		}
		k = connectorKinds[n.Kind]
		var err error
		if sink, err = k.open(n.Config, k.schema); err != nil {
			return "", err
		}
	}
	return k.test(ctx, sink)
}
