package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// connectors is a management client: it uses the admin token.
func (e *env) connectors() strmlocalv1connect.ConnectorServiceClient {
	return e.client().Connectors
}

func newCreateConnectorCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data-connector KIND NAME ...",
		Short: "Create a data connector: where jobs write to",
		Long: `Create a data connector: a place jobs write to. Four kinds:

  local NAME --path DIR      a directory on the server's machine
  s3 NAME BUCKET --endpoint URL --credentials-file FILE
                             a bucket of an S3-compatible object store
  kafka NAME --bootstrap-servers H:P[,H:P]
                             a Kafka cluster (for kafka-exporter jobs)
  http NAME --url URL        a webhook taking CloudEvents (for cloudevents-sink jobs)

Creating a connector does not connect anywhere; test it with
strmlocal test data-connector NAME. Secrets (the S3 secret access key, passwords, tokens) are
stored encrypted by the server and always shown as "***".`,
		// A kind that is not a subcommand reaches here.
		Example: `  strmlocal create data-connector local out --path ./exports
  strmlocal create data-connector s3 lake my-bucket --endpoint http://127.0.0.1:9000 --credentials-file s3.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return fmt.Errorf("unknown data connector kind %q: use local (create data-connector local NAME --path DIR), s3 (create data-connector s3 NAME BUCKET --endpoint URL --credentials-file FILE), kafka (create data-connector kafka NAME --bootstrap-servers H:P) or http (create data-connector http NAME --url URL)", args[0])
		},
	}
	cmd.AddCommand(newCreateLocalConnectorCmd(e), newCreateS3ConnectorCmd(e), newCreateKafkaConnectorCmd(e), newCreateHTTPConnectorCmd(e))
	return cmd
}

func newCreateLocalConnectorCmd(e *env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "local NAME --path DIR",
		Short: "Create a data connector that writes to a directory",
		Long: `Create a data connector that writes to a directory on the server's machine.
A relative DIR is taken from the current directory and sent as an absolute
path; the server creates the directory when a job first writes to it.`,
		Example: `  strmlocal create data-connector local out --path ./exports`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return errors.New("--path: give the directory to write to")
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return fmt.Errorf("--path %q: %w", path, err)
			}
			return e.createConnector(cmd, args[0], "local", map[string]any{"path": abs})
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "the directory files are written to (required)")
	_ = cmd.MarkFlagRequired("path")
	return cmd
}

type s3Options struct {
	endpoint, region, credentialsFile string
	pathStyle                         bool
}

// config is the s3 connector config of bucket with the credentials of the
// credentials file.
func (o s3Options) config(bucket string) (map[string]any, error) {
	id, secret, err := readS3Credentials(o.credentialsFile)
	if err != nil {
		return nil, err
	}
	c := map[string]any{
		"endpoint":        o.endpoint,
		"bucket":          bucket,
		"accessKeyId":     id,
		"secretAccessKey": secret,
	}
	if o.region != "" {
		c["region"] = o.region
	}
	if o.pathStyle {
		c["pathStyle"] = true
	}
	return c, nil
}

// credentialsFormats is what a credentials file may hold.
const credentialsFormats = `{"AccessKey":{"AccessKeyId":"…","SecretAccessKey":"…"}} (as aws iam create-access-key prints it) or {"accessKeyId":"…","secretAccessKey":"…"}`

// readS3Credentials reads an access key from a JSON file: the AWS format
// (the original STRM CLI's) or a flat one. No message carries the secret.
func readS3Credentials(file string) (id, secret string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("cannot read --credentials-file: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		// A syntax error's text quotes a character of the file: say only
		// where it is.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", "", fmt.Errorf("credentials file %s is not valid JSON (at byte %d): want %s", file, se.Offset, credentialsFormats)
		}
		return "", "", fmt.Errorf("credentials file %s does not hold a JSON object: want %s", file, credentialsFormats)
	}
	// Field names match case-insensitively, so both spellings fit.
	var f struct {
		AccessKey *struct {
			AccessKeyID     string `json:"AccessKeyId"`
			SecretAccessKey string `json:"SecretAccessKey"`
		} `json:"AccessKey"`
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return "", "", fmt.Errorf("credentials file %s: %s has the wrong type (a JSON %s): want %s", file, te.Field, te.Value, credentialsFormats)
		}
		return "", "", fmt.Errorf("credentials file %s: want %s", file, credentialsFormats)
	}
	idField, secretField := "accessKeyId", "secretAccessKey"
	if f.AccessKey != nil {
		idField, secretField = "AccessKey.AccessKeyId", "AccessKey.SecretAccessKey"
		id, secret = f.AccessKey.AccessKeyID, f.AccessKey.SecretAccessKey
	} else {
		id, secret = f.AccessKeyID, f.SecretAccessKey
	}
	var missing []string
	if id == "" {
		missing = append(missing, idField)
	}
	if secret == "" {
		missing = append(missing, secretField)
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("credentials file %s has no %s: want %s", file, joinAnd(missing), credentialsFormats)
	}
	return id, secret, nil
}

func newCreateS3ConnectorCmd(e *env) *cobra.Command {
	var o s3Options
	cmd := &cobra.Command{
		Use:   "s3 NAME BUCKET --endpoint URL --credentials-file FILE",
		Short: "Create a data connector that writes to an S3 bucket",
		Long: `Create a data connector that writes to BUCKET of an S3-compatible object store
