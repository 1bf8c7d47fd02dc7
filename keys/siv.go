package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// siv is the deterministic AEAD of a key link's keyset: AES-SIV (RFC 5297)
// with one associated-data component and Tink's output prefix, exactly as
// Tink computes it for an AES-256-SIV key with the TINK prefix (siv_test.go
// compares the bytes with Tink's own primitive). It differs from Tink's
// primitive only in cost: Tink expands the CTR key schedule, computes the
// first S2V block, and allocates half a dozen buffers on every call; siv
// does the first two once per key, and works in pooled scratch buffers.
type siv struct {
	mac, ctr   cipher.Block // the first half of the key (S2V's CMAC), the second (CTR)
	sub1, sub2 [aes.BlockSize]byte
	// d0 is dbl(CMAC(0¹²⁸)), S2V's first step: the same for every input.
	d0     [aes.BlockSize]byte
	prefix [tinkPrefixLen]byte // 0x01 ‖ key ID (big-endian)
}

const (
	sivKeyLen     = 64 // AES-256-SIV: two AES-256 keys
	tinkPrefixLen = 5
	// sivOverhead is what a ciphertext adds to its plaintext: Tink's
	// prefix and the synthetic IV.
	sivOverhead = tinkPrefixLen + aes.BlockSize
	// maxInlineCTR is the longest plaintext whose CTR keystream siv makes
	// block by block; a longer one goes through crypto/cipher's CTR, which
	// is faster per byte but allocates.
	maxInlineCTR = 4 * aes.BlockSize
)

var errSIV = errors.New("does not authenticate")

func newSIV(key []byte, keyID uint32) (*siv, error) {
	if len(key) != sivKeyLen {
		return nil, fmt.Errorf("AES-SIV key of %d bytes; want %d", len(key), sivKeyLen)
	}
	mac, err := aes.NewCipher(key[:sivKeyLen/2])
	if err != nil {
		return nil, err
	}
	ctr, err := aes.NewCipher(key[sivKeyLen/2:])
	if err != nil {
		return nil, err
	}
	s := &siv{mac: mac, ctr: ctr}
	// CMAC subkeys (RFC 4493): L = E(0), K1 = dbl(L), K2 = dbl(K1).
	mac.Encrypt(s.sub1[:], s.sub1[:])
	dbl(&s.sub1)
	s.sub2 = s.sub1
	dbl(&s.sub2)
	var zero [aes.BlockSize]byte
	s.cmac(&s.d0, zero[:])
	dbl(&s.d0)
	s.prefix[0] = 1
	binary.BigEndian.PutUint32(s.prefix[1:], keyID)
	return s, nil
}

// dbl multiplies b by x in GF(2¹²⁸) (RFC 5297 §2.3), in constant time.
func dbl(b *[aes.BlockSize]byte) {
	carry := b[0] >> 7
	for i := 0; i < aes.BlockSize-1; i++ {
		b[i] = b[i]<<1 | b[i+1]>>7
	}
	b[aes.BlockSize-1] = b[aes.BlockSize-1]<<1 ^ (0x87 & -carry)
}

// xorBlock sets b to b XOR the first 16 bytes of x.
func xorBlock(b *[aes.BlockSize]byte, x []byte) {
	_ = x[aes.BlockSize-1]
	binary.LittleEndian.PutUint64(b[:8], binary.LittleEndian.Uint64(b[:8])^binary.LittleEndian.Uint64(x[:8]))
	binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^binary.LittleEndian.Uint64(x[8:16]))
}

// cmac sets out to the AES-CMAC of data (RFC 4493) under the first key.
func (s *siv) cmac(out *[aes.BlockSize]byte, data []byte) {
	*out = [aes.BlockSize]byte{}
	for len(data) > aes.BlockSize {
		xorBlock(out, data)
		s.mac.Encrypt(out[:], out[:])
		data = data[aes.BlockSize:]
	}
	if len(data) == aes.BlockSize {
		xorBlock(out, data)
		xorBlock(out, s.sub1[:])
	} else {
		subtle.XORBytes(out[:], out[:], data)
		out[len(data)] ^= 0x80
		xorBlock(out, s.sub2[:])
	}
	s.mac.Encrypt(out[:], out[:])
}

