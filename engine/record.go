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
	return parseMeta(b, func(b []byte) string { return string(b) }, parseConsent)
}

// parseMeta decodes what Append encoded, making its strings and consent
// levels with str and consent.
func parseMeta(b []byte, str func([]byte) string, consent func([]byte) ([]int32, error)) (RecordMeta, error) {
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
		*dst, b = str(b[k:k+int(n)]), b[k+int(n):]
	}
	var err error
	m.Consent, err = consent(b)
	return m, err
}

// MetaParser parses record metadata (ParseRecordMeta) for one reader. The
// records of a stream repeat a few refs, key links and sets of consent
// levels over and over, so a parser keeps the strings and slices it made
// and hands the same ones out again: reading on allocates nothing for
// metadata it has seen. The RecordMetas it returns share that memory: read
// them, never change their Consent. A MetaParser is not safe for concurrent
// use; its zero value is ready.
type MetaParser struct {
	strs    map[string]string  // refs and key links, by themselves
	consent map[string][]int32 // consent levels, by their encoding
}

// maxMetaEntries bounds each of a MetaParser's sets; past it the set starts
// again.
const maxMetaEntries = 4096

// Parse decodes what RecordMeta.Append encoded, as ParseRecordMeta does.
func (p *MetaParser) Parse(b []byte) (RecordMeta, error) {
	return parseMeta(b, p.str, p.levels)
}

func (p *MetaParser) levels(b []byte) ([]int32, error) {
	if levels, ok := p.consent[string(b)]; ok {
		return levels, nil
	}
	levels, err := parseConsent(b)
	if err != nil {
		return nil, err
	}
	if p.consent == nil || len(p.consent) >= maxMetaEntries {
		p.consent = make(map[string][]int32)
	}
	p.consent[string(b)] = levels
	return levels, nil
}

func (p *MetaParser) str(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	if p.strs == nil || len(p.strs) >= maxMetaEntries {
		p.strs = make(map[string]string)
	}
	s := string(b)
	p.strs[s] = s
	return s
}

// parseConsent decodes the consent levels that end a record's metadata.
func parseConsent(b []byte) ([]int32, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errRecordMeta
	}
	b = b[k:]
	var levels []int32
	if n > 0 {
		levels = make([]int32, n)
	}
	for i := range levels {
		v, k := binary.Varint(b)
		if k <= 0 {
			return nil, errRecordMeta
		}
		levels[i], b = int32(v), b[k:]
	}
	if len(b) != 0 {
		return nil, errRecordMeta
	}
	return levels, nil
}
