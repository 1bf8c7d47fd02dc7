package app

import "testing"

// TestKindSchemasCompile compiles the config schema of every connector and
// job kind this build has: they are compiled on first use, so a broken one
// would otherwise show only when a user first names its kind.
func TestKindSchemasCompile(t *testing.T) {
	var schemas []*kindSchema
	names := map[*kindSchema]string{}
	for _, k := range connectorKindList {
		if d, s := k.describe(); d != nil {
			schemas, names[s] = append(schemas, s), "connector "+d.Name
		}
	}
	for _, k := range jobKindList {
		if d, s := k.describe(); d != nil {
			schemas, names[s] = append(schemas, s), "job "+d.Name
		}
	}
	if len(schemas) != len(connectorKindsSorted)+len(jobKindsSorted) {
		t.Fatalf("%d kinds with a schema, want %d", len(schemas), len(connectorKindsSorted)+len(jobKindsSorted))
	}
	for _, s := range schemas {
		first := s.compiled()
		if first == nil {
			t.Errorf("%s: no compiled schema", names[s])
			continue
		}
		if again := s.compiled(); again != first {
			t.Errorf("%s: compiled again on the second use", names[s])
		}
	}
}
