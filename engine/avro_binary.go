package engine

import (
	"encoding/binary"
	"unicode/utf8"
)

// avroBinary decodes d.raw as one bare Avro binary datum of root.
func (d *decoder) avroBinary(root *anode) error {
	v, err := d.bin(root)
	if err != nil {
		return err
	}
	d.vals[0] = v
	if rest := len(d.raw) - d.pos; rest > 0 {
		return errf("%d unexpected bytes after the event", rest)
	}
	return nil
}

func (d *decoder) eof() error { return errf("unexpected end of data") }

func (d *decoder) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if d.pos >= len(d.raw) {
			return 0, d.eof()
		}
		b := d.raw[d.pos]
		d.pos++
		if shift == 63 && b > 1 {
			return 0, errf("malformed long: more than 64 bits")
		}
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errf("malformed long: more than 64 bits")
}

func (d *decoder) int() (int32, error) {
	var u uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if d.pos >= len(d.raw) {
			return 0, d.eof()
		}
		b := d.raw[d.pos]
		d.pos++
		if shift == 28 && b > 0x0f {
			return 0, errf("malformed int: more than 32 bits")
		}
		u |= uint32(b&0x7f) << shift
		if b < 0x80 {
			return int32(u>>1) ^ -int32(u&1), nil
		}
	}
	return 0, errf("malformed int: more than 32 bits")
}

