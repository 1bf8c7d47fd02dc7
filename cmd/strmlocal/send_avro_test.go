package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/strmlocal/strmlocal/catalog"
)

// demoDatum is an event of the built-in demo schema as hamba/avro encodes
// it; the pointers are the ["null", "string"] unions.
type demoDatum struct {
	StrmMeta struct {
		EventContractRef string  `avro:"eventContractRef"`
		Nonce            *int32  `avro:"nonce"`
		Timestamp        *int64  `avro:"timestamp"`
		KeyLink          *string `avro:"keyLink"`
		BillingID        *string `avro:"billingId"`
		ConsentLevels    []int32 `avro:"consentLevels"`
	} `avro:"strmMeta"`
	UniqueIdentifier   *string `avro:"uniqueIdentifier"`
	ConsistentValue    string  `avro:"consistentValue"`
	SomeSensitiveValue *string `avro:"someSensitiveValue"`
	NotSensitiveValue  *string `avro:"notSensitiveValue"`
}

// demoAvro encodes demoEvent(consent, session) as an Avro binary datum of
// streammachine/demo/1.0.2, the schema read from the built-in catalogue.
func demoAvro(t *testing.T, consent []int32, session string) []byte {
	t.Helper()
	def, err := fs.ReadFile(catalog.BuiltinFS(), "streammachine/demo/1.0.2/schema.avsc")
	if err != nil {
		t.Fatal(err)
	}
	schema := avro.MustParse(string(def))
	str := func(s string) *string { return &s }
	var d demoDatum
	d.StrmMeta.EventContractRef = "streammachine/example/1.3.0"
	d.StrmMeta.ConsentLevels = consent
	d.UniqueIdentifier, d.ConsistentValue = str("user-1"), session
	d.SomeSensitiveValue, d.NotSensitiveValue = str("secret-1"), str("plain")
	b, err := avro.Marshal(schema, d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// framed is datums as send --format avro reads them: each after its
// length as an Avro long, encoded by hamba/avro.
func framed(t *testing.T, datums ...[]byte) []byte {
	t.Helper()
	long := avro.MustParse(`"long"`)
	var out []byte
	for _, d := range datums {
		n, err := avro.Marshal(long, int64(len(d)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, n...), d...)
	}
	return out
}

func writeBytes(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSendAvro sends Avro datums made by hamba/avro, and egress prints
// them as it prints the same events sent as JSON.
func TestSendAvro(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.mustRun("create stream --derived-from demo --levels 2")
	d0, d2, d3 := demoAvro(t, []int32{0}, "session-1"), demoAvro(t, []int32{2}, "session-1"), demoAvro(t, []int32{3}, "session-1")
	if len(d0) != 71 || len(d2) != 71 {
		t.Fatalf("datums of %d and %d bytes; the offsets below assume 71", len(d0), len(d2))
	}
	file := writeBytes(t, "datums.bin", framed(t, d0, d2, d3))
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro "+file, 0, "",
		"sent 3 events to demo: 3 accepted (offsets 0-2)\n")

	var l labels
	c.expectLabeled(&l, "egress demo --follow=false", 0,
		meta("[0]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[2]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[3]")+`,"uniqueIdentifier":"<ct-1>","consistentValue":"<ct-2>","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")
	c.expectLabeled(&l, "egress demo-2 --follow=false", 0,
		meta("[2]")+`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n"+
			meta("[3]")+`,"uniqueIdentifier":"user-1","consistentValue":"session-1","someSensitiveValue":"<ct-3>","notSensitiveValue":"plain"}`+"\n", "")

	// The same events as JSON: egress prints the same lines.
	c.mustRun("create stream json")
	c.stdin = demoEvent("[0]", "session-1") + "\n" + demoEvent("[2]", "session-1") + "\n" + demoEvent("[3]", "session-1") + "\n"
	c.mustRun("send json --schema-ref streammachine/demo/1.0.2")
	c.stdin = ""
	var la, lj labels
	if a, j := la.scrub(c.mustRun("egress demo --follow=false")), lj.scrub(c.mustRun("egress json --follow=false")); a != j {
		t.Fatalf("sent as Avro:\n%s\nsent as JSON:\n%s", a, j)
	}

	// A rejected datum is named by its number and byte; a truncated one
	// ends the input, after the datums before it were sent.
	bad := demoAvro(t, []int32{1}, "")
	whole := framed(t, d0, bad, d3)
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro "+writeBytes(t, "cut.bin", whole[:len(whole)-10]), 1,
		"datum 2 (byte 73): rejected: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n",
		"sent 2 events to demo: 1 accepted (offset 3), 1 rejected\n"+
			"strmlocal: invalid Avro input at datum 3 (byte 136): its length says 71 bytes, but the input ends 61 bytes into it\n")

	for _, tc := range []struct {
		input []byte
		err   string
	}{
		// A length cut short, after a whole datum: that one is sent.
		{append(framed(t, d0), 0x8c), "sent 1 event to demo: 1 accepted (offset 4)\nstrmlocal: invalid Avro input at datum 2 (byte 73): the input ends inside its length\n"},
		{[]byte{0x01}, "strmlocal: invalid Avro input at datum 1 (byte 0): its length is negative (-1)\n"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "strmlocal: invalid Avro input at datum 1 (byte 0): its length is no Avro long: over 10 bytes\n"},
		{nil, "strmlocal: no datums to send: give a file of length-delimited Avro datums (see --format), or pipe them in\n"},
	} {
		c.stdin = string(tc.input)
		c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro", 1, "", tc.err)
	}
	c.stdin = string([]byte{0x80, 0x80, 0x80, 0x80, 0x02}) // 2^28 after zig-zag: 256 MiB
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro -", 1, "",
		"strmlocal: invalid Avro input at datum 1 (byte 0): its length is 268435456 bytes, over the limit of 64 MiB\n")

	// One datum per file.
	f1, f2 := writeBytes(t, "one.avro", d2), writeBytes(t, "two.avro", bad)
	c.stdin = ""
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro --one-datum "+f1+" "+f2, 1,
		f2+": rejected: Field: 'consistentValue' in event with schema: 'streammachine/demo/1.0.2' with value: '' doesn't match regex: '^.+$'\n",
		"sent 2 events to demo: 1 accepted (offset 5), 1 rejected\nstrmlocal: 1 of 2 events rejected\n")
	c.stdin = string(d3)
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro --one-datum", 0, "", "sent 1 event to demo: 1 accepted (offset 6)\n")

	// Flags that do not go together.
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --one-datum "+f1, 1, "", "strmlocal: --one-datum is for --format avro: add it, or leave --one-datum out\n")
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format xml", 1, "", "strmlocal: invalid --format \"xml\": use json or avro\n")
	c.expect("send demo --schema-ref streammachine/demo/1.0.2 --format avro "+f1+" "+f2, 1, "", "strmlocal: accepts between 1 and 2 arg(s), received 3\n")
}
