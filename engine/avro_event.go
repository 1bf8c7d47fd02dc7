package engine

import "fmt"

// avroPlan as the codec of Avro schemas. Every indexed field has a fixed slot
// (see avroPlan), so finding a value needs no walk through the event.

func (p *avroPlan) serialization() Serialization { return AvroBinary }

func (p *avroPlan) decode(d *decoder, ser Serialization, _ bool) error {
	switch ser {
	case AvroBinary:
		d.vals = d.startVals(int(p.nfixed), extraSlots)
		return d.avroBinary(p.root)
	case JSON:
		d.vals = d.startVals(int(p.nfixed), extraSlots)
		return d.avroJSON(p.root)
	}
	return d.unsupported(ser)
}

func (p *avroPlan) encode(dst []byte, e *Event) []byte {
	return e.appendAvro(dst, p.root, e.vals[0])
}

func (p *avroPlan) appendJSON(dst []byte, e *Event) []byte {
	return e.appendAvroJSON(dst, p.root, e.vals[0])
}

// lookup returns f's fixed slot (Event.slot does not call it for that
// reason). A value under a null record is vAbsent there, which callers read
// as absent.
func (p *avroPlan) lookup(_ []value, f Field) int { return int(f.slot) }

// set replaces the value at f's slot. A nullable field is a [null, T] union
// (the field index holds no other unions), so v takes the non-null branch.
func (p *avroPlan) set(vals []value, f Field, v value) ([]value, error) {
	cur := &vals[f.slot]
	if cur.kind == vAbsent {
		return vals, fmt.Errorf("%w: field '%s' is absent because a parent record is null", ErrField, f.Path)
	}
	if f.Nullable {
		v.branch = 1 - f.nullBr
	}
	if v.kind == vLong && f.Kind == KindInt {
		v.kind = vInt // same bits: vInt holds the int32 sign-extended
	}
	*cur = v
	return vals, nil
}
