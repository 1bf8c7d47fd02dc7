package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// aKind is a kind of connector or job: its description and its compiled
// config schema (nil for a nil kind).
type aKind interface{ describe() (*Kind, *kindSchema) }

func (k *connectorKind) describe() (*Kind, *kindSchema) {
	if k == nil {
		return nil, nil
	}
	return &k.Kind, &k.schema
}

func (k *jobKind) describe() (*Kind, *kindSchema) {
	if k == nil {
		return nil, nil
	}
	return &k.Kind, &k.schema
}

// indexKinds compiles the config schema of every kind of list (nil ones,
// kinds this build leaves out, skipped) and returns them by name, and their
// descriptions sorted by name.
func indexKinds[K aKind](what string, list []K) (map[string]K, []Kind) {
	m := map[string]K{}
	var sorted []Kind
	for _, k := range list {
		d, schema := k.describe()
		if d == nil {
			continue
		}
		*schema = lazyKind(what+"-"+d.Name, d.Schema)
		m[d.Name] = k
		sorted = append(sorted, *d)
	}
	slices.SortFunc(sorted, func(a, b Kind) int { return strings.Compare(a.Name, b.Name) })
	return m, sorted
}

// kindNames lists the names of kinds for a message: "local, s3".
func kindNames(kinds []Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// kindSchema is the JSON Schema of one kind's config (a connector's or a
// job's), compiled once: the one check of a config's shape, so that the
// schema DescribeConnectorKinds and DescribeJobKinds return is the rule
// applied. It is compiled on first use, not at start-up: compiling all of
// them took several milliseconds of every server's start.
// TestKindSchemasCompile compiles each one.
type kindSchema struct {
	text     string
	compiled func() *jsonschema.Schema
}

func lazyKind(kind, text string) kindSchema {
	return kindSchema{text: text, compiled: sync.OnceValue(func() *jsonschema.Schema { return mustCompileKind(kind, text) })}
}

func mustCompileKind(kind, text string) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		panic(fmt.Sprintf("app: the config schema of %s is not JSON: %v", kind, err))
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "strmlocal:///kinds/" + kind + ".json"
	if err := c.AddResource(url, doc); err != nil {
		panic(fmt.Sprintf("app: the config schema of %s: %v", kind, err))
	}
	s, err := c.Compile(url)
	if err != nil {
		panic(fmt.Sprintf("app: the config schema of %s: %v", kind, err))
	}
	return s
}

// check validates config (a JSON object) against the schema and decodes it
// into v. Every failing field is named: "config.bucket: …; config.region: …".
func (k kindSchema) check(config []byte, v any) error {
	if len(bytes.TrimSpace(config)) == 0 {
		config = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(config))
	if err != nil {
		return invalidf("config: not a JSON object: %v", err)
	}
	if err := k.compiled().Validate(inst); err != nil {
		return invalidf("%s", schemaFailures(err))
	}
	d := json.NewDecoder(bytes.NewReader(config))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return invalidf("config: %v", err)
	}
	return nil
}

// schemaFailures lists every leaf failure of a validation, one per field,
// sorted: "config.endpoint: …; config: missing property 'bucket'".
func schemaFailures(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "config: " + err.Error()
	}
	var out []string
	var visit func(u *jsonschema.OutputUnit)
	visit = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 && u.Error != nil {
			field := "config"
			if loc := strings.TrimPrefix(u.InstanceLocation, "/"); loc != "" {
				field += "." + strings.NewReplacer("/", ".", "~1", "/", "~0", "~").Replace(loc)
			}
			out = append(out, field+": "+u.Error.String())
		}
		for i := range u.Errors {
			visit(&u.Errors[i])
		}
	}
	visit(ve.BasicOutput())
	if len(out) == 0 {
		return "config: " + ve.Error()
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), "; ")
}

// splitSecrets moves the secret fields of a config object out of it: the
// config without them, and them as a JSON object (nil when there are none),
// and the names of those it had.
func splitSecrets(config []byte, secrets []string) (public, secret []byte, had []string, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(config, &m); err != nil {
		return nil, nil, nil, invalidf("config: not a JSON object: %v", err)
	}
	s := map[string]json.RawMessage{}
	for _, f := range secrets {
		if v, ok := m[f]; ok {
			s[f] = v
			had = append(had, f)
			delete(m, f)
		}
	}
	if public, err = json.Marshal(m); err != nil {
		return nil, nil, nil, err
	}
	if len(s) == 0 {
		return public, nil, nil, nil
	}
	secret, err = json.Marshal(s)
	return public, secret, had, err
}

// joinSecrets is the inverse of splitSecrets.
func joinSecrets(public, secret []byte) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(public, &m); err != nil {
		return nil, err
	}
	if secret != nil {
		s := map[string]json.RawMessage{}
		if err := json.Unmarshal(secret, &s); err != nil {
			return nil, err
		}
		for k, v := range s {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// maskSecrets returns the public config with every secret field of the
// kind shown as "***".
func maskSecrets(public []byte, secrets []string) []byte {
	if len(secrets) == 0 {
		return public
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(public, &m); err != nil {
		return public
	}
	for _, f := range secrets {
		m[f] = json.RawMessage(`"***"`)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return public
	}
	return out
}
