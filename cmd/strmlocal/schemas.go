package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
	"github.com/strmlocal/strmlocal/client"
	"github.com/strmlocal/strmlocal/engine"
)

func (e *env) schemas() strmlocalv1connect.SchemaServiceClient {
	return e.client().Schemas
}

func (e *env) contracts() strmlocalv1connect.EventContractServiceClient {
	return e.client().EventContracts
}

// schemaType picks the type of a definition: --type when given, else JSON
// Schema for a document with a top-level "$schema", else Avro.
func schemaType(flag string, definition []byte) (v1.SchemaType, error) {
	if flag == "" {
		var top map[string]json.RawMessage
		if json.Unmarshal(definition, &top) == nil && top["$schema"] != nil {
			return v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA, nil
		}
		return v1.SchemaType_SCHEMA_TYPE_AVRO, nil
	}
	t, err := engine.ParseSchemaType(flag)
	if err != nil {
		return 0, fmt.Errorf("invalid --type %q: use avro or json-schema", flag)
	}
	if t == engine.JSONSchema {
		return v1.SchemaType_SCHEMA_TYPE_JSON_SCHEMA, nil
	}
	return v1.SchemaType_SCHEMA_TYPE_AVRO, nil
}

func newCreateSchemaCmd(e *env) *cobra.Command {
	var file, typ string
	var draft bool
	cmd := &cobra.Command{
		Use:   "schema REF --definition FILE",
		Short: "Register a schema (handle/name/version)",
		Long: `Register a schema under REF (handle/name/version, version being X.Y.Z).
The definition is Avro (.avsc) or JSON Schema; without --type, a document with
a top-level "$schema" is JSON Schema and anything else Avro. Every schema needs
a strmMeta section. Registered versions are immutable: registering the same
definition again changes nothing, a different one is refused.

FILE may also be what get schema -o json prints (or the schema in it): its
definition is registered under REF, with its type unless --type is given.`,
		Example: `  strmlocal create schema acme/shop/1.0.0 --definition shop.avsc
  strmlocal create schema acme/sensor/1.0.0 --definition sensor.json --type json-schema --draft
  # shop.json: what strmlocal get schema acme/shop/1.0.0 -o json printed
  strmlocal create schema acme/shop/1.0.1 --definition shop.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("cannot read --definition: %w", err)
			}
			var t v1.SchemaType
			if doc := entityJSON(def, "schema", "definition"); doc != nil {
				var s v1.Schema
				if err := protojson.Unmarshal(doc, &s); err != nil {
					return fmt.Errorf("%s: not a schema as get schema -o json prints it: %s", file, client.OneLine(err.Error()))
				}
				def, t = []byte(s.Definition), s.Type
			}
			if typ != "" || t == v1.SchemaType_SCHEMA_TYPE_UNSPECIFIED {
				if t, err = schemaType(typ, def); err != nil {
					return err
				}
			}
			res, err := e.schemas().CreateSchema(cmd.Context(), connect.NewRequest(&v1.CreateSchemaRequest{
				Ref: args[0], Type: t, Definition: string(def), Draft: draft,
			}))
			if err != nil {
				return err
			}
			if !res.Msg.Created {
				fmt.Fprintf(e.stderr, "schema %s was already registered with this definition; nothing changed\n", args[0])
			}
			return e.printSchemas(res.Msg, res.Msg.Schema)
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "definition", "", "file holding the schema definition (required)")
	f.StringVar(&typ, "type", "", "avro or json-schema (default: from the definition)")
	f.BoolVar(&draft, "draft", false, "register as DRAFT; it accepts events once activated")
	_ = cmd.MarkFlagRequired("definition")
	return cmd
}

func newCreateContractCmd(e *env) *cobra.Command {
	var file, schemaRef string
	var draft bool
	cmd := &cobra.Command{
		Use:   "event-contract REF --schema-ref REF --definition-file FILE",
		Short: "Register an event contract (handle/name/version)",
		Long: `Register an event contract for the events of one schema. The definition file
is JSON:

  {"keyField": "sessionId",
   "piiFields": {"sessionId": 1, "customer/email": 2},
   "validations": [{"field": "url", "type": "regex", "value": "^https://"}],
   "dataSubjectField": "customer/email"}

Paths use '/' for nesting. Registered versions are immutable.

FILE may also be what get event-contract -o json prints (or the event contract
in it): its fields are registered under REF, for its schema unless --schema-ref
is given.`,
		Example: `  strmlocal create event-contract acme/shop/1.0.0 --schema-ref acme/shop/1.0.0 --definition-file contract.json
  # shop-contract.json: what strmlocal get event-contract acme/shop/1.0.0 -o json printed
  strmlocal create event-contract acme/shop/1.0.1 --definition-file shop-contract.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("cannot read --definition-file: %w", err)
			}
			if doc := entityJSON(data, "eventContract", "schemaRef"); doc != nil {
				var got v1.EventContract
				if err := protojson.Unmarshal(doc, &got); err != nil {
					return fmt.Errorf("%s: not an event contract as get event-contract -o json prints it: %s", file, client.OneLine(err.Error()))
				}
				if schemaRef == "" {
					schemaRef = got.SchemaRef
				}
				// The definition alone, as a definition file has it.
				def := contractDefinition{KeyField: got.KeyField, PiiFields: got.PiiFields, DataSubjectField: got.DataSubjectField}
				for _, v := range got.Validations {
					def.Validations = append(def.Validations, validation{v.Field, v.Type, v.Value})
				}
				if data, err = json.Marshal(def); err != nil {
					return err
				}
			}
			if schemaRef == "" {
				return errors.New(`required flag(s) "schema-ref" not set`)
			}
			c, err := engine.ParseContractDefinition(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			ec := &v1.EventContract{Ref: args[0], SchemaRef: schemaRef, KeyField: c.KeyField, DataSubjectField: c.DataSubjectField}
			if len(c.PIIFields) > 0 {
				ec.PiiFields = map[string]int32{}
				for path, level := range c.PIIFields {
					ec.PiiFields[path] = int32(level)
				}
			}
			for _, v := range c.Validations {
				ec.Validations = append(ec.Validations, &v1.Validation{Field: v.Field, Type: v.Type, Value: v.Value})
			}
			res, err := e.contracts().CreateEventContract(cmd.Context(), connect.NewRequest(&v1.CreateEventContractRequest{EventContract: ec, Draft: draft}))
			if err != nil {
				return err
			}
			if !res.Msg.Created {
				fmt.Fprintf(e.stderr, "event contract %s was already registered with this definition; nothing changed\n", args[0])
			}
			return e.printContracts(res.Msg, res.Msg.EventContract)
		},
	}
	f := cmd.Flags()
	f.StringVar(&schemaRef, "schema-ref", "", "ref of the schema whose events the contract governs (required, unless FILE is an event contract as get event-contract -o json prints it)")
	f.StringVar(&file, "definition-file", "", "JSON file with keyField, piiFields, validations, dataSubjectField (required)")
	f.BoolVar(&draft, "draft", false, "register as DRAFT; it accepts events once activated")
	_ = cmd.MarkFlagRequired("definition-file")
	return cmd
}

