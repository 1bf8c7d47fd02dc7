package sim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/sim"
)

var update = flag.Bool("update", false, "rewrite sim/testdata/*.golden")

// catalogue returns the definitions of the built-in schemas, as the server
// would return them.
func catalogue(t testing.TB) map[string]string {
	t.Helper()
	defs := map[string]string{}
	root := catalog.BuiltinFS()
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "schema.") {
			return err
		}
		b, err := fs.ReadFile(root, path)
		defs[filepath.Dir(path)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

// generate returns the first n things a generator makes.
func generate(t testing.TB, name string, cfg sim.Config, n int) []sim.Event {
	t.Helper()
	g, err := sim.New(name, cfg, catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sim.Event, n)
	for i := range out {
		if err := g.Next(&out[i]); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	return out
}

// decoded is an event body as a generic value, for reading fields in tests.
func decoded(t testing.TB, defs map[string]string, e sim.Event) map[string]any {
	t.Helper()
	var m map[string]any
	var err error
	if e.JSON {
		err = json.Unmarshal(e.Body, &m)
	} else {
		var s avro.Schema
		if s, err = avro.ParseWithCache(defs[e.Schema], "", &avro.SchemaCache{}); err == nil {
			err = avro.Unmarshal(s, e.Body, &m)
		}
	}
	if err != nil {
		t.Fatalf("decode %s: %v", e.Schema, err)
	}
	return m
}

// field reads a '/'-separated path of a decoded event, "" when absent.
func field(m map[string]any, path string) string {
	var v any = m
	for _, p := range strings.Split(path, "/") {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any: // an Avro union with its branch name
		for _, x := range v {
			return fmt.Sprint(x)
		}
	}
	return fmt.Sprint(v)
}

// goldenConfig is the configuration the golden files are made with.
func goldenConfig() sim.Config {
	return sim.Config{Seed: 42, InvalidRatio: 0.1, Clock: sim.StepClock(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), time.Second)}
}

// tallied are the fields whose values the golden files count, per
// generator: enough to see the shape of the simulation at a glance.
var tallied = map[string][]string{
	"demo":        {"strmMeta/consentLevels"},
	"clickstream": {"eventType", "strmMeta/consentLevels", "conversion"},
	"sensors":     {"powerState", "readingStatus", "strmMeta/consentLevels"},
}

// TestGolden proves that a seed and a virtual clock fix every byte of the
// events: the first events of each generator are written out in full, and
// a hash covers the first 5000. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	defs := catalogue(t)
	for _, name := range sim.Names {
		t.Run(name, func(t *testing.T) {
			const shown, hashed = 40, 5000
			events := generate(t, name, goldenConfig(), hashed)
			var b bytes.Buffer
			fmt.Fprintf(&b, "# sim.New(%q): seed 42, invalid ratio 0.1, clock 2026-11-22T12:00:00Z + 1s per read\n", name)
			h := sha256.New()
			counts := map[string]int{}
			for i, e := range events {
				fmt.Fprintf(h, "%s %v %q %d %s|", e.Schema, e.JSON, e.Body, e.Invalid, e.Forget)
				switch {
				case e.Forget != "":
					counts["forget"]++
				case e.Invalid != sim.Valid:
					counts["invalid: "+e.Invalid.String()]++
				default:
					m := decoded(t, defs, e)
					for _, f := range tallied[name] {
						counts[f+"="+field(m, f)]++
					}
					counts["schema="+e.Schema]++
				}
				if i >= shown {
					continue
				}
				switch {
				case e.Forget != "":
					fmt.Fprintf(&b, "%d forget %s\n", i, e.Forget)
				case e.JSON:
					fmt.Fprintf(&b, "%d %s json %s %s\n", i, e.Schema, describe(e), e.Body)
				default:
					fmt.Fprintf(&b, "%d %s avro %s %s\n", i, e.Schema, describe(e), quote(e.Body))
				}
			}
			fmt.Fprintf(&b, "# counts over the first %d:\n", hashed)
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				fmt.Fprintf(&b, "%s: %d\n", k, counts[k])
			}
			fmt.Fprintf(&b, "# sha256 over the first %d: %x\n", hashed, h.Sum(nil))

			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("%s differs (run with -update if the change is intended):\n%s", path, diffLines(string(want), got))
			}
		})
	}
}

func describe(e sim.Event) string {
	if e.Invalid == sim.Valid {
		return "valid"
	}
	return fmt.Sprintf("invalid(%s → %s)", e.Invalid, e.Expect)
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)) && b.Len() < 4000; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// TestSameSeed runs each generator twice: the same seed gives the same
// events, another seed other events.
func TestSameSeed(t *testing.T) {
	for _, name := range sim.Names {
		t.Run(name, func(t *testing.T) {
			a := generate(t, name, goldenConfig(), 3000)
			b := generate(t, name, goldenConfig(), 3000)
			other := goldenConfig()
			other.Seed = 43
			c := generate(t, name, other, 3000)
			same, differ := 0, 0
			for i := range a {
				if !bytes.Equal(a[i].Body, b[i].Body) || a[i].Forget != b[i].Forget || a[i].Invalid != b[i].Invalid {
					t.Fatalf("event %d differs between two runs with seed 42", i)
				}
				if bytes.Equal(a[i].Body, c[i].Body) {
					same++
				} else {
					differ++
				}
			}
			if differ < 2900 {
				t.Errorf("seeds 42 and 43 made %d equal and %d different events", same, differ)
			}
		})
	}
}

// quote shows a binary body: printable ASCII as is, other bytes as \xNN.
func quote(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, "\\x%02x", c)
		}
	}
	s.WriteByte('"')
	return s.String()
}
