package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/strmlocal/strmlocal/"

type pkg struct {
	ImportPath string
	Imports    []string // of the non-test files
	Deps       []string // transitive, of the non-test files
}

// packages lists every package of the module with its imports, as the go
// command sees them.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// in reports whether the package path (relative to the module) is dir or
// below it.
func in(path string, dirs ...string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

func local(paths []string) []string {
	var out []string
	for _, p := range paths {
		if rel, ok := strings.CutPrefix(p, module); ok {
			out = append(out, rel)
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	pkgs := packages(t)
	// The listing must show what it is asked about, or every rule passes.
	if !slices.Contains(local(pkgs["rpc"].Deps), "keys") || !slices.Contains(local(pkgs["rpc"].Imports), "app") {
		t.Fatalf("go list shows rpc without its dependencies: %+v", pkgs["rpc"])
	}
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := pkgs[name]
		imports, deps := local(p.Imports), local(p.Deps)
		// engine is a leaf: the privacy semantics on plain Go values.
		if in(name, "engine") {
			for _, d := range deps {
				if in(d, "keys", "log", "api", "rpc", "app", "catalog", "client") {
					t.Errorf("engine must not depend on %s (via %s)", d, name)
				}
			}
		}
		// Generated protobuf types stop at the edges.
		if !in(name, "api", "rpc", "client", "cmd", "tui", "sim", "strmtest") {
			for _, d := range imports {
				if in(d, "api") {
					t.Errorf("%s imports the generated API package %s: protobuf types stop at rpc, client, cmd, tui, sim and strmtest", name, d)
				}
			}
		}
		// rpc is transports: storage and crypto are the application's.
		if in(name, "rpc") {
			for _, d := range p.Imports {
				if strings.HasPrefix(d, "github.com/cockroachdb/pebble") || strings.HasPrefix(d, "github.com/tink-crypto/tink-go") {
					t.Errorf("rpc imports %s: storage and keys belong to package app and below", d)
				}
			}
		}
		// testdata holds test inputs, never code the product runs.
		for _, d := range deps {
			if in(d, "testdata") || strings.Contains(d, "/testdata") {
				t.Errorf("%s depends on %s: production code must not import testdata", name, d)
			}
		}
		// Data flows one way: nothing below the application layer reaches
		// up to it or to the transports.
		if in(name, "engine", "keys", "log", "catalog", "internal", "exporter") {
			for _, d := range deps {
				if in(d, "app", "rpc", "client", "cmd", "tui", "sim", "strmtest") {
					t.Errorf("%s depends on %s: packages below app must not import it or anything above it", name, d)
				}
			}
		}
		// The storage backends below the parts know nothing of what they
		// store: the PostgreSQL state holds the parts' keys and values,
		// the Kafka log the log's records (docs/scale-out.md).
		if in(name, "internal/store", "log") {
			for _, d := range deps {
				if in(d, "engine", "keys", "catalog", "exporter") {
					t.Errorf("%s depends on %s: a log or state backend stores bytes and knows nothing of events, keys or the catalogue", name, d)
				}
			}
		}
		// Sinks know nothing of streams, keys or the store: they write
		// the bytes they are given (docs/jobs.md).
		if in(name, "exporter") {
			for _, d := range deps {
				if in(d, "engine", "keys", "log", "catalog", "internal/store") {
					t.Errorf("%s depends on %s: a sink writes what it is given and knows nothing of streams", name, d)
				}
			}
		}
	}
}
