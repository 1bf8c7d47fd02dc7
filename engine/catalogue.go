package engine

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Catalogue file names. A catalogue is a tree <handle>/<name>/<version>/ whose
// leaves hold a schema (schema.avsc for Avro, schema.json for JSON Schema), a
// contract (contract.json: "schemaRef" plus the ParseContractDefinition
// fields), or both when a schema and a contract share a ref.
const (
	catalogueAvro     = "schema.avsc"
	catalogueJSON     = "schema.json"
	catalogueContract = "contract.json"
)

// LoadCatalogue compiles every schema and contract under fsys, which is rooted
// at the catalogue directory. Results are sorted by ref. Any unexpected file
// or invalid entry fails the whole load, naming the file.
func LoadCatalogue(fsys fs.FS) ([]*Schema, []*CompiledContract, error) {
	type entry struct {
		ref  Ref
		file string
	}
	var schemaFiles, contractFiles []entry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		dir, file := path.Split(p)
		ref, rerr := ParseRef(strings.TrimSuffix(dir, "/"))
		switch {
		case rerr != nil || !slices.Contains([]string{catalogueAvro, catalogueJSON, catalogueContract}, file):
			return fmt.Errorf("catalogue: unexpected file '%s' (want <handle>/<name>/<version>/%s, %s or %s)", p, catalogueAvro, catalogueJSON, catalogueContract)
		case file == catalogueContract:
			contractFiles = append(contractFiles, entry{ref, p})
		default:
			schemaFiles = append(schemaFiles, entry{ref, p})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}

	schemas := map[Ref]*Schema{}
	for _, e := range schemaFiles {
		if _, dup := schemas[e.ref]; dup {
			return nil, nil, fmt.Errorf("catalogue: '%s': schema '%s' is defined twice", e.file, e.ref)
		}
		def, err := fs.ReadFile(fsys, e.file)
		if err != nil {
			return nil, nil, err
		}
		typ := Avro
		if path.Base(e.file) == catalogueJSON {
			typ = JSONSchema
		}
		s, err := CompileSchema(e.ref, typ, def)
		if err != nil {
			return nil, nil, fmt.Errorf("catalogue: '%s': %w", e.file, err)
		}
		schemas[e.ref] = s
	}

	var contracts []*CompiledContract
	for _, e := range contractFiles {
		data, err := fs.ReadFile(fsys, e.file)
		if err != nil {
			return nil, nil, err
		}
		c, sref, err := parseContract(data, true)
		if err != nil {
			return nil, nil, fmt.Errorf("catalogue: '%s': %w", e.file, err)
		}
		s, ok := schemas[sref]
		if !ok {
			return nil, nil, fmt.Errorf("catalogue: '%s': %w", e.file, contractError("schemaRef", "schemaRef: schema '%s' is not in the catalogue", sref))
		}
		c.Ref, c.SchemaRef = e.ref, sref
		cc, err := CompileContract(c, s)
		if err != nil {
			return nil, nil, fmt.Errorf("catalogue: '%s': %w", e.file, err)
		}
		contracts = append(contracts, cc)
	}

	out := make([]*Schema, 0, len(schemas))
	for _, s := range schemas {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Schema) int { return cmp.Compare(a.ref.String(), b.ref.String()) })
	slices.SortFunc(contracts, func(a, b *CompiledContract) int { return cmp.Compare(a.Ref().String(), b.Ref().String()) })
	if len(out) == 0 {
		return nil, nil, errors.New("catalogue: no schemas found")
	}
	return out, contracts, nil
}
