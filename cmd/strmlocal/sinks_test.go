package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// The flags of the kafka and http connectors and of the continuous jobs
// become exactly these configs; secrets from files never reach the output.
func TestSinkCommands(t *testing.T) {
	c, sb := newJobsCLI(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := write("creds.json", `{"username": "alice", "password": "KAFKA-PASSWORD-1"}`)
	token := write("token", "WEBHOOK-TOKEN-2\n")
	caPEM := selfSigned(t)
	ca := write("ca.pem", caPEM)
	sb.CreateStream("demo")

	config := func(name string) string {
		t.Helper()
		res, err := sb.Client.Connectors.GetDataConnector(context.Background(), connect.NewRequest(&v1.GetDataConnectorRequest{Name: name}))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Msg.DataConnector.Config.AsMap())
		return string(b)
	}
	for _, args := range []string{
		"create data-connector kafka k --bootstrap-servers 127.0.0.1:1,127.0.0.1:2 --sasl-mechanism scram-sha-256 --credentials-file " + creds + " --ca-file " + ca,
		"create data-connector http hook --url http://127.0.0.1:1/hook --bearer-token-file " + token + " --header X-Tenant=t1",
	} {
		code, out, errs := c.run(strings.Fields(args)...)
		if code != 0 || strings.Contains(out+errs, "PASSWORD") || strings.Contains(out+errs, "TOKEN") {
			t.Fatalf("strmlocal %s: exit %d\n%s%s", args, code, out, errs)
		}
	}
	if got, want := config("k"), `{"bootstrapServers":["127.0.0.1:1","127.0.0.1:2"],"caPem":`+jsonString(caPEM)+`,"password":"***","saslMechanism":"scram-sha-256","tls":true,"username":"alice"}`; got != want {
		t.Errorf("kafka config\n got %s\nwant %s", got, want)
	}
	if got, want := config("hook"), `{"bearerToken":"***","headers":{"X-Tenant":"t1"},"url":"http://127.0.0.1:1/hook"}`; got != want {
		t.Errorf("http config\n got %s\nwant %s", got, want)
	}

	jobConfig := func(args, name string) string {
		t.Helper()
		if code, out, errs := c.run(strings.Fields(args)...); code != 0 {
			t.Fatalf("strmlocal %s: exit %d\n%s%s", args, code, out, errs)
		}
		res, err := sb.Client.Jobs.GetJob(context.Background(), connect.NewRequest(&v1.GetJobRequest{Name: name}))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Msg.Job.Config.AsMap())
		return res.Msg.Job.Kind + " " + res.Msg.Job.DataConnector + " " + string(b)
	}
	for _, tc := range []struct{ args, name, want string }{
		{"create kafka-exporter demo --data-connector k --topic clicks --include-existing-events", "k-demo", `kafka-exporter k {"includeExistingEvents":true,"topic":"clicks"}`},
		{"create kafka-exporter demo --data-connector k --name k2", "k2", `kafka-exporter k {"includeExistingEvents":false,"topic":"strmlocal-demo"}`},
		{"create cloudevents-sink demo --data-connector hook --structured --batch 10 --type shop.click", "hook-demo", `cloudevents-sink hook {"batch":10,"includeExistingEvents":false,"structured":true,"type":"shop.click"}`},
		{"create cloudevents-sink demo --data-connector hook --name h2", "h2", `cloudevents-sink hook {"batch":1,"includeExistingEvents":false,"structured":false}`},
	} {
		if got := jobConfig(tc.args, tc.name); got != tc.want {
			t.Errorf("strmlocal %s\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}

	bad := write("bad.json", `{"username": "u"}`)
	for _, tc := range []struct{ args, want string }{
		{"create data-connector kafka x --bootstrap-servers h:1 --credentials-file " + creds, "--credentials-file is for SASL: add --sasl-mechanism plain, scram-sha-256 or scram-sha-512"},
		{"create data-connector kafka x --bootstrap-servers h:1 --sasl-mechanism plain", "--sasl-mechanism needs --credentials-file with the username and password"},
		{"create data-connector kafka x --bootstrap-servers h:1 --sasl-mechanism plain --credentials-file " + bad, "--credentials-file " + bad + ` needs both username and password: want {"username": "…", "password": "…"}`},
		{"create data-connector http x --url http://h --bearer-token-file " + token + " --basic-auth-file " + creds, "give --bearer-token-file or --basic-auth-file, not both"},
		{"create data-connector http x --url http://h --header nope", `--header "nope": want NAME=VALUE`},
		{"create kafka-exporter demo --data-connector hook", `dataConnector: a kafka-exporter writes to a data connector of kind kafka, and "hook" is of kind http`},
	} {
		c.expectError(tc.args, tc.want)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// selfSigned is the PEM of a fresh self-signed CA certificate.
func selfSigned(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
