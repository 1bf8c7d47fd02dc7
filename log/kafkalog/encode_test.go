package kafkalog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strmlocal/strmlocal/log"
)

// randBytes is nil, empty, or of a length about a varint length's bounds.
func randBytes(rng *rand.Rand, big []byte) []byte {
	lens := []int{1, 2, 63, 64, 65, 200, 8191, 8192, 8193}
	switch rng.IntN(5) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return big[:rng.IntN(300)]
	case 3:
		if rng.IntN(20) == 0 {
			lens = []int{1<<20 - 1, 1 << 20} // 3 and 4 byte lengths
		}
	}
	n := lens[rng.IntN(len(lens))]
	o := rng.IntN(len(big) - n + 1)
	return big[o : o+n]
}

// bigBytes is what record values and metadata are cut from.
func bigBytes() []byte {
	b := make([]byte, 1<<20+100)
	for i := range b {
		b[i] = byte(i * 31 / 7)
	}
	return b
}

func randInt64(rng *rand.Rand) int64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64
	case 2:
		return math.MinInt64
	case 3:
		return rng.Int64N(1<<14) - 1<<13 // about the 1 and 2 byte bounds
	case 4:
		return -rng.Int64()
	}
	return rng.Int64() >> rng.IntN(64)
}

func randRecord(rng *rand.Rand, big []byte, t int64) log.Record {
	return log.Record{Time: time.Unix(0, t).UTC(), Meta: randBytes(rng, big), Value: randBytes(rng, big)}
}

// TestRecordSize: the Length set and the size computed are what kmsg
// encodes, for any time, value and metadata sizes and deltas; and the
// size with the longest time and deltas (maxEncodedSize) is the largest.
func TestRecordSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	big := bigBytes()
	var digits [20]byte
	for range 3000 {
		r := randRecord(rng, big, randInt64(rng))
		tsDelta := randInt64(rng)
		offDelta := int32(randInt64(rng))
		ts := timeDigits(digits[:0], &r)
		hs := recordHeaders(&r, ts)
		kr := kafkaRecord(&r, tsDelta, offDelta, hs[:])
		enc := kr.AppendTo(nil)
		if size := recordSize(&r, tsDelta, offDelta, ts); size != len(enc) {
			t.Fatalf("size %d, kmsg encodes %d bytes (%d/%d bytes, deltas %d %d)", size, len(enc), len(r.Meta), len(r.Value), tsDelta, offDelta)
		}
		length, n := binary.Varint(enc)
		if n <= 0 || int(length) != len(enc)-n {
			t.Fatalf("Length %d, then %d bytes", length, len(enc)-n)
		}
		var got kmsg.Record
		if err := got.ReadFrom(enc); err != nil {
			t.Fatal(err)
		}
		if got.Key != nil || got.Attributes != 0 || got.TimestampDelta64 != tsDelta || got.OffsetDelta != offDelta ||
			got.Value == nil || !bytes.Equal(got.Value, r.Value) || len(got.Headers) != 2 ||
			got.Headers[0].Key != HeaderTime || string(got.Headers[0].Value) != strconv.FormatInt(r.Time.UnixNano(), 10) ||
			got.Headers[1].Key != HeaderMeta || got.Headers[1].Value == nil || !bytes.Equal(got.Headers[1].Value, r.Meta) {
			t.Fatalf("decoded %+v", got)
		}
		size := len(enc)
		if max := recordSize(&r, math.MaxInt64, math.MaxInt32, longestTime); max < size {
			t.Fatalf("largest size %d, encoded %d bytes", max, size)
		}
	}
}

// TestEncodeBatch: what encodeBatch and setProducer build is what kmsg
// decodes, with the CRC and producer fields that kgo checks and reads,
// again after the producer fields change (a retry); and maxEncodedSize
// holds the records.
func TestEncodeBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	big := bigBytes()
	for c := range 100 {
		n := 1 + rng.IntN(30)
		at := randInt64(rng) / 2
		if c%3 == 0 {
			at = t0.UnixNano()
		}
		recs := make([]log.Record, n)
		for i := range recs {
			recs[i] = randRecord(rng, big, at)
			if rng.IntN(2) == 0 && at < math.MaxInt64/2 {
				at += rng.Int64N(1e12)
			}
		}
		bt := encodeBatch(recs)
		if max := batchHeaderSize + maxEncodedSize(recs); len(bt.b) > max {
			t.Fatalf("batch of %d bytes, estimated at most %d", len(bt.b), max)
		}
		for try := range 2 {
			pid, epoch, seq := rng.Int64N(math.MaxInt64), int16(rng.IntN(math.MaxInt16)), rng.Int32N(math.MaxInt32)
			bt.setProducer(pid, epoch, seq)
			checkBatch(t, bt.b, recs, pid, epoch, seq)
			if try == 0 && c == 0 {
				// One byte more or less in the records: the CRC differs.
				bt.b[len(bt.b)-1]++
				var h kmsg.RecordBatch
				if err := h.ReadFrom(bt.b); err != nil || uint32(h.CRC) == crc32.Checksum(bt.b[21:], crc32.MakeTable(crc32.Castagnoli)) {
					t.Fatal("CRC does not cover the records", err)
				}
				bt.b[len(bt.b)-1]--
			}
		}
	}
}

func checkBatch(t *testing.T, b []byte, recs []log.Record, pid int64, epoch int16, seq int32) {
	t.Helper()
	var h kmsg.RecordBatch
	if err := h.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	baseMs := kafkaMillis(recs[0].Time.UnixNano())
	maxMs := kafkaMillis(recs[len(recs)-1].Time.UnixNano())
	if h.FirstOffset != 0 || int(h.Length) != len(b)-12 || h.PartitionLeaderEpoch != -1 || h.Magic != 2 ||
		uint32(h.CRC) != crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)) ||
		h.Attributes != 0 || int(h.LastOffsetDelta) != len(recs)-1 || h.FirstTimestamp != baseMs || h.MaxTimestamp != maxMs ||
		h.ProducerID != pid || h.ProducerEpoch != epoch || h.FirstSequence != seq || int(h.NumRecords) != len(recs) {
		t.Fatalf("header %+v", h)
	}
	// kgo (as a fetch does) checks the CRC and decodes the records.
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{IsolationLevel: kgo.ReadUncommitted(), Topic: "t"},
		&kmsg.FetchResponseTopicPartition{HighWatermark: int64(len(recs)), RecordBatches: b}, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil || len(fp.Records) != len(recs) {
		t.Fatalf("kgo: %d records, %v", len(fp.Records), fp.Err)
	}
	for i, kr := range fp.Records {
		r := recs[i]
		meta, at := recordMeta(kr)
		if kr.Offset != int64(i) || kr.Key != nil || !bytes.Equal(kr.Value, r.Value) || !bytes.Equal(meta, r.Meta) ||
			!at.Equal(r.Time) || kr.Timestamp.UnixMilli() != kafkaMillis(r.Time.UnixNano()) ||
			kr.ProducerID != pid || kr.ProducerEpoch != epoch || len(kr.Headers) != 2 {
			t.Fatalf("record %d: %+v, want %s", i, kr, show([]log.Record{r}))
		}
	}
}