// s2v sets sc.v to S2V(ad, msg) (RFC 5297 §2.4) for one associated-data
// component. msg is modified while it runs and restored before it returns.
func (s *siv) s2v(sc *sivScratch, ad string, msg []byte) {
	sc.ad = append(sc.ad[:0], ad...)
	s.cmac(&sc.d, sc.ad)
	xorBlock(&sc.d, s.d0[:])
	if len(msg) >= aes.BlockSize {
		// CMAC(msg xorend D), with msg's tail XORed in place and back.
		tail := (*[aes.BlockSize]byte)(msg[len(msg)-aes.BlockSize:])
		xorBlock(tail, sc.d[:])
		s.cmac(&sc.v, msg)
		xorBlock(tail, sc.d[:])
		return
	}
	// CMAC(dbl(D) xor pad(msg)): one complete block.
	dbl(&sc.d)
	subtle.XORBytes(sc.d[:], sc.d[:], msg)
	sc.d[len(msg)] ^= 0x80
	xorBlock(&sc.d, s.sub1[:])
	s.mac.Encrypt(sc.v[:], sc.d[:])
}

// xorKeyStream XORs buf in place with the CTR keystream of the synthetic
// IV v under the second key.
func (s *siv) xorKeyStream(sc *sivScratch, v []byte, buf []byte) {
	copy(sc.ctr[:], v)
	sc.ctr[8] &= 0x7f
	sc.ctr[12] &= 0x7f
	if len(buf) > maxInlineCTR {
		cipher.NewCTR(s.ctr, sc.ctr[:]).XORKeyStream(buf, buf)
		return
	}
	for len(buf) > 0 {
		s.ctr.Encrypt(sc.d[:], sc.ctr[:])
		n := subtle.XORBytes(buf, buf, sc.d[:])
		buf = buf[n:]
		// The counter is the whole block, big-endian.
		lo := binary.BigEndian.Uint64(sc.ctr[8:]) + 1
		binary.BigEndian.PutUint64(sc.ctr[8:], lo)
		if lo == 0 {
			binary.BigEndian.PutUint64(sc.ctr[:8], binary.BigEndian.Uint64(sc.ctr[:8])+1)
		}
	}
}

// appendEncrypt appends Tink's ciphertext of plaintext under ad to dst:
// prefix ‖ SIV ‖ AES-CTR(plaintext).
func (s *siv) appendEncrypt(sc *sivScratch, dst []byte, ad, plaintext string) []byte {
	start := len(dst)
	dst = append(dst, s.prefix[:]...)
	dst = append(dst, make([]byte, aes.BlockSize)...)
	dst = append(dst, plaintext...)
	v, msg := dst[start+tinkPrefixLen:start+sivOverhead], dst[start+sivOverhead:]
	s.s2v(sc, ad, msg)
	copy(v, sc.v[:])
	s.xorKeyStream(sc, v, msg)
	return dst
}

// appendDecrypt appends the plaintext of Tink's ciphertext ct under ad to
// dst. It fails (errSIV) when ct is not of this key or does not
// authenticate; dst then holds no plaintext.
func (s *siv) appendDecrypt(sc *sivScratch, dst, ct []byte, ad string) ([]byte, error) {
	if len(ct) < sivOverhead || subtle.ConstantTimeCompare(ct[:tinkPrefixLen], s.prefix[:]) != 1 {
		return dst, errSIV
	}
	v := ct[tinkPrefixLen:sivOverhead]
	start := len(dst)
	dst = append(dst, ct[sivOverhead:]...)
	msg := dst[start:]
	s.xorKeyStream(sc, v, msg)
	s.s2v(sc, ad, msg)
	if subtle.ConstantTimeCompare(sc.v[:], v) != 1 {
		clear(msg)
		return dst[:start], errSIV
	}
	return dst, nil
}

// sivScratch holds the working buffers of one encryption or decryption.
// (They cannot live on the stack: cipher.Block's methods take them through
// an interface.)
type sivScratch struct {
	d, v, ctr [aes.BlockSize]byte
	ad        []byte
	raw, text []byte
}

var sivScratches = sync.Pool{New: func() any { return new(sivScratch) }}

// maxPooledScratch bounds the buffers a scratch keeps between uses, so
// that one huge field does not pin its size in the pool.
const maxPooledScratch = 4 << 10

func getScratch() *sivScratch { return sivScratches.Get().(*sivScratch) }

// putScratch returns sc to the pool. The caller clears what held
// plaintext first; the blocks (the last keystream block, say) are cleared
// here.
func putScratch(sc *sivScratch) {
	sc.d, sc.v, sc.ctr = [aes.BlockSize]byte{}, [aes.BlockSize]byte{}, [aes.BlockSize]byte{}
	if cap(sc.raw) > maxPooledScratch || cap(sc.text) > maxPooledScratch || cap(sc.ad) > maxPooledScratch {
		return
	}
	sivScratches.Put(sc)
}
