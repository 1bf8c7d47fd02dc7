package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/strmlocal/strmlocal/engine"
)

// The pipeline's semantics as datadriven files (testdata/decode, check and
// derive): each case is "cmd args / input / ---- / output". Run with
// -rewrite to regenerate the outputs, then read every changed one against
// docs/pipeline.md and docs/registry.md before committing it.
//
// Commands:
//
//	decode schema=REF [ser=json|avro-hex] [stored]
//	    Decode the input (JSON, or hex of Avro binary) and print the event as
//	    AppendJSON renders it. stored decodes with DecodeStored (no JSON
//	    Schema validation). Every decoded event must survive Encode then
//	    DecodeStored unchanged; the driver checks that silently.
//	check schema=REF [ser=json|avro-hex] [max=BYTES]
//	    Run Validate (decode, resolve strmMeta.eventContractRef in the
//	    built-in catalogue, Check) and print the verdict: the contract, the
//	    key field and the consent levels as accepted, or the rejection.
//	ingest schema=REF
//	    Validate the input and encrypt its PII with fakeKey, store it as
//	    Encode gives it and read it back with DecodeStored, as the log would.
//	    Prints the stored event; later apply commands work on it.
//	apply type=cumulative|granular levels=L|(L,...) [masked=(PATH,...)] [seed=S] [shredded]
//	    Show the last ingested event as that derived view shows it: whether
//	    the view keeps it, what Apply did and the resulting JSON. masked
//	    applies to the event's contract; shredded means the key is gone.
//	keeps type=... levels=...
//	    One line of consent levels per input line, e.g. [0,2]; prints
//	    whether the view keeps an event with those levels.
//	apply ... emit-field=P emit-values=(V,...)
//	    apply with an emit filter: "dropped: emit filter ..." when the
//	    view's event does not match.
//	check-emit contract=REF type=... levels=... [masked=(...)] emit-field=P emit-values=(...)
//	    CheckEmitFilter of the view against the contract.
//	parse-emit
//	    One filter per input line; prints ParseEmitFilter's result.
//	mask [seed=S]
//	    One value per input line; prints Mask(S, value). No seed is the
//	    empty seed.
func TestDatadriven(t *testing.T) {
	cat := loadCatalogue(t)
	for _, file := range []string{"testdata/decode", "testdata/check", "testdata/derive", "testdata/emit"} {
		t.Run(strings.TrimPrefix(file, "testdata/"), func(t *testing.T) {
			d := &ddState{cat: cat}
			datadriven.RunTest(t, file, d.run)
		})
	}
}

type ddState struct {
	cat     catalogue
	stored  *engine.Event
	storedC *engine.CompiledContract
}

