package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/rpc"
)

// offlineSchemaRef names the schema of validate --offline --definition
// without --schema-ref (or a ref in the file): the ref appears in the
// reasons events are invalid.
const offlineSchemaRef = "offline/definition/1.0.0"

// offlineOptions are the flags of validate --offline.
type offlineOptions struct {
	offline         bool
	definition, typ string
	contract        string
}

// validator compiles the schema and contracts of validate --offline with
// engine, as the server does when they are registered, and checks events
// with engine.Validate, as the server's ValidateEvents does. The built-in
// catalogue is what a server registers at its start (unless --no-demo).
func (o offlineOptions) validator(schemaRef string) (checkEvents, error) {
	if o.definition == "" {
		if schemaRef == "" {
			return nil, errors.New("--offline needs --definition FILE, the schema to check against (or --schema-ref of a built-in schema, e.g. streammachine/demo/1.0.2)")
		}
		if o.typ != "" {
			return nil, errors.New("--type is the type of --definition FILE: give the definition too")
		}
	}
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		return nil, err
	}
	byRef := map[string]*engine.CompiledContract{}
	for _, c := range contracts {
		byRef[c.Ref().String()] = c
	}
	var schema *engine.Schema
	if o.definition != "" {
		if schema, err = o.compileSchema(schemaRef); err != nil {
			return nil, err
		}
	} else {
		var refs []string
		for _, s := range schemas {
			refs = append(refs, s.Ref().String())
			if s.Ref().String() == schemaRef {
				schema = s
			}
		}
		if schema == nil {
			return nil, fmt.Errorf("--offline resolves no schema on a server, and %s is not a built-in one (%s): give its definition with --definition FILE", schemaRef, strings.Join(refs, ", "))
		}
	}
	if o.contract != "" {
		cc, err := o.compileContract(schema)
		if err != nil {
			return nil, err
		}
		byRef[cc.Ref().String()] = cc
	}
	resolve := func(ref string) (*engine.CompiledContract, error) {
		if cc, ok := byRef[ref]; ok {
			return cc, nil
		}
		// The registry's words (catalog.Registry.ActiveContract).
		return nil, fmt.Errorf("event contract %s not found", ref)
	}
	return func(_ context.Context, bodies [][]byte) ([]string, error) {
		out := make([]string, len(bodies))
		for i, body := range bodies {
			_, _, err := engine.Validate(schema, engine.JSON, body, engine.DefaultMaxEventBytes, resolve)
			out[i] = rejection(err)
		}
		return out, nil
	}, nil
}

// rejection is what the server answers for an event's error: a
// *engine.RejectError's message, "" for none.
func rejection(err error) string {
	var re *engine.RejectError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return re.Msg
	}
	return err.Error()
}

// compileSchema compiles --definition: a definition, or what get schema -o
// json prints (its ref and type are taken unless the flags give them).
func (o offlineOptions) compileSchema(schemaRef string) (*engine.Schema, error) {
	def, err := os.ReadFile(o.definition)
	if err != nil {
		return nil, fmt.Errorf("cannot read --definition: %w", err)
	}
	var t v1.SchemaType
	if doc := entityJSON(def, "schema", "definition"); doc != nil {
		var s v1.Schema
		if err := protojson.Unmarshal(doc, &s); err != nil {
			return nil, fmt.Errorf("%s: not a schema as get schema -o json prints it: %s", o.definition, client.OneLine(err.Error()))
		}
		def, t = []byte(s.Definition), s.Type
		if schemaRef == "" {
			schemaRef = s.Ref
		}
	}
	if o.typ != "" || t == v1.SchemaType_SCHEMA_TYPE_UNSPECIFIED {
		if t, err = schemaType(o.typ, def); err != nil {
			return nil, err
		}
	}
	if schemaRef == "" {
		schemaRef = offlineSchemaRef
	}
	ref, err := engine.ParseRef(schemaRef)
	if err != nil {
		return nil, fmt.Errorf("invalid --schema-ref: %w", err)
	}
	typ := engine.Avro
	if t == v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA {
		typ = engine.JSONSchema
	}
	s, err := engine.CompileSchema(ref, typ, def)
	if err != nil {
		return nil, fmt.Errorf("--definition %s: %w", o.definition, err)
	}
	return s, nil
}

// compileContract compiles --contract for schema: a definition, with the
// schema's ref, or what get event-contract -o json prints, with its own
// ref (and it must be for schema).
func (o offlineOptions) compileContract(schema *engine.Schema) (*engine.CompiledContract, error) {
	data, err := os.ReadFile(o.contract)
	if err != nil {
		return nil, fmt.Errorf("cannot read --contract: %w", err)
	}
	var c engine.Contract
	c.Ref, c.SchemaRef = schema.Ref(), schema.Ref()
	if doc := entityJSON(data, "eventContract", "schemaRef"); doc != nil {
		var got v1.EventContract
		if err := protojson.Unmarshal(doc, &got); err != nil {
			return nil, fmt.Errorf("%s: not an event contract as get event-contract -o json prints it: %s", o.contract, client.OneLine(err.Error()))
		}
		if got.SchemaRef != schema.Ref().String() {
			return nil, fmt.Errorf("--contract %s is for schema %s, not %s: give that schema's --definition, or --schema-ref %s", o.contract, got.SchemaRef, schema.Ref(), got.SchemaRef)
		}
		ref, err := engine.ParseRef(got.Ref)
		if err != nil {
			return nil, fmt.Errorf("--contract %s: ref: %w", o.contract, err)
		}
		c = rpc.ContractOf(&got)
		c.Ref, c.SchemaRef = ref, schema.Ref()
	} else {
		def, err := engine.ParseContractDefinition(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.contract, err)
		}
		def.Ref, def.SchemaRef = c.Ref, c.SchemaRef
		c = def
	}
	cc, err := engine.CompileContract(c, schema)
	if err != nil {
		return nil, fmt.Errorf("--contract %s: %w", o.contract, err)
	}
	return cc, nil
}
