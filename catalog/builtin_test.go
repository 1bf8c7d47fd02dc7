package catalog_test

import (
	"io/fs"
	"reflect"
	"slices"
	"testing"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/engine"
)

func TestBuiltinFS(t *testing.T) {
	var files []string
	err := fs.WalkDir(catalog.BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"streammachine/clickstream/1.0.0/contract.json",
		"streammachine/clickstream/1.0.0/schema.avsc",
		"streammachine/demo/1.0.2/schema.avsc",
		"streammachine/example/1.3.0/contract.json",
		"strmlocal/sensor/1.0.0/contract.json",
		"strmlocal/sensor/1.0.0/schema.avsc",
		"strmlocal/sensor-json/1.0.0/contract.json",
		"strmlocal/sensor-json/1.0.0/schema.json",
		"strmprivacy/clickstream/1.0.0/contract.json",
		"strmprivacy/clickstream/1.0.0/schema.avsc",
		"strmprivacy/demo/1.0.2/schema.avsc",
		"strmprivacy/example/1.3.0/contract.json",
	}
	if !slices.Equal(files, want) {
		t.Errorf("embedded files:\n got %q\nwant %q", files, want)
	}
}

func TestBuiltinCompiles(t *testing.T) {
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, s := range schemas {
		refs = append(refs, s.Ref().String())
	}
	for _, c := range contracts {
		refs = append(refs, c.Ref().String())
	}
	want := []string{
		"streammachine/clickstream/1.0.0", "streammachine/demo/1.0.2", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/demo/1.0.2",
		"streammachine/clickstream/1.0.0", "streammachine/example/1.3.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0", "strmprivacy/clickstream/1.0.0", "strmprivacy/example/1.3.0",
	}
	if !slices.Equal(refs, want) {
		t.Errorf("refs:\n got %q\nwant %q", refs, want)
	}
}

// TestBuiltinStrmPrivacyCopies: today's STRM drivers name the demo and
// clickstream schemas and contracts under the strmprivacy handle. Those
// entries are copies of the streammachine ones: the same schema definitions,
// and contracts that differ only in pointing at the strmprivacy schema.
func TestBuiltinStrmPrivacyCopies(t *testing.T) {
	schemas, contracts, err := catalog.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	schema := func(ref string) *engine.Schema {
		for _, s := range schemas {
			if s.Ref().String() == ref {
				return s
			}
		}
		t.Fatalf("no schema %s", ref)
		return nil
	}
	contract := func(ref string) engine.Contract {
		for _, c := range contracts {
			if c.Ref().String() == ref {
				return c.Contract()
			}
		}
		t.Fatalf("no contract %s", ref)
		return engine.Contract{}
	}
	for _, name := range []string{"demo/1.0.2", "clickstream/1.0.0"} {
		old, cur := schema("streammachine/"+name), schema("strmprivacy/"+name)
		if old.Definition() != cur.Definition() || old.Type() != cur.Type() {
			t.Errorf("strmprivacy/%s is not the same definition as streammachine/%s", name, name)
		}
	}
	for _, c := range []struct{ contract, schema string }{{"example/1.3.0", "demo/1.0.2"}, {"clickstream/1.0.0", "clickstream/1.0.0"}} {
		old, cur := contract("streammachine/"+c.contract), contract("strmprivacy/"+c.contract)
		if cur.SchemaRef.String() != "strmprivacy/"+c.schema {
			t.Errorf("strmprivacy/%s: schemaRef %s, want strmprivacy/%s", c.contract, cur.SchemaRef, c.schema)
		}
		old.Ref, old.SchemaRef = cur.Ref, cur.SchemaRef
		if !reflect.DeepEqual(old, cur) {
			t.Errorf("strmprivacy/%s differs from streammachine/%s beyond its refs:\n%+v\n%+v", c.contract, c.contract, cur, old)
		}
	}
}
