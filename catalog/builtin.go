package catalog

import (
	"embed"
	"io/fs"

	"github.com/strmlocal/strmlocal/engine"
)

// builtin holds the built-in catalogue (see docs/registry.md): the tree
// builtin/<handle>/<name>/<version>/ with schema.avsc or schema.json and/or
// contract.json, embedded so the binary needs no files at run time.
//
//go:embed builtin
var builtin embed.FS

// BuiltinFS is the built-in catalogue rooted at its top directory, the form
// engine.LoadCatalogue reads.
func BuiltinFS() fs.FS {
	sub, err := fs.Sub(builtin, "builtin")
	if err != nil {
		// fs.Sub fails only for an invalid path name, and "builtin" is valid.
		panic(err)
	}
	return sub
}

// Builtin compiles the built-in catalogue: its schemas and contracts, sorted
// by ref.
func Builtin() ([]*engine.Schema, []*engine.CompiledContract, error) {
	return engine.LoadCatalogue(BuiltinFS())
}
