package engine

import "encoding/binary"

// RecordMeta is what the log stores beside an encrypted event so that it can
// be read back and filtered without decoding it (docs/pipeline.md,
// "Ingest"): the refs to decode and check it with, its key link and its
// consent levels.
type RecordMeta struct {
	SchemaRef   string
	ContractRef string
	KeyLink     string
	Consent     []int32
}

// recordMetaVersion leads the encoding so that it can change later.
const recordMetaVersion = 1

// Append appends the encoding of m to dst.
func (m *RecordMeta) Append(dst []byte) []byte {
	dst = append(dst, recordMetaVersion)
	for _, s := range []string{m.SchemaRef, m.ContractRef, m.KeyLink} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(m.Consent)))
	for _, l := range m.Consent {
		dst = binary.AppendVarint(dst, int64(l))
	}
	return dst
}

// ParseRecordMeta decodes what Append encoded.
func ParseRecordMeta(b []byte) (RecordMeta, error) {
	var m RecordMeta
	if len(b) == 0 || b[0] != recordMetaVersion {
		return m, errRecordMeta
	}
	b = b[1:]
	for _, dst := range []*string{&m.SchemaRef, &m.ContractRef, &m.KeyLink} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return m, errRecordMeta
		}
		*dst, b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return m, errRecordMeta
	}
	b = b[k:]
	if n > 0 {
		m.Consent = make([]int32, n)
	}
	for i := range m.Consent {
		v, k := binary.Varint(b)
		if k <= 0 {
			return m, errRecordMeta
		}
		m.Consent[i], b = int32(v), b[k:]
	}
	if len(b) != 0 {
		return m, errRecordMeta
	}
	return m, nil
}
