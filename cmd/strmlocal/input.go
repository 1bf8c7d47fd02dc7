package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxArray bounds a JSON array of events, which is read whole.
const maxArray = 256 << 20

// readEventLines calls fn with batches of at most size events read from r,
// in one of three shapes:
//
//   - JSON Lines: one event per line;
//   - pretty-printed JSON documents: a document whose first line is a lone
//     "{" goes on, over as many lines as it takes, until its braces close
//     (jq's and most pretty-printers' output);
//   - a JSON array of events, when the input starts with "[".
//
// Each event carries the number of the line it starts on. A line that is
// not JSON is passed on as it is: the server says what is wrong with it.
func readEventLines(r io.Reader, size int, fn func([]eventLine) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		return fmt.Errorf("cannot read events: %w", err)
	}
	var batch []eventLine
	emit := func(ev eventLine) error {
		batch = append(batch, ev)
		if len(batch) < size {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	if first == '[' {
		err = readEventArray(br, emit)
	} else {
		err = readEventDocs(br, emit)
	}
	if len(batch) > 0 {
		// Also before a read error: what came before it is sent. (An
		// error of fn left the batch empty.)
		if ferr := fn(batch); ferr != nil {
			return ferr
		}
	}
	return err
}

// firstByte peeks at the first byte that is not white space (0 at the end).
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if errors.Is(err, io.EOF) || len(b) < n {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			if n == br.Size() {
				return 0, nil // a buffer of white space: no array
			}
		default:
			return c, nil
		}
	}
}

// readEventDocs reads JSON Lines and pretty-printed documents.
func readEventDocs(r io.Reader, emit func(eventLine) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var doc []byte
	start, depth := 0, 0
	var str jsonStringState
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if doc == nil {
			if len(line) == 0 {
				continue
			}
			if !bytes.Equal(line, []byte("{")) {
				if err := emit(eventLine{n, bytes.Clone(line)}); err != nil {
					return err
				}
				continue
			}
			start, depth, str = n, 0, jsonStringState{}
			doc = []byte{}
		} else {
			doc = append(doc, '\n')
		}
		doc = append(doc, line...)
		depth += str.depthChange(line)
		if depth > 0 && len(doc) < maxLine {
			continue // the document goes on
		}
		if err := emit(eventLine{start, doc}); err != nil {
			return err
		}
		doc = nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("cannot read events: %w", err)
	}
	if doc != nil {
		return emit(eventLine{start, doc}) // unclosed: the server says so
	}
	return nil
}

// jsonStringState follows JSON strings across the lines of a document.
type jsonStringState struct{ inString, escaped bool }

// depthChange is how many braces and brackets line opens, less those it
// closes, outside strings.
func (s *jsonStringState) depthChange(line []byte) int {
	d := 0
	for _, c := range line {
		switch {
		case s.escaped:
			s.escaped = false
		case s.inString && c == '\\':
			s.escaped = true
		case c == '"':
			s.inString = !s.inString
		case s.inString:
		case c == '{' || c == '[':
			d++
		case c == '}' || c == ']':
			d--
		}
	}
	return d
}

// readEventArray reads a JSON array of events, whole.
func readEventArray(r io.Reader, emit func(eventLine) error) error {
	data, err := io.ReadAll(io.LimitReader(r, maxArray+1))
	if err != nil {
		return fmt.Errorf("cannot read events: %w", err)
	}
	if len(data) > maxArray {
		return fmt.Errorf("a JSON array of events is read whole, and this one is over %d MiB: send JSON Lines (one event per line) instead", maxArray>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the '['
		return arrayError(data, dec, err)
	}
	for dec.More() {
		start := int(dec.InputOffset())
		for start < len(data) && bytes.IndexByte([]byte(" \t\r\n,"), data[start]) >= 0 {
			start++
		}
		var ev json.RawMessage
		if err := dec.Decode(&ev); err != nil {
			return arrayError(data, dec, err)
		}
		if err := emit(eventLine{1 + bytes.Count(data[:start], []byte("\n")), []byte(ev)}); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return arrayError(data, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("invalid JSON array of events at line %d: something follows its closing ']'", 1+bytes.Count(data[:dec.InputOffset()], []byte("\n")))
	}
	return nil
}

// arrayError says where a JSON array of events breaks. (A syntax error's
// text quotes one character of the input, never more.)
func arrayError(data []byte, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	// The decoder's offsets are the value's; Unmarshal's, of the whole.
	var se *json.SyntaxError
	if errors.As(json.Unmarshal(data, new([]json.RawMessage)), &se) {
		off = max(se.Offset-1, 0) // the byte it broke at, from 0
	}
	off = min(off, int64(len(data)))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("the input ends before the array's closing ']'")
	}
	return fmt.Errorf("invalid JSON array of events at line %d (byte %d): %v; nothing after it was sent", 1+bytes.Count(data[:off], []byte("\n")), off, err)
}