// bytes reads a length-prefixed byte string as a substring of the body.
func (d *decoder) bytes() (string, error) {
	n, err := d.long()
	if err != nil {
		return "", err
	}
	if n < 0 {
		return "", errf("negative length %d", n)
	}
	if n > int64(len(d.raw)-d.pos) {
		return "", d.eof()
	}
	s := d.raw[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

func (d *decoder) bin(n *anode) (value, error) {
	switch n.t {
	case aNull:
		return value{kind: vNull}, nil
	case aBoolean:
		if d.pos >= len(d.raw) {
			return value{}, d.eof()
		}
		b := d.raw[d.pos]
		if b > 1 {
			return value{}, errf("invalid boolean byte %d", b)
		}
		d.pos++
		return value{kind: vBool, num: uint64(b)}, nil
	case aInt:
		x, err := d.int()
		return value{kind: vInt, num: uint64(int64(x))}, err
	case aLong:
		x, err := d.long()
		return value{kind: vLong, num: uint64(x)}, err
	case aFloat:
		if len(d.raw)-d.pos < 4 {
			return value{}, d.eof()
		}
		bits := uint32(le(d.raw[d.pos : d.pos+4]))
		d.pos += 4
		return value{kind: vFloat, num: uint64(bits)}, nil
	case aDouble:
		if len(d.raw)-d.pos < 8 {
			return value{}, d.eof()
		}
		bits := le(d.raw[d.pos : d.pos+8])
		d.pos += 8
		return value{kind: vDouble, num: bits}, nil
	case aString:
		s, err := d.bytes()
		if err != nil {
			return value{}, err
		}
		if !utf8.ValidString(s) {
			return value{}, errf("string is not valid UTF-8")
		}
		return value{kind: vString, str: s}, nil
	case aBytes:
		s, err := d.bytes()
		return value{kind: vBytes, str: s}, err
	case aFixed:
		if len(d.raw)-d.pos < n.size {
			return value{}, d.eof()
		}
		s := d.raw[d.pos : d.pos+n.size]
		d.pos += n.size
		return value{kind: vFixed, str: s}, nil
	case aEnum:
		i, err := d.int()
		if err != nil {
			return value{}, err
		}
		if i < 0 || int(i) >= len(n.symbols) {
			return value{}, errf("enum index %d out of range for %s", i, n.desc)
		}
		return value{kind: vEnum, num: uint64(i), str: n.symbols[i]}, nil
	case aUnion:
		i, err := d.long()
		if err != nil {
			return value{}, err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return value{}, errf("union branch %d out of range for %s", i, n.desc)
		}
		v, err := d.bin(n.branches[i])
		v.branch = int32(i)
		return v, err
	case aRecord:
		return d.binRecord(n)
	case aArray:
		return d.binArray(n)
	case aMap:
		return d.binMap(n)
	}
	return value{}, errf("unsupported type %s", n.desc)
}

func (d *decoder) binRecord(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	off := n.fixedOff
	if off < 0 {
		var err error
		if off, err = d.reserve(len(n.fields)); err != nil {
			return value{}, err
		}
	}
	for i := range n.fields {
		// Assign after the call: the call may grow d.vals.
		v, err := d.bin(n.fields[i].node)
		if err != nil {
			return value{}, inField(err, n.fields[i].name)
		}
		d.vals[int(off)+i] = v
	}
	d.depth--
	return container(vRecord, off, len(n.fields)), nil
}

// blockCount reads the item count of the next array or map block; 0 ends the
// sequence. A negative count is followed by the block's size in bytes, which
// is not needed here.
func (d *decoder) blockCount(elem *anode, perItem int) (int, error) {
	c, err := d.long()
	if err != nil || c == 0 {
		return 0, err
	}
	if c < 0 {
		if c == -c { // MinInt64
			return 0, errf("malformed block count")
		}
		c = -c
		if _, err := d.long(); err != nil {
			return 0, err
		}
	}
	// Each item takes at least elem.minSize bytes, so a count the remaining
	// data cannot hold is refused before anything is allocated.
	if elem.minSize > 0 && c > int64((len(d.raw)-d.pos)/elem.minSize) {
		return 0, d.eof()
	}
	if c > int64(d.room()/perItem) {
		return 0, d.tooMany()
	}
	return int(c), nil
}

func (d *decoder) binArray(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	base := len(d.stack)
	for {
		c, err := d.blockCount(n.elem, 1)
		if err != nil {
			d.stack = d.stack[:base]
			return value{}, err
		}
		if c == 0 {
			break
		}
		if n.consent && d.consentFull(len(d.stack)-base, c) {
			d.stack = d.stack[:base]
			return value{}, consentCountError(d.schema.refString())
		}
		for range c {
			v, err := d.bin(n.elem)
			if err == nil {
				err = d.push(v)
			}
			if err != nil {
				i := len(d.stack) - base
				d.stack = d.stack[:base]
				return value{}, inIndex(err, i)
			}
		}
	}
	cnt := len(d.stack) - base
	off := d.flush(base)
	d.depth--
	return container(vArray, off, cnt), nil
}

func (d *decoder) binMap(n *anode) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	base := len(d.stack)
	fail := func(err error) (value, error) {
		d.stack = d.stack[:base]
		return value{}, err
	}
	for {
		c, err := d.blockCount(n.elem, 2)
		if err != nil {
			return fail(err)
		}
		if c == 0 {
			break
		}
		for range c {
			k, err := d.bytes()
			if err != nil {
				return fail(err)
			}
			if !utf8.ValidString(k) {
				return fail(errf("map key is not valid UTF-8"))
			}
			if err := d.push(value{kind: vString, str: k}); err != nil {
				return fail(err)
			}
			v, err := d.bin(n.elem)
			if err == nil {
				err = d.push(v)
			}
			if err != nil {
				return fail(inField(err, k))
			}
		}
	}
	if err := d.checkDupKeys(base); err != nil {
		return fail(err)
	}
	cnt := (len(d.stack) - base) / 2
	off := d.flush(base)
	d.depth--
	return container(vMap, off, cnt), nil
}

// appendAvro appends v, a value of plan node n, in Avro binary.
func (e *Event) appendAvro(dst []byte, n *anode, v value) []byte {
	switch n.t {
	case aNull:
		return dst
	case aBoolean:
		return append(dst, byte(v.num))
	case aInt, aLong, aEnum:
		return appendVarlong(dst, int64(v.num))
	case aFloat:
		return binary.LittleEndian.AppendUint32(dst, uint32(v.num))
	case aDouble:
		return binary.LittleEndian.AppendUint64(dst, v.num)
	case aString, aBytes:
		dst = appendVarlong(dst, int64(len(v.str)))
		return append(dst, v.str...)
	case aFixed:
		return append(dst, v.str...)
	case aUnion:
		dst = appendVarlong(dst, int64(v.branch))
		return e.appendAvro(dst, n.branches[v.branch], v)
	case aRecord:
		for i := range n.fields {
			dst = e.appendAvro(dst, n.fields[i].node, e.vals[int(v.first())+i])
		}
		return dst
	case aArray:
		if v.count() > 0 {
			dst = appendVarlong(dst, int64(v.count()))
			for i := range int(v.count()) {
				dst = e.appendAvro(dst, n.elem, e.vals[int(v.first())+i])
			}
		}
		return append(dst, 0)
	case aMap:
		if v.count() > 0 {
			dst = appendVarlong(dst, int64(v.count()))
			for i := range int(v.count()) {
				k := e.vals[int(v.first())+2*i].str
				dst = appendVarlong(dst, int64(len(k)))
				dst = append(dst, k...)
				dst = e.appendAvro(dst, n.elem, e.vals[int(v.first())+2*i+1])
			}
		}
		return append(dst, 0)
	}
	return dst
}

func appendVarlong(dst []byte, x int64) []byte {
	u := uint64(x<<1) ^ uint64(x>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// le decodes a little-endian integer of up to 8 bytes.
func le(s string) uint64 {
	var u uint64
	for i := len(s) - 1; i >= 0; i-- {
		u = u<<8 | uint64(s[i])
	}
	return u
}