// contractDefinition is the JSON of a contract definition file.
type contractDefinition struct {
	KeyField         string           `json:"keyField,omitempty"`
	PiiFields        map[string]int32 `json:"piiFields,omitempty"`
	Validations      []validation     `json:"validations,omitempty"`
	DataSubjectField string           `json:"dataSubjectField,omitempty"`
}

type validation struct {
	Field string `json:"field"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// entityJSON finds an entity in what get KIND -o json printed: the object
// under wrapper in {"<wrapper>": {...}}, or the document itself when it is
// an object with the entity's field (one a definition does not have). It
// is nil for anything else, a definition.
func entityJSON(data []byte, wrapper, field string) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil
	}
	if inner, ok := top[wrapper]; ok && len(top) == 1 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(inner, &obj) == nil && obj != nil {
			return inner
		}
	}
	var s string
	if v, ok := top[field]; ok && json.Unmarshal(v, &s) == nil {
		return data
	}
	return nil
}

func newListSchemasCmd(e *env) *cobra.Command {
	var req v1.ListSchemasRequest
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "List schemas",
		Example: `  strmlocal list schemas
  strmlocal list schemas --handle streammachine -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.schemas().ListSchemas(cmd.Context(), connect.NewRequest(&req))
			if err != nil {
				return err
			}
			return e.printSchemas(res.Msg, res.Msg.Schemas...)
		},
	}
	cmd.Flags().StringVar(&req.Handle, "handle", "", "only schemas of this handle")
	return cmd
}

func newListContractsCmd(e *env) *cobra.Command {
	var req v1.ListEventContractsRequest
	cmd := &cobra.Command{
		Use:   "event-contracts",
		Short: "List event contracts",
		Example: `  strmlocal list event-contracts
  strmlocal list event-contracts --schema-ref streammachine/demo/1.0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.contracts().ListEventContracts(cmd.Context(), connect.NewRequest(&req))
			if err != nil {
				return err
			}
			return e.printContracts(res.Msg, res.Msg.EventContracts...)
		},
	}
	cmd.Flags().StringVar(&req.Handle, "handle", "", "only contracts of this handle")
	cmd.Flags().StringVar(&req.SchemaRef, "schema-ref", "", "only contracts for this schema")
	return cmd
}

func newGetSchemaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema REF",
		Short: "Show a schema and its definition",
		Example: `  strmlocal get schema streammachine/demo/1.0.2
  strmlocal get schema streammachine/demo/1.0.2 -o json > demo.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.schemas().GetSchema(cmd.Context(), connect.NewRequest(&v1.GetSchemaRequest{Ref: args[0]}))
			if err != nil {
				return err
			}
			if err := e.printSchemas(res.Msg, res.Msg.Schema); err != nil || e.output == "json" {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "\n%s\n", strings.TrimRight(res.Msg.Schema.Definition, "\n"))
			return err
		},
	}
}

func newGetContractCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "event-contract REF",
		Short: "Show an event contract",
		Example: `  strmlocal get event-contract streammachine/example/1.3.0
  strmlocal get event-contract streammachine/example/1.3.0 -o json > contract.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.contracts().GetEventContract(cmd.Context(), connect.NewRequest(&v1.GetEventContractRequest{Ref: args[0]}))
			if err != nil {
				return err
			}
			if err := e.printContracts(res.Msg, res.Msg.EventContract); err != nil || e.output == "json" {
				return err
			}
			c := res.Msg.EventContract
			if len(c.Validations) == 0 {
				return nil
			}
			rows := make([][]string, len(c.Validations))
			for i, v := range c.Validations {
				rows[i] = []string{v.Field, v.Type, v.Value}
			}
			fmt.Fprintln(e.stdout)
			return printTable(e.stdout, []string{"VALIDATION FIELD", "TYPE", "VALUE"}, rows)
		},
	}
}

// newStateCmd builds "activate" or "archive" with its schema and
// event-contract subcommands.
func newStateCmd(e *env, verb, short string, to v1.State) *cobra.Command {
	cmd := &cobra.Command{Use: verb, Short: short, Example: "  strmlocal " + verb + " schema acme/shop/1.0.0\n  strmlocal " + verb + " event-contract acme/shop/1.0.0"}
	cmd.AddCommand(&cobra.Command{
		Use:     "schema REF",
		Short:   short + " a schema",
		Example: "  strmlocal " + verb + " schema acme/shop/1.0.0",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s *v1.Schema
			var msg proto.Message
			if to == v1.State_STATE_ACTIVE {
				res, err := e.schemas().ActivateSchema(cmd.Context(), connect.NewRequest(&v1.ActivateSchemaRequest{Ref: args[0]}))
				if err != nil {
					return err
				}
				s, msg = res.Msg.Schema, res.Msg
			} else {
				res, err := e.schemas().ArchiveSchema(cmd.Context(), connect.NewRequest(&v1.ArchiveSchemaRequest{Ref: args[0]}))
				if err != nil {
					return err
				}
				s, msg = res.Msg.Schema, res.Msg
			}
			return e.printSchemas(msg, s)
		},
	}, &cobra.Command{
		Use:     "event-contract REF",
		Short:   short + " an event contract",
		Example: "  strmlocal " + verb + " event-contract acme/shop/1.0.0",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var c *v1.EventContract
			var msg proto.Message
			if to == v1.State_STATE_ACTIVE {
				res, err := e.contracts().ActivateEventContract(cmd.Context(), connect.NewRequest(&v1.ActivateEventContractRequest{Ref: args[0]}))
				if err != nil {
					return err
				}
				c, msg = res.Msg.EventContract, res.Msg
			} else {
				res, err := e.contracts().ArchiveEventContract(cmd.Context(), connect.NewRequest(&v1.ArchiveEventContractRequest{Ref: args[0]}))
				if err != nil {
					return err
				}
				c, msg = res.Msg.EventContract, res.Msg
			}
			return e.printContracts(msg, c)
		},
	})
	return cmd
}

func stateName(s v1.State) string { return strings.TrimPrefix(s.String(), "STATE_") }

func (e *env) printSchemas(msg proto.Message, schemas ...*v1.Schema) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	rows := make([][]string, len(schemas))
	for i, s := range schemas {
		rows[i] = []string{
			s.Ref, strings.TrimPrefix(s.Type.String(), "SCHEMA_TYPE_"), stateName(s.State),
			s.Fingerprint, s.GetCreateTime().AsTime().Format(time.RFC3339),
		}
	}
	return printTable(e.stdout, []string{"REF", "TYPE", "STATE", "FINGERPRINT", "CREATED"}, rows)
}

func (e *env) printContracts(msg proto.Message, contracts ...*v1.EventContract) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	rows := make([][]string, len(contracts))
	for i, c := range contracts {
		var pii []string
		for _, path := range slices.Sorted(maps.Keys(c.PiiFields)) {
			pii = append(pii, path+":"+strconv.Itoa(int(c.PiiFields[path])))
		}
		rows[i] = []string{c.Ref, c.SchemaRef, stateName(c.State), c.KeyField, strings.Join(pii, ","), c.DataSubjectField}
	}
	return printTable(e.stdout, []string{"REF", "SCHEMA", "STATE", "KEY FIELD", "PII FIELDS", "DATA SUBJECT"}, rows)
}
