package rpc

import (
	"compress/gzip"
	"fmt"
	"io"

	"connectrpc.com/connect"
)

// boundedGzip replaces connect's gzip decompressor, which inflates a
// message to the read limit and then, to report the size, inflates the
// rest into the void: a 1 MB gzip bomb cost 5 s and 1 GiB of inflating.
// This one fails as soon as a message inflates past the limit.
func boundedGzip(limit int) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &inflater{limit: int64(limit)} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) },
	)
}

// inflater is a gzip reader that refuses to inflate past limit bytes.
type inflater struct {
	gz    gzip.Reader
	limit int64
	n     int64 // bytes inflated since Reset
}

func (d *inflater) Read(p []byte) (int, error) {
	if d.n > d.limit {
		return 0, d.tooLarge()
	}
	// Never inflate more than one byte past the limit.
	if rest := d.limit + 1 - d.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := d.gz.Read(p)
	d.n += int64(n)
	if d.n > d.limit {
		return n, d.tooLarge()
	}
	return n, err
}

func (d *inflater) tooLarge() error {
	return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("the message inflates to more than %d bytes, the server's limit: send less per message", d.limit))
}

func (d *inflater) Reset(r io.Reader) error {
	d.n = 0
	return d.gz.Reset(r)
}

func (d *inflater) Close() error { return d.gz.Close() }
