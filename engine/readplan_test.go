package engine_test

import (
	"fmt"
	"testing"

	"github.com/strmlocal/strmlocal/engine"
)

// The datadriven apply cases also run every event through a ReadPlan
// (checkPlan in datadriven_test.go); these are what is particular to plans.

// A plan refuses what View.Apply refuses per event, once: masked paths that
// are not string fields of the contract's schema.
func TestReadPlanRefusesMasked(t *testing.T) {
	cat := loadCatalogue(t)
	cc := cat.contract(t, clickRef)
	for _, tc := range []struct {
		masked []string
		want   string
	}{
		{[]string{"nope"}, "masked: 'nope' (contract 'streammachine/clickstream/1.0.0') does not exist in schema 'streammachine/clickstream/1.0.0'"},
		{[]string{"conversion"}, "masked: 'conversion' (contract 'streammachine/clickstream/1.0.0') must be a string or nullable string, but is int"},
		{[]string{"url", "url"}, "masked: 'url' (contract 'streammachine/clickstream/1.0.0') is listed more than once"},
	} {
		v := engine.View{Type: engine.Granular, Levels: []int32{0, 1}, Masked: map[string][]string{clickRef: tc.masked}}
		_, err := engine.NewReadPlan(cat.schema(t, clickRef), cc, &v)
		if err == nil || err.Error() != tc.want {
			t.Errorf("masked %v: err = %v, want %s", tc.masked, err, tc.want)
		}
	}
}

// Decode reuses the plan's event: the event of one record is overwritten by
// the next, and a stored event that does not decode is refused as
// DecodeStored refuses it.
func TestReadPlanDecode(t *testing.T) {
	cat := loadCatalogue(t)
	s := cat.schema(t, clickRef)
	p, err := engine.NewReadPlan(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, url := range []string{"https://a.example/1", "https://b.example/2"} {
		ev := sampleClickstream()
		ev.URL = url
		bodies = append(bodies, marshal(t, s, ev))
	}
	first, err := p.Decode(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := first.GetStringPath("url"); got != "https://a.example/1" {
		t.Fatalf("first url = %q", got)
	}
	second, err := p.Decode(bodies[1])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.DecodeStored(bodies[1])
	if second != first || string(second.AppendJSON(nil)) != string(want.AppendJSON(nil)) {
		t.Fatalf("second decode: same event %v, JSON\n%s\nwant\n%s", second == first, second.AppendJSON(nil), want.AppendJSON(nil))
	}
	_, err = p.Decode(bodies[1][:10])
	_, wantErr := s.DecodeStored(bodies[1][:10])
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Fatalf("truncated: err = %v, DecodeStored's = %v", err, wantErr)
	}
}

// A MetaParser parses as ParseRecordMeta does, and hands out the same
// strings and consent slices for the same values.
func TestMetaParser(t *testing.T) {
	metas := []engine.RecordMeta{
		{SchemaRef: clickRef, ContractRef: clickRef, KeyLink: "link-a", Consent: []int32{0, 1}},
		{SchemaRef: clickRef, ContractRef: clickRef, KeyLink: "link-b", Consent: []int32{0, 1}},
		{SchemaRef: clickRef, ContractRef: clickRef, KeyLink: "link-a", Consent: []int32{2}},
		{SchemaRef: clickRef, ContractRef: clickRef, KeyLink: "", Consent: nil},
	}
	var p engine.MetaParser
	var got []engine.RecordMeta
	for _, m := range metas {
		b := m.Append(nil)
		want, err := engine.ParseRecordMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := p.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%#v", m2) != fmt.Sprintf("%#v", want) {
			t.Fatalf("Parse = %#v, want %#v", m2, want)
		}
		got = append(got, m2)
	}
	if &got[0].Consent[0] != &got[1].Consent[0] {
		t.Error("equal consent levels are not shared")
	}
	if got[0].KeyLink != got[2].KeyLink || &got[0].Consent[0] == &got[2].Consent[0] {
		t.Errorf("key link %q and %q; consent %v and %v", got[0].KeyLink, got[2].KeyLink, got[0].Consent, got[2].Consent)
	}
	for _, b := range [][]byte{nil, {2}, {1, 5, 'a'}, append(metas[0].Append(nil), 0)} {
		if _, err := p.Parse(b); err == nil || err.Error() != "engine: corrupt record metadata" {
			t.Errorf("Parse(%v) err = %v, want engine: corrupt record metadata", b, err)
		}
	}
}
