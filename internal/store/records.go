package store

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"slices"
)

// Pebble's record files (the WAL and the MANIFEST) are a sequence of 32 KiB
// blocks holding chunks. A chunk header is a masked CRC-32C of the chunk
// (from its encoding byte on), its length and an encoding byte; the
// recyclable and sync-offset encodings used by the WAL add the log number
// (and an offset). A record is one full chunk, or a first chunk, middle
// chunks and a last chunk. This is Pebble's on-disk format (its record
// package); it is read here again because Pebble treats any bad chunk as the
// end of the file, and strmlocal must tell a normal end from damage.
const (
	recBlockSize    = 32 << 10
	recLegacyHeader = 7
	recRecyclable   = recLegacyHeader + 4
	recSyncHeader   = recRecyclable + 8
)

// Chunk positions.
const (
	posFull = iota + 1
	posFirst
	posMiddle
	posLast
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// recEnd says how the valid records of a file end.
type recEnd int

const (
	endClean   recEnd = iota // end of file, or Pebble's end-of-log trailer, after a whole record
	endTorn                  // end of file inside a record: a write that never finished
	endZeroed                // zeroed space (preallocated, or wiped)
	endStale                 // a chunk of an older log: a recycled file's old contents
	endDamaged               // a chunk that should be valid and is not
)

// recScan is what scanRecords found in one file.
type recScan struct {
	// valid is where the valid records stop: the offset just past the last
	// record that Pebble reads back.
	valid int64
	end   recEnd
	// bad is the offset of the chunk that ended the valid records and
	// reason says what is wrong with it (when end is not endClean).
	bad    int64
	reason string
	// after holds the whole records found intact after bad, and afterBytes
	// counts the bytes of every intact chunk of this file found there: proof
	// that the file did not simply end at valid, and what was written later.
	after      []recAt
	afterBytes int64
	// damaged is the record at valid, read as it is despite the bad chunk,
	// when every chunk of it has a readable length (nil otherwise).
	damaged []byte
}

// recAt is a record and its offset.
type recAt struct {
	off int64
	rec []byte
}

// isDamage reports whether the file ends in damage rather than in one of
// the ways a record file normally ends: after its last record, inside a
// record whose write never finished, in zeroed (preallocated) space, or in
// the old contents of a recycled file. It is damage when the chunk where
// reading stopped has this file's header and fails its check, or when an
// intact chunk of this file follows it.
func (s *recScan) isDamage() bool {
	return s.end == endDamaged || (s.end != endClean && s.afterBytes > 0)
}

// What parseChunk found.
const (
	foundChunk = iota
	foundPadding
	foundTrailer
	foundEnd // see the recEnd and reason
)

type chunk struct {
	found   int
	end     recEnd
	reason  string
	pos     int
	header  int
	length  int  // -1 when unknown
	crosses bool // the length reaches past the end of the block
	payload []byte
}

// parseChunk parses the chunk at the start of rest, the remainder of a
// block. logNum is the file's log number: 0 for a MANIFEST, whose chunks
// are all legacy ones, else a WAL's, whose chunks carry it.
func parseChunk(rest []byte, logNum uint32) chunk {
	c := chunk{length: -1}
	bad := func(end recEnd, reason string) chunk { c.found, c.end, c.reason = foundEnd, end, reason; return c }
	need := recLegacyHeader
	if logNum != 0 {
		need = recRecyclable
	}
	if len(rest) < need {
		if allZero(rest) {
			c.found = foundPadding
			return c
		}
		return bad(endDamaged, "non-zero bytes in the padding at the end of a block")
	}
	sum := binary.LittleEndian.Uint32(rest[0:4])
	length := int(binary.LittleEndian.Uint16(rest[4:6]))
	enc := rest[6]
	if sum == 0 && length == 0 && enc == 0 {
		if len(rest) < recSyncHeader && allZero(rest) {
			c.found = foundPadding
			return c
		}
		return bad(endZeroed, "zeroed chunk header")
	}
	wal := false
	switch {
	case enc >= 1 && enc <= 4:
		c.pos, c.header = int(enc), recLegacyHeader
	case enc >= 5 && enc <= 8:
		c.pos, c.header, wal = int(enc-4), recRecyclable, true
	case enc >= 9 && enc <= 12:
		c.pos, c.header, wal = int(enc-8), recSyncHeader, true
	default:
		return bad(endDamaged, "invalid chunk type")
	}
	if len(rest) < c.header {
		return bad(endDamaged, "chunk header crosses the end of its block")
	}
	c.length = length
	if wal != (logNum != 0) {
		return bad(endDamaged, "chunk of the wrong format for this file")
	}
	if wal {
		switch n := binary.LittleEndian.Uint32(rest[7:11]); {
		case n == logNum:
		case n == logNum+1 && c.pos == posFull && length == 0:
			c.found = foundTrailer
			return c
		case n < logNum:
			return bad(endStale, "chunk of an older log")
		default:
			return bad(endDamaged, "chunk with a wrong log number")
		}
	}
	if c.header+length > len(rest) {
		c.length, c.crosses = -1, true
		return bad(endDamaged, "chunk length crosses the end of its block")
	}
	c.payload = rest[c.header : c.header+length]
	if maskedCRC(rest[6:c.header+length]) != sum {
		return bad(endDamaged, "checksum mismatch")
	}
	c.found = foundChunk
	return c
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// scanRecords reads a record file from r and calls fn with every valid
// record, in order, until the valid records stop; then it looks on for
// intact chunks of the same file (see recScan). fn's argument is only valid
// during the call. logNum is the WAL's number, or 0 for a MANIFEST.
func scanRecords(r io.Reader, logNum uint32, fn func(off int64, rec []byte) error) (*recScan, error) {
	s := &recScan{}
	buf := make([]byte, recBlockSize)
	var rec []byte
	var recOff int64
	inRecord := false
	for block := int64(0); ; block++ {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, err
		}
		b := buf[:n]
		for i := 0; i < n; {
			off := block*recBlockSize + int64(i)
			c := parseChunk(b[i:], logNum)
			switch {
			case c.found == foundPadding:
				i = n
				continue
			case c.found == foundTrailer && !inRecord:
				return s, nil
			case c.found == foundTrailer:
				c.found, c.end, c.reason = foundEnd, endDamaged, "end-of-log trailer inside a record"
			case c.found == foundChunk && !inRecord && (c.pos == posMiddle || c.pos == posLast):
				c.found, c.end, c.reason = foundEnd, endDamaged, "a record continues here whose start is missing"
			case c.found == foundChunk && inRecord && (c.pos == posFull || c.pos == posFirst):
				c.found, c.end, c.reason = foundEnd, endDamaged, "a record starts here before the previous one ended"
			}
			if c.found == foundEnd && c.crosses && n < recBlockSize {
				// The file ends inside this chunk: a write that never
				// finished, as at the end of the file.
				s.end, s.bad, s.reason = endTorn, off, "the file ends inside a record"
				return s, nil
			}
			if c.found == foundEnd {
				s.end, s.bad, s.reason = c.end, off, c.reason
				next := n // where to look on in this block
				var partial []byte
				if c.end == endDamaged && c.length >= 0 && c.header > 0 {
					next = i + c.header + c.length
					// The damaged record, read as it is: the chunks before
					// the bad one, and the bad one.
					payload := b[i+c.header : next]
					switch {
					case inRecord && (c.pos == posMiddle || c.pos == posLast):
						partial = append(slices.Clone(rec), payload...)
					case !inRecord && (c.pos == posFull || c.pos == posFirst):
						partial = slices.Clone(payload)
					}
					if partial != nil && (c.pos == posFull || c.pos == posLast) {
						s.damaged, partial = partial, nil
					}
				}
				return s, s.lookOn(r, buf, b[next:], block, int64(next), logNum, partial)
			}
			if !inRecord {
				recOff, rec = off, rec[:0]
			}
			rec = append(rec, c.payload...)
			inRecord = c.pos == posFirst || c.pos == posMiddle
			i += c.header + len(c.payload)
			if !inRecord {
				if err := fn(recOff, rec); err != nil {
					return nil, err
				}
				s.valid = block*recBlockSize + int64(i)
			}
		}
		if n < recBlockSize {
			if inRecord {
				s.end, s.bad, s.reason = endTorn, recOff, "the file ends inside a record"
			}
			return s, nil
		}
	}
}

// lookOn reads on after the chunk that ended the valid records: first the
// rest of its block (rest, at offset from within block block) when that
// chunk's length could be read, then every following block from its start,
// and collects the records whose chunks are all intact. partial, if not
// nil, is the damaged record so far: the chunks that continue it complete
// s.damaged.
func (s *recScan) lookOn(r io.Reader, buf, rest []byte, block, from int64, logNum uint32, partial []byte) error {
	rec := partial
	var recOff int64
	inRecord, inDamaged := partial != nil, partial != nil
	scan := func(b []byte, base int64) {
		for j := 0; j < len(b); {
			c := parseChunk(b[j:], logNum)
			if c.found != foundChunk {
				if c.found != foundPadding {
					inRecord, inDamaged = false, false // resynchronise at the next block
				}
				return
			}
			s.afterBytes += int64(c.header + len(c.payload))
			off := base + int64(j)
			if c.pos == posFull || c.pos == posFirst {
				inDamaged = false
			}
			switch c.pos {
			case posFull:
				s.after = append(s.after, recAt{off, slices.Clone(c.payload)})
				inRecord = false
			case posFirst:
				recOff, rec, inRecord = off, append(rec[:0:0], c.payload...), true
			case posMiddle:
				rec = append(rec, c.payload...)
			case posLast:
				switch {
				case inDamaged:
					s.damaged = append(rec, c.payload...)
				case inRecord:
					s.after = append(s.after, recAt{recOff, append(slices.Clone(rec), c.payload...)})
				}
				inRecord, inDamaged = false, false
			}
			j += c.header + len(c.payload)
		}
	}
	scan(rest, block*recBlockSize+from)
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		if n == 0 {
			return nil
		}
		block++
		scan(buf[:n], block*recBlockSize)
		if n < recBlockSize {
			return nil
		}
	}
}
