// Package testdata holds strmlocal's built-in catalogue (SPEC §8): the schemas
// and event contracts the server registers on first start, embedded so the
// binary needs no files at run time.
package testdata

import (
	"embed"
	"io/fs"
)

// Catalogue holds the tree catalogue/<handle>/<name>/<version>/ with
// schema.avsc or schema.json and/or contract.json; engine.LoadCatalogue reads
// it (rooted at "catalogue", see CatalogueFS).
//
//go:embed catalogue
var Catalogue embed.FS

// CatalogueFS returns Catalogue rooted at the catalogue directory, the form
// engine.LoadCatalogue expects.
func CatalogueFS() fs.FS {
	sub, err := fs.Sub(Catalogue, "catalogue")
	if err != nil {
		// fs.Sub fails only for an invalid path name, and "catalogue" is valid.
		panic(err)
	}
	return sub
}
