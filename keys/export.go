package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/strmlocal/strmlocal/log"
)

// ExportRow is one exported key: the only form in which this package hands
// out key material.
type ExportRow struct {
	// KeyLink is the link ID, as in strmMeta.keyLink.
	KeyLink string
	// Keyset is the key as a cleartext Tink JSON keyset on one line; any
	// Tink implementation decrypts the link's ciphertexts with it.
	Keyset string
	// ExpiresAt is when the key will be deleted.
	ExpiresAt time.Time
	// Created is when the link was created.
	Created time.Time
}

// CSVRow is row as one line of the keys CSV ("keyLink","keyset",
// "expiresAt" in Unix milliseconds, every field quoted as the original
// platform's export did), newline included: the format of `keys export`
// and of key exporters' files.
func CSVRow(keyLink, keyset string, expires time.Time) string {
	ms := ""
	if !expires.IsZero() {
		ms = strconv.FormatInt(expires.UnixMilli(), 10)
	}
	return csvQuote(keyLink) + "," + csvQuote(keyset) + "," + csvQuote(ms) + "\n"
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Export returns the keys of stream's live links, ordered by Created and
// then ID. Shredded links have nothing to export and are left out.
func (ks *Keys) Export(stream log.StreamID) ([]ExportRow, error) {
	return ks.ExportCreated(stream, time.Time{}, time.Time{})
}

// Settled returns the time by the keys' clock once every link creation in
// flight has committed: a link created later has a creation time at or
// after it, so ExportCreated up to it sees every link before it.
func (ks *Keys) Settled() time.Time {
	ks.opMu.Lock()
	defer ks.opMu.Unlock()
	return ks.opts.Now()
}

// ExportCreated is Export of the links created in [from, until); a zero
// until has no upper bound.
func (ks *Keys) ExportCreated(stream log.StreamID, from, until time.Time) ([]ExportRow, error) {
	ks.opMu.RLock()
	defer ks.opMu.RUnlock()
	if ks.closed {
		return nil, ErrClosed
	}
	rows := []ExportRow{}
	err := ks.eachRecordCreated(ks.db, stream, from, until, func(r *record) error {
		if r.Shredded {
			return nil
		}
		k, err := ks.load(r.id)
		if err != nil {
			return err
		}
		h, err := k.handle()
		if err != nil {
			return fmt.Errorf("%w: key link %s holds a keyset Tink does not read", errCorrupt, r.ID)
		}
		var buf, line bytes.Buffer
		if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
			return fmt.Errorf("keys: export key link %s: %w", r.ID, err)
		}
		// protojson varies its whitespace on purpose; make it one stable line.
		// (A JSON error could quote key bytes: never wrap it.)
		if err := json.Compact(&line, buf.Bytes()); err != nil {
			return fmt.Errorf("keys: export key link %s: Tink wrote invalid JSON", r.ID)
		}
		rows = append(rows, ExportRow{KeyLink: r.ID, Keyset: line.String(), ExpiresAt: r.ExpiresAt, Created: r.Created})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}
