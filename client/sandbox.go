package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"
)

// LoadSandbox reads a sandbox document (docs/sandbox.md) from a YAML or
// JSON file and returns it as the SandboxService takes it: as JSON, with
// every definitionFile of schemas and eventContracts replaced by a
// definition holding the file's text (a path relative to the document's
// directory). Whether the fields of the document are right is the server's
// to say.
func LoadSandbox(path string) (*structpb.Struct, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the sandbox file: %w", err)
	}
	doc, err := ParseSandbox(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// ParseSandbox is LoadSandbox of a document already read, its file
// references relative to dir.
func ParseSandbox(data []byte, dir string) (*structpb.Struct, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %s", yamlError(err))
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %w", err)
	}
	if v == nil {
		v = map[string]any{} // an empty file: an empty document
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("a sandbox document is an object of schemas, eventContracts, streams, dataConnectors and jobs")
	}
	for _, list := range []string{"schemas", "eventContracts"} {
		items, _ := doc[list].([]any)
		for i, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if err := inline(m, fmt.Sprintf("%s[%d]", list, i), dir); err != nil {
				return nil, err
			}
		}
	}
	st, err := structpb.NewStruct(doc)
	if err != nil {
		return nil, fmt.Errorf("not a JSON document: %w", err)
	}
	return st, nil
}

// inline replaces the definitionFile of an item by a definition with the
// file's text.
func inline(item map[string]any, path, dir string) error {
	ref, ok := item["definitionFile"]
	if !ok {
		return nil
	}
	file, ok := ref.(string)
	if !ok || file == "" {
		return fmt.Errorf("%s.definitionFile: must be a file name, relative to the document's directory", path)
	}
	if _, both := item["definition"]; both {
		return fmt.Errorf("%s: give definition or definitionFile, not both", path)
	}
	full := file
	if !filepath.IsAbs(file) {
		full = filepath.Join(dir, file)
	}
	text, err := os.ReadFile(full)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s.definitionFile: cannot read %s (relative to the document's directory): %w", path, file, err)
	}
	delete(item, "definitionFile")
	item["definition"] = string(text)
	return nil
}

// yamlError is the YAML parser's error on one line, without its
// boilerplate: `line 2: key "streams" already set in map`.
func yamlError(err error) string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "yaml: ")
		if l != "" && l != "unmarshal errors:" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