(AWS S3, MinIO, …) at --endpoint (scheme and host only, e.g.
http://127.0.0.1:9000). The bucket must exist.

--credentials-file is a JSON file with the access key, in the AWS format
(the output of aws iam create-access-key, which the original STRM CLI reads):

  {"AccessKey": {"AccessKeyId": "…", "SecretAccessKey": "…"}}

or flat: {"accessKeyId": "…", "secretAccessKey": "…"}. The secret is sent to
the server, which stores it encrypted; it is never shown.

--path-style addresses the bucket as URL/BUCKET/ rather than BUCKET.host/ (the
server uses path style for endpoints other than Amazon's, Google's and
Aliyun's anyway). Creating the connector does not connect: see
strmlocal test data-connector NAME.`,
		Example: `  strmlocal create data-connector s3 lake my-bucket --endpoint http://127.0.0.1:9000 --credentials-file s3.json --path-style
  strmlocal create data-connector s3 aws my-bucket --endpoint https://s3.eu-west-1.amazonaws.com --region eu-west-1 --credentials-file access-key.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			config, err := o.config(args[1])
			if err != nil {
				return err
			}
			return e.createConnector(cmd, args[0], "s3", config)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "URL of the S3 server, scheme and host only (required)")
	f.StringVar(&o.region, "region", "", "region of the bucket (default: us-east-1)")
	f.BoolVar(&o.pathStyle, "path-style", false, "address the bucket by path (URL/BUCKET/) rather than by host name")
	f.StringVar(&o.credentialsFile, "credentials-file", "", "JSON file with the access key id and secret access key (required)")
	_ = cmd.MarkFlagRequired("endpoint")
	_ = cmd.MarkFlagRequired("credentials-file")
	return cmd
}

func (e *env) createConnector(cmd *cobra.Command, name, kind string, config map[string]any) error {
	s, err := structpb.NewStruct(config)
	if err != nil {
		return err
	}
	res, err := e.connectors().CreateDataConnector(cmd.Context(), connect.NewRequest(&v1.CreateDataConnectorRequest{
		DataConnector: &v1.DataConnector{Name: name, Kind: kind, Config: s},
	}))
	if err != nil {
		return err
	}
	return e.printConnectors(res.Msg, res.Msg.DataConnector)
}

func newListConnectorsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "data-connectors",
		Short: "List data connectors",
		Example: `  strmlocal list data-connectors
  strmlocal list data-connectors -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := e.connectors().ListDataConnectors(cmd.Context(), connect.NewRequest(&v1.ListDataConnectorsRequest{}))
			if err != nil {
				return err
			}
			return e.printConnectors(res.Msg, res.Msg.DataConnectors...)
		},
	}
}

func newGetConnectorCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "data-connector NAME",
		Short: "Show a data connector",
		Example: `  strmlocal get data-connector out
  strmlocal get data-connector out -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.connectors().GetDataConnector(cmd.Context(), connect.NewRequest(&v1.GetDataConnectorRequest{Name: args[0]}))
			if err != nil {
				return err
			}
			return e.printConnectors(res.Msg, res.Msg.DataConnector)
		},
	}
}

func newDeleteConnectorCmd(e *env) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "data-connector NAME [--recursive]",
		Short: "Delete a data connector",
		Long: `Delete a data connector. One that jobs write to needs --recursive, which
deletes those jobs too. The files they wrote stay where they are.`,
		Example: `  strmlocal delete data-connector out
  strmlocal delete data-connector out --recursive`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.connectors().DeleteDataConnector(cmd.Context(), connect.NewRequest(&v1.DeleteDataConnectorRequest{Name: args[0], Recursive: recursive}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			for _, j := range res.Msg.DeletedJobs {
				fmt.Fprintf(e.stdout, "deleted job %s\n", j)
			}
			_, err = fmt.Fprintf(e.stdout, "deleted data connector %s\n", args[0])
			return err
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "also delete the jobs that write to it")
	return cmd
}

func newTestCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "test",
		Short:   "Check that an entity works",
		Example: `  strmlocal test data-connector out`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "data-connector NAME",
		Short: "Connect to a data connector: write and delete a probe object",
		Long: `Connect to a data connector as its jobs would: the server writes a probe
object .strmlocal-probe-<uuid> and deletes it again, and says what it did.
When that fails, the command exits 1 with what failed (a missing bucket,
refused credentials, an endpoint that cannot be reached).`,
		Example: `  strmlocal test data-connector out
  strmlocal test data-connector lake -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.connectors().TestDataConnector(cmd.Context(), connect.NewRequest(&v1.TestDataConnectorRequest{Name: args[0]}))
			if err != nil {
				return err
			}
			if e.output == "json" {
				return printJSON(e.stdout, res.Msg)
			}
			_, err = fmt.Fprintln(e.stdout, res.Msg.Result)
			return err
		},
	})
	return cmd
}

// printConnectors prints msg as JSON, or the connectors as a table.
func (e *env) printConnectors(msg proto.Message, connectors ...*v1.DataConnector) error {
	if e.output == "json" {
		return printJSON(e.stdout, msg)
	}
	rows := make([][]string, len(connectors))
	for i, c := range connectors {
		rows[i] = []string{c.Name, c.Kind, compactConfig(c.Config), strings.Join(c.Jobs, ",")}
	}
	return printTable(e.stdout, []string{"NAME", "KIND", "CONFIG", "JOBS"}, rows)
}

// compactConfig is a config as one line of JSON, keys sorted. The server
// returns secret fields as "***" already; any other field whose name says
// it is a secret is masked here too.
func compactConfig(s *structpb.Struct) string {
	m := s.AsMap()
	for k, v := range m {
		if str, ok := v.(string); ok && str != "" && strings.Contains(strings.ToLower(k), "secret") {
			m[k] = "***"
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "?"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func newDescribeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe",
		Short:   "Describe what the server offers",
		Example: `  strmlocal describe kinds`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "kinds [KIND...]",
		Short: "Show the kinds of data connector and job, with their config schemas",
		Long: `Show the kinds of data connector (local, s3) and of job (batch-exporter,
key-exporter) the server offers. With KIND arguments, each kind's description,
secret fields and the JSON Schema of its config. -o json prints both lists,
schemas included.`,
		Example: `  strmlocal describe kinds
  strmlocal describe kinds s3 batch-exporter
  strmlocal describe kinds -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cres, err := e.connectors().DescribeConnectorKinds(cmd.Context(), connect.NewRequest(&v1.DescribeConnectorKindsRequest{}))
			if err != nil {
				return err
			}
			jres, err := e.jobs().DescribeJobKinds(cmd.Context(), connect.NewRequest(&v1.DescribeJobKindsRequest{}))
			if err != nil {
				return err
			}
			type kind struct {
				what string
				*v1.Kind
			}
			var all []kind
			for _, k := range cres.Msg.Kinds {
				all = append(all, kind{"data connector", k})
			}
			for _, k := range jres.Msg.Kinds {
				all = append(all, kind{"job", k})
			}
			if len(args) > 0 {
				var picked []kind
				var names []string
				for _, k := range all {
					names = append(names, k.Kind.Kind)
				}
				for _, a := range args {
					i := slices.IndexFunc(all, func(k kind) bool { return k.Kind.Kind == a })
					if i < 0 {
						return fmt.Errorf("unknown kind %q (kinds: %s)", a, strings.Join(names, ", "))
					}
					picked = append(picked, all[i])
				}
				all = picked
				cres.Msg.Kinds, jres.Msg.Kinds = nil, nil
				for _, k := range all {
					if k.what == "job" {
						jres.Msg.Kinds = append(jres.Msg.Kinds, k.Kind)
					} else {
						cres.Msg.Kinds = append(cres.Msg.Kinds, k.Kind)
					}
				}
			}
			if e.output == "json" {
				return printKindsJSON(e, cres.Msg, jres.Msg)
			}
			if len(args) == 0 {
				rows := make([][]string, len(all))
				for i, k := range all {
					rows[i] = []string{k.Kind.Kind, k.what, strings.Join(k.SecretFields, ","), k.Description}
				}
				return printTable(e.stdout, []string{"KIND", "FOR", "SECRETS", "DESCRIPTION"}, rows)
			}
			for i, k := range all {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				secrets := strings.Join(k.SecretFields, ", ")
				if secrets == "" {
					secrets = "none"
				}
				fmt.Fprintf(e.stdout, "%s (%s): %s\nsecret fields: %s\nconfig schema:\n%s\n", k.Kind.Kind, k.what, k.Description, secrets, strings.TrimRight(k.ConfigSchema, "\n"))
			}
			return nil
		},
	})
	return cmd
}

// printKindsJSON prints both kind lists as one JSON object:
// {"dataConnectorKinds": [...], "jobKinds": [...]}.
func printKindsJSON(e *env, c *v1.DescribeConnectorKindsResponse, j *v1.DescribeJobKindsResponse) error {
	list := func(kinds []*v1.Kind) ([]json.RawMessage, error) {
		out := []json.RawMessage{}
		for _, k := range kinds {
			b, err := protojson.Marshal(k)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	ck, err := list(c.Kinds)
	if err != nil {
		return err
	}
	jk, err := list(j.Kinds)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		DataConnectorKinds []json.RawMessage `json:"dataConnectorKinds"`
		JobKinds           []json.RawMessage `json:"jobKinds"`
	}{ck, jk}); err != nil {
		return err
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}
