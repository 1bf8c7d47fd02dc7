package engine_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

func TestLoadCatalogue(t *testing.T) {
	schemas, contracts, err := engine.LoadCatalogue(catalog.BuiltinFS())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range schemas {
		got = append(got, s.Ref().String()+" "+s.Type().String())
	}
	want := []string{
		"streammachine/clickstream/1.0.0 AVRO",
		"streammachine/demo/1.0.2 AVRO",
		"strmlocal/sensor-json/1.0.0 JSON_SCHEMA",
		"strmlocal/sensor/1.0.0 AVRO",
		"strmprivacy/clickstream/1.0.0 AVRO",
		"strmprivacy/demo/1.0.2 AVRO",
	}
	if len(got) != len(want) {
		t.Fatalf("schemas %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("schema %d = %s, want %s", i, got[i], want[i])
		}
	}
	got = nil
	for _, c := range contracts {
		got = append(got, c.Ref().String()+" -> "+c.Schema().Ref().String())
	}
	want = []string{
		"streammachine/clickstream/1.0.0 -> streammachine/clickstream/1.0.0",
		"streammachine/example/1.3.0 -> streammachine/demo/1.0.2",
		"strmlocal/sensor-json/1.0.0 -> strmlocal/sensor-json/1.0.0",
		"strmlocal/sensor/1.0.0 -> strmlocal/sensor/1.0.0",
		"strmprivacy/clickstream/1.0.0 -> strmprivacy/clickstream/1.0.0",
		"strmprivacy/example/1.3.0 -> strmprivacy/demo/1.0.2",
	}
	if len(got) != len(want) {
		t.Fatalf("contracts %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("contract %d = %s, want %s", i, got[i], want[i])
		}
	}
	demo := contracts[1].Contract()
	if demo.KeyField != "consistentValue" || demo.PIIFields["uniqueIdentifier"] != 1 || demo.PIIFields["consistentValue"] != 2 ||
		demo.PIIFields["someSensitiveValue"] != 3 || len(demo.Validations) != 1 || demo.Validations[0].Value != "^.+$" {
		t.Errorf("demo contract %+v", demo)
	}
}

func TestLoadCatalogueErrors(t *testing.T) {
	cat := loadCatalogue(t)
	demoDef := cat.schema(t, "streammachine/demo/1.0.2").Definition()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name string
		fsys fstest.MapFS
		msg  string
		kind error
	}{
		{"empty", fstest.MapFS{}, "catalogue: no schemas found", nil},
		{"stray file", fstest.MapFS{"README.md": file("x")},
			"catalogue: unexpected file 'README.md' (want <handle>/<name>/<version>/schema.avsc, schema.json or contract.json)", nil},
		{"bad version dir", fstest.MapFS{"a/b/v1/schema.avsc": file(demoDef)},
			"catalogue: unexpected file 'a/b/v1/schema.avsc' (want <handle>/<name>/<version>/schema.avsc, schema.json or contract.json)", nil},
		{"unknown file name", fstest.MapFS{"a/b/1.0.0/schema.yaml": file("")},
			"catalogue: unexpected file 'a/b/1.0.0/schema.yaml' (want <handle>/<name>/<version>/schema.avsc, schema.json or contract.json)", nil},
		{"two schemas", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(demoDef), "a/b/1.0.0/schema.json": file("{}")},
			"catalogue: 'a/b/1.0.0/schema.json': schema 'a/b/1.0.0' is defined twice", nil},
		{"bad schema", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(`{"type":"record","name":"X","fields":[]}`)},
			"catalogue: 'a/b/1.0.0/schema.avsc': strmMeta is required: the top level must have a field 'strmMeta' holding eventContractRef, nonce, timestamp, keyLink, billingId and consentLevels", engine.ErrInvalidSchema},
		{"contract without schema", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(demoDef), "a/c/1.0.0/contract.json": file(`{"schemaRef":"a/x/1.0.0","keyField":"consistentValue"}`)},
			"catalogue: 'a/c/1.0.0/contract.json': schemaRef: schema 'a/x/1.0.0' is not in the catalogue", engine.ErrInvalidContract},
		{"contract without schemaRef", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(demoDef), "a/c/1.0.0/contract.json": file(`{"keyField":"consistentValue"}`)},
			"catalogue: 'a/c/1.0.0/contract.json': contract definition: schemaRef: invalid ref '': must have the form handle/name/version", engine.ErrInvalidContract},
		{"contract with unknown field", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(demoDef), "a/c/1.0.0/contract.json": file(`{"schemaRef":"a/b/1.0.0","key":"x"}`)},
			"catalogue: 'a/c/1.0.0/contract.json': contract definition: unknown field 'key' (known fields: schemaRef, keyField, piiFields, validations, dataSubjectField)", engine.ErrInvalidContract},
		{"contract refused", fstest.MapFS{"a/b/1.0.0/schema.avsc": file(demoDef), "a/c/1.0.0/contract.json": file(`{"schemaRef":"a/b/1.0.0","keyField":"nope"}`)},
			"catalogue: 'a/c/1.0.0/contract.json': keyField: 'nope' does not exist in schema 'a/b/1.0.0'", engine.ErrInvalidContract},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := engine.LoadCatalogue(tc.fsys)
			if err == nil {
				t.Fatal("LoadCatalogue succeeded")
			}
			if err.Error() != tc.msg {
				t.Errorf("error:\n got %q\nwant %q", err, tc.msg)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error does not match %v", tc.kind)
			}
		})
	}
}
