package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// readAvroDatums calls fn with batches of at most size datums read from r:
// length-delimited Avro binary datums, each after its length in bytes as an
// Avro long (a zig-zag varint), that is a sequence of Avro "bytes" values.
// Each datum is named by its number (from 1) and the byte its length
// starts at (from 0). The datums before a broken one are still sent.
func readAvroDatums(r io.Reader, size int, fn func([]sendItem) error) error {
	cr := &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
	var batch []sendItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	for n := 1; ; n++ {
		start := cr.n
		body, err := readDatum(cr)
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return fmt.Errorf("invalid Avro input at datum %d (byte %d): %w", n, start, err)
		}
		batch = append(batch, sendItem{fmt.Sprintf("datum %d (byte %d)", n, start), body})
		if len(batch) == size {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// readDatum reads one length and the datum after it; io.EOF when the input
// ends before the length.
func readDatum(cr *countingReader) ([]byte, error) {
	start := cr.n
	u, err := binary.ReadUvarint(cr)
	switch {
	case errors.Is(err, io.EOF) && cr.n == start:
		return nil, io.EOF
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errors.New("the input ends inside its length")
	case err != nil:
		return nil, errors.New("its length is no Avro long: over 10 bytes")
	}
	length := int64(u>>1) ^ -int64(u&1) // zig-zag
	switch {
	case length < 0:
		return nil, fmt.Errorf("its length is negative (%d)", length)
	case length > maxLine:
		return nil, fmt.Errorf("its length is %d bytes, over the limit of %d MiB", length, maxLine>>20)
	}
	body := make([]byte, length)
	got, err := io.ReadFull(cr, body)
	if err != nil {
		return nil, fmt.Errorf("its length says %d bytes, but the input ends %d bytes into it", length, got)
	}
	return body, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// readDatumFiles calls fn with batches of at most size datums, one per
// file, named by the file ("-" or no file: stdin).
func readDatumFiles(cmd *cobra.Command, files []string, size int, fn func([]sendItem) error) error {
	if len(files) == 0 {
		files = []string{"-"}
	}
	var batch []sendItem
	for _, name := range files {
		var body []byte
		var err error
		if name == "-" {
			body, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxLine+1))
			name = "stdin"
		} else {
			body, err = readFileUpTo(name, maxLine+1)
		}
		switch {
		case err != nil:
			err = fmt.Errorf("cannot read datum: %w", err)
		case len(body) > maxLine:
			err = fmt.Errorf("datum %s is over the limit of %d MiB", name, maxLine>>20)
		}
		if err != nil {
			if len(batch) > 0 {
				if ferr := fn(batch); ferr != nil {
					return ferr
				}
			}
			return err
		}
		batch = append(batch, sendItem{name, body})
		if len(batch) == size {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// readFileUpTo reads at most limit bytes of a file.
func readFileUpTo(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
