package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/app"
	"github.com/strmlocal/strmlocal/client"
)

func newApplyCmd(e *env) *cobra.Command {
	var file string
	var dryRun, save bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply a sandbox file: schemas, event contracts, streams, data connectors and jobs",
		Long: `Apply a sandbox file (YAML or JSON, see docs/sandbox.md): make the server hold
the schemas, event contracts, streams (source and derived), data connectors and
jobs it declares. The plan is printed, one line per item: create, unchanged,
update (a data connector's or a job's config) or conflict (a changed
immutable thing: a schema version's definition, a stream's settings, pinned
credentials). With a conflict nothing is applied and the conflicts are named
on stderr (exit code 1). Applying the same file twice changes nothing.

The credentials of the streams created (pinned in the file, or generated) are
saved as create stream saves them, unless --save=false, which prints them.
--dry-run prints the plan and touches nothing.`,
		Example: `  strmlocal apply -f examples/sandbox.yaml
  strmlocal apply -f examples/sandbox.yaml --dry-run
  strmlocal export-config > sandbox.yaml && strmlocal apply -f sandbox.yaml --server http://127.0.0.1:50052`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := client.LoadSandbox(file)
			if err != nil {
				return err
			}
			res, err := e.client().Sandbox.Apply(cmd.Context(), connect.NewRequest(&v1.ApplyRequest{Document: doc, DryRun: dryRun}))
			if err != nil {
				if plan := conflictPlan(err); plan != nil {
					return e.printConflicts(plan)
				}
				return err
			}
			if save {
				for _, st := range res.Msg.CreatedStreams {
					path, err := e.saved().Save("Stream", st.Name, st)
					if err != nil {
						// The secrets are shown now or never: print them first.
						if perr := e.printStreams(res.Msg, res.Msg.CreatedStreams...); perr != nil {
							return perr
						}
						return fmt.Errorf("stream %s was created (the credentials of the streams created are printed above) but they could not be saved: %w", st.Name, err)
					}
					fmt.Fprintf(e.stderr, "saved credentials to %s\n", path)
				}
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			if err := printPlan(e.stdout, res.Msg); err != nil {
				return err
			}
			if !save && len(res.Msg.CreatedStreams) > 0 {
				return e.printStreams(res.Msg, res.Msg.CreatedStreams...)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "the sandbox file, YAML or JSON (required)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&save, "save", true, "save the credentials of the streams created under the config dir")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// conflictPlan is the plan a conflict error carries, or nil.
func conflictPlan(err error) *v1.ApplyResponse {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeFailedPrecondition {
		return nil
	}
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if plan, ok := m.(*v1.ApplyResponse); ok {
				return plan
			}
		}
	}
	return nil
}

// printConflicts prints the plan of a document with conflicts, names each
// conflict on stderr and returns the error that ends the command.
func (e *env) printConflicts(plan *v1.ApplyResponse) error {
	var err error
	if e.output == "json" {
		err = printJSON(e.stdout, plan)
	} else {
		err = printPlan(e.stdout, plan)
	}
	if err != nil {
		return err
	}
	p := planOf(plan)
	conflicts := p.Conflicts()
	for _, c := range conflicts {
		fmt.Fprintln(e.stderr, "strmlocal: "+c.Conflict())
	}
	if len(conflicts) == 1 {
		return errors.New("1 conflict, nothing was applied")
	}
	return fmt.Errorf("%d conflicts, nothing was applied", len(conflicts))
}

var actionOf = map[v1.PlanAction]app.Action{
	v1.PlanAction_PLAN_ACTION_CREATE:    app.ActionCreate,
	v1.PlanAction_PLAN_ACTION_UNCHANGED: app.ActionUnchanged,
	v1.PlanAction_PLAN_ACTION_UPDATE:    app.ActionUpdate,
	v1.PlanAction_PLAN_ACTION_CONFLICT:  app.ActionConflict,
}

// planOf is a plan as the application layer words it.
func planOf(res *v1.ApplyResponse) app.Plan {
	p := app.Plan{Applied: res.Applied}
	for _, i := range res.Items {
		a, ok := actionOf[i.Action]
		if !ok {
			a = app.Action(strings.ToLower(strings.TrimPrefix(i.Action.String(), "PLAN_ACTION_")))
		}
		p.Items = append(p.Items, app.PlanItem{Kind: i.Kind, Name: i.Name, Action: a, Field: i.Field, Reason: i.Reason})
	}
	return p
}

// printPlan prints one line per item (kind, name, action and the fields an
// update or a conflict is about), then the summary.
func printPlan(w io.Writer, res *v1.ApplyResponse) error {
	p := planOf(res)
	var buf bytes.Buffer
	if len(p.Items) > 0 {
		rows := make([][]string, len(p.Items))
		for i, item := range p.Items {
			rows[i] = []string{item.Kind, item.Name, string(item.Action), item.Field}
		}
		if err := printRows(&buf, rows); err != nil {
			return err
		}
	}
	summary := p.Summary()
	if !p.Applied && len(p.Conflicts()) == 0 && summary != "nothing to change" {
		summary += " (dry run: nothing was changed)"
	}
	buf.WriteString(summary + "\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// printRows writes rows with their columns aligned, no header, no
// trailing blanks.
func printRows(w io.Writer, rows [][]string) error {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len(c)+2))
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}

func newExportConfigCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export-config",
		Short: "Print the server as a sandbox file",
		Long: `Print the server as a sandbox file (see docs/sandbox.md), which apply -f takes:
the schemas and event contracts registered by users (not the built-in
catalogue), the streams without their credentials and mask seeds, the data
connectors with their secret fields as "***" (apply keeps the stored secret
for "***"), and the jobs.`,
		Example: `  strmlocal export-config > sandbox.yaml
  strmlocal export-config -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "yaml" && output != "json" {
				return fmt.Errorf("invalid --output %q: use yaml or json", output)
			}
			res, err := e.client().Sandbox.ExportConfig(cmd.Context(), connect.NewRequest(&v1.ExportConfigRequest{}))
			if err != nil {
				return err
			}
			raw, err := protojson.Marshal(res.Msg.GetDocument())
			if err != nil {
				return err
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				return err
			}
			var out []byte
			if output == "json" {
				out = orderedJSON(doc, "")
				out = append(out, '\n')
			} else if out, err = orderedYAML(doc); err != nil {
				return err
			}
			_, err = e.stdout.Write(out)
			return err
		},
	}
	// Its own --output: a sandbox file is YAML or JSON, not a table.
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "format of the file: yaml or json")
	return cmd
}

// keyOrder is the order of the keys of a sandbox document as printed:
// the order docs/sandbox.md describes them in; others after, sorted.
var keyOrder = []string{
	"schemas", "eventContracts", "streams", "dataConnectors", "jobs",
	"ref", "name", "kind", "field", "type", "value", "schemaRef", "description", "tags", "derivedFrom", "consentType",
	"levels", "maskedFields", "maskSeed", "emitFilter", "credentials", "clientId", "clientSecret", "stream", "connector",
	"keyField", "piiFields", "validations", "dataSubjectField", "definition", "config",
}

func sortedKeys(m map[string]any) []string {
	rank := func(k string) int {
		if i := slices.Index(keyOrder, k); i >= 0 {
			return i
		}
		return len(keyOrder)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// orderedJSON renders v indented by two spaces, object keys in keyOrder.
func orderedJSON(v any, indent string) []byte {
	inner := indent + "  "
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			return []byte("{}")
		}
		b := []byte("{\n")
		for i, k := range sortedKeys(v) {
			key, _ := json.Marshal(k)
			b = append(b, inner...)
			b = append(b, key...)
			b = append(b, ": "...)
			b = append(b, orderedJSON(v[k], inner)...)
			if i < len(v)-1 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		return append(append(b, indent...), '}')
	case []any:
		if len(v) == 0 {
			return []byte("[]")
		}
		b := []byte("[\n")
		for i, e := range v {
			b = append(b, inner...)
			b = append(b, orderedJSON(e, inner)...)
			if i < len(v)-1 {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		return append(append(b, indent...), ']')
	default:
		b, _ := json.Marshal(v)
		return b
	}
}

// orderedYAML renders v as YAML, object keys in keyOrder; texts of several
// lines (a schema definition) as literal blocks.
func orderedYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(v)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(v) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(v[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case float64:
		tag := "!!float"
		if v == math.Trunc(v) {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: strconv.FormatFloat(v, 'f', -1, 64)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	default: // nil
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
}