func (d *ddState) run(t *testing.T, td *datadriven.TestData) string {
	switch td.Cmd {
	case "decode":
		s, body := d.body(t, td)
		var ev *engine.Event
		var err error
		if td.HasArg("stored") {
			ev, err = s.DecodeStored(body)
		} else {
			ev, err = s.Decode(ddSerialization(t, td), body)
		}
		if err != nil {
			return ddError(err)
		}
		out := string(ev.AppendJSON(nil))
		back, err := s.DecodeStored(ev.Encode(nil))
		if err != nil {
			t.Fatalf("%s: re-encoded event does not decode: %v", td.Pos, err)
		}
		if again := string(back.AppendJSON(nil)); again != out {
			t.Fatalf("%s: event changed by Encode and DecodeStored:\n%s\n%s", td.Pos, out, again)
		}
		return out + "\n"

	case "check":
		s, body := d.body(t, td)
		maxBytes := engine.DefaultMaxEventBytes
		td.MaybeScanArgs(t, "max", &maxBytes)
		ev, cc, err := engine.Validate(s, ddSerialization(t, td), body, maxBytes, d.contracts)
		if err != nil {
			return ddError(err)
		}
		key, _ := cc.KeyValue(ev)
		return fmt.Sprintf("accepted: contract %s, key field %s = %q, consent %s\n", cc.Ref(), cc.KeyField().Path, key, ddLevels(ev.ConsentLevels()))

	case "ingest":
		s, body := d.body(t, td)
		ev, cc, err := engine.Validate(s, engine.JSON, body, engine.DefaultMaxEventBytes, d.contracts)
		if err != nil {
			return ddError(err)
		}
		if err := cc.Encrypt(ev, fakeKey{}); err != nil {
			t.Fatalf("%s: %v", td.Pos, err)
		}
		back, err := s.DecodeStored(ev.Encode(nil))
		if err != nil {
			t.Fatalf("%s: stored event does not decode: %v", td.Pos, err)
		}
		d.stored, d.storedC = back, cc
		return string(back.AppendJSON(nil)) + "\n"

	case "apply":
		if d.stored == nil {
			t.Fatalf("%s: apply before ingest", td.Pos)
		}
		v := ddView(t, td, d.storedC.Ref().String())
		consent := d.stored.ConsentLevels()
		ev := d.stored.Clone()
		var dec engine.Decrypter = fakeKey{}
		if td.HasArg("shredded") {
			dec = nil
		}
		a, err := v.Apply(ev, d.storedC, dec)
		d.checkPlan(t, td, &v, dec, a, err, ev)
		if !v.Keeps(consent) {
			if !errors.Is(err, engine.ErrNotInView) {
				t.Fatalf("%s: Apply on an event the view drops: err = %v, want ErrNotInView", td.Pos, err)
			}
			return fmt.Sprintf("dropped: consent %s\n", ddLevels(consent))
		}
		if err != nil {
			return ddError(err)
		}
		if !v.Emits(ev) {
			return fmt.Sprintf("dropped: emit filter %s\n", v.Emit)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "kept: consent %s\n", ddLevels(consent))
		for _, l := range []struct {
			name  string
			paths []string
		}{{"decrypted", a.Decrypted}, {"masked", a.Masked}, {"encrypted", a.Encrypted}} {
			fmt.Fprintf(&b, "%s: %s\n", l.name, ddList(l.paths))
		}
		if a.Shredded {
			b.WriteString("shredded\n")
		}
		b.Write(ev.AppendJSON(nil))
		b.WriteByte('\n')
		return b.String()

	case "keeps":
		v := ddView(t, td, "")
		var b strings.Builder
		for _, line := range ddLines(td.Input) {
			var consent []int32
			for _, f := range strings.Split(strings.Trim(line, "[]"), ",") {
				if f = strings.TrimSpace(f); f == "" {
					continue
				}
				n, err := strconv.ParseInt(f, 10, 32)
				if err != nil {
					t.Fatalf("%s: bad consent %q", td.Pos, line)
				}
				consent = append(consent, int32(n))
			}
			verdict := "dropped"
			if v.Keeps(consent) {
				verdict = "kept"
			}
			fmt.Fprintf(&b, "%s %s\n", line, verdict)
		}
		return b.String()

	case "check-emit":
		var ref string
		td.ScanArgs(t, "contract", &ref)
		cc, err := d.contracts(ref)
		if err != nil {
			t.Fatalf("%s: %v", td.Pos, err)
		}
		exists, err := ddView(t, td, ref).CheckEmitFilter(cc)
		if err != nil {
			return ddError(err)
		}
		return fmt.Sprintf("ok, field exists: %v\n", exists)

	case "parse-emit":
		var b strings.Builder
		for _, line := range ddLines(td.Input) {
			f, err := engine.ParseEmitFilter(line)
			if err != nil {
				fmt.Fprintf(&b, "%s → %v\n", line, err)
				continue
			}
			fmt.Fprintf(&b, "%s → path %q values %q\n", line, f.Path, f.Values)
		}
		return b.String()

	case "mask":
		var seed string
		td.MaybeScanArgs(t, "seed", &seed)
		var b strings.Builder
		for _, line := range ddLines(td.Input) {
			fmt.Fprintf(&b, "%s %s\n", line, engine.Mask(seed, line))
		}
		return b.String()
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

// contracts resolves contract refs in the built-in catalogue, as the
// registry resolves ACTIVE ones.
func (d *ddState) contracts(ref string) (*engine.CompiledContract, error) {
	cc, ok := d.cat.contracts[ref]
	if !ok {
		return nil, fmt.Errorf("no ACTIVE event contract '%s'", ref)
	}
	return cc, nil
}

// body returns the schema named by the schema argument and the input as a
// body: the text itself, or with ser=avro-hex the bytes it spells in hex
// (whitespace ignored).
func (d *ddState) body(t *testing.T, td *datadriven.TestData) (*engine.Schema, []byte) {
	t.Helper()
	var ref string
	td.ScanArgs(t, "schema", &ref)
	s := d.cat.schema(t, ref)
	if ser, _ := td.Arg("ser"); len(ser.Vals) == 1 && ser.Vals[0] == "avro-hex" {
		hex := strings.Join(strings.Fields(td.Input), "")
		body := make([]byte, len(hex)/2)
		for i := range body {
			n, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
			if err != nil {
				t.Fatalf("%s: bad hex: %v", td.Pos, err)
			}
			body[i] = byte(n)
		}
		return s, body
	}
	return s, []byte(td.Input)
}

func ddSerialization(t *testing.T, td *datadriven.TestData) engine.Serialization {
	ser := "json"
	td.MaybeScanArgs(t, "ser", &ser)
	switch ser {
	case "json":
		return engine.JSON
	case "avro-hex":
		return engine.AvroBinary
	}
	t.Fatalf("%s: unknown ser %q", td.Pos, ser)
	return 0
}

// ddView builds the view the arguments describe; masked paths apply to
// contract ref.
// checkPlan runs the last ingested event through a ReadPlan of view v, as
// a reader does (the stored bytes decoded into the plan's memory, twice, so
// the second decode reuses it), and fails unless the plan does what
// View.Apply did: the same Applied and JSON (ev), or the same error.
func (d *ddState) checkPlan(t *testing.T, td *datadriven.TestData, v *engine.View, dec engine.Decrypter, want engine.Applied, wantErr error, ev *engine.Event) {
	t.Helper()
	stored := d.stored.Encode(nil)
	p, err := engine.NewReadPlan(d.stored.Schema(), d.storedC, v)
	if err != nil {
		if wantErr == nil || err.Error() != wantErr.Error() {
			t.Fatalf("%s: NewReadPlan: %v; Apply: %v", td.Pos, err, wantErr)
		}
		return
	}
	for range 2 {
		got, err := p.Decode(stored)
		if err != nil {
			t.Fatalf("%s: plan Decode: %v", td.Pos, err)
		}
		a, err := p.Apply(got, dec)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("%s: plan Apply error %v, View.Apply %v", td.Pos, err, wantErr)
		}
		if err != nil {
			continue
		}
		if fmt.Sprintf("%#v", a) != fmt.Sprintf("%#v", want) {
			t.Fatalf("%s: plan Apply %#v, View.Apply %#v", td.Pos, a, want)
		}
		if g, w := string(got.AppendJSON(nil)), string(ev.AppendJSON(nil)); g != w {
			t.Fatalf("%s: plan renders\n%s\nView.Apply\n%s", td.Pos, g, w)
		}
	}
}

func ddView(t *testing.T, td *datadriven.TestData, ref string) engine.View {
	var typ string
	td.ScanArgs(t, "type", &typ)
	ct, err := engine.ParseConsentType(typ)
	if err != nil {
		t.Fatalf("%s: %v", td.Pos, err)
	}
	v := engine.View{Type: ct}
	levels, _ := td.Arg("levels")
	for _, l := range levels.Vals {
		n, err := strconv.ParseInt(l, 10, 32)
		if err != nil {
			t.Fatalf("%s: bad level %q", td.Pos, l)
		}
		v.Levels = append(v.Levels, int32(n))
	}
	if m, ok := td.Arg("masked"); ok {
		v.Masked = map[string][]string{ref: m.Vals}
	}
	td.MaybeScanArgs(t, "seed", &v.Seed)
	if f, ok := td.Arg("emit-field"); ok {
		vals, _ := td.Arg("emit-values")
		v.Emit = &engine.EmitFilter{Path: f.Vals[0], Values: vals.Vals}
	}
	if err := v.Validate(); err != nil {
		t.Fatalf("%s: %v", td.Pos, err)
	}
	return v
}

// ddError prints an error as the driver's outputs show it: the sentinels it
// matches, the rejected field and rule, and the message as the user sees it.
func ddError(err error) string {
	var b strings.Builder
	b.WriteString("error")
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrInvalidEvent", engine.ErrInvalidEvent},
		{"ErrRejected", engine.ErrRejected},
		{"ErrInvalidView", engine.ErrInvalidView},
		{"ErrNotInView", engine.ErrNotInView},
		{"ErrDecrypt", engine.ErrDecrypt},
		{"ErrField", engine.ErrField},
	} {
		if errors.Is(err, s.err) {
			b.WriteString(" " + s.name)
		}
	}
	var re *engine.RejectError
	if errors.As(err, &re) {
		fmt.Fprintf(&b, " rule=%s", re.Rule)
		if re.Field != "" {
			fmt.Fprintf(&b, " field=%s", re.Field)
		}
	}
	b.WriteString(":\n" + err.Error() + "\n")
	return b.String()
}

func ddLevels(levels []int32) string {
	s := make([]string, len(levels))
	for i, l := range levels {
		s[i] = strconv.Itoa(int(l))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func ddList(paths []string) string {
	if len(paths) == 0 {
		return "-"
	}
	return strings.Join(slices.Clone(paths), " ")
}

func ddLines(input string) []string {
	var out []string
	for _, l := range strings.Split(input, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
