package testdata

import (
	"io/fs"
	"slices"
	"testing"
)

func TestCatalogueFS(t *testing.T) {
	var files []string
	err := fs.WalkDir(CatalogueFS(), ".", func(p string, d fs.DirEntry, err error) error {
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
