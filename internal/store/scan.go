package store

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// PrefixEnd returns the smallest key greater than every key with prefix p:
// the exclusive upper bound of a prefix scan. It is nil (no bound) when p is
// all 0xff bytes.
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// Scan calls fn for every key with prefix p, in order, and stops at the
// first error fn returns. k and v are valid only during the call.
func Scan(r pebble.Reader, p []byte, fn func(k, v []byte) error) error {
	return ScanRange(r, p, PrefixEnd(p), fn)
}

// ScanRange calls fn for every key in [lower, upper), in order, and stops at
// the first error fn returns. k and v are valid only during the call.
func ScanRange(r pebble.Reader, lower, upper []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

// Has reports whether k is set.
func Has(r pebble.Reader, k []byte) (bool, error) {
	_, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}
