package catalog_test

import (
	"io/fs"
	"slices"
	"testing"

	"github.com/strmlocal/strmlocal/catalog"
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
		"streammachine/clickstream/1.0.0", "streammachine/demo/1.0.2", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0",
		"streammachine/clickstream/1.0.0", "streammachine/example/1.3.0", "strmlocal/sensor-json/1.0.0", "strmlocal/sensor/1.0.0",
	}
	if !slices.Equal(refs, want) {
		t.Errorf("refs:\n got %q\nwant %q", refs, want)
	}
}
