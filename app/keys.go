package app

import (
	"errors"
	"fmt"

	"github.com/strmlocal/strmlocal/engine"
	"github.com/strmlocal/strmlocal/keys"
	"github.com/strmlocal/strmlocal/log"
)

// KeyLinks lists the key links of a source stream, oldest first.
func (a *App) KeyLinks(stream string) ([]keys.Link, error) {
	st, err := a.source(stream)
	if err != nil {
		return nil, err
	}
	return a.keys.Links(st.ID)
}

// ExportKeys exports the live keys of a source stream as Tink keysets.
func (a *App) ExportKeys(stream string) ([]keys.ExportRow, error) {
	st, err := a.source(stream)
	if err != nil {
		return nil, err
	}
	return a.keys.Export(st.ID)
}

// Forgotten is what forgetting a data subject did.
type Forgotten struct {
	// KeyLinks is how many key links were shredded.
	KeyLinks int
	// Events is how many stored events those key links encrypted: they can
	// never be decrypted again.
	Events uint64
}

// Forget shreds every key link recorded for a data subject.
func (a *App) Forget(subject string) (Forgotten, error) {
	if subject == "" {
		return Forgotten{}, &kindError{ErrInvalid, "dataSubjectId: must not be empty"}
	}
	links, err := a.keys.Forget(subject)
	if err != nil {
		return Forgotten{}, err
	}
	events, err := a.countEvents(links)
	return Forgotten{KeyLinks: len(links), Events: events}, err
}

// indexChunk bounds the offsets one catch-up batch of the event index
// covers.
const indexChunk = 1 << 16

// countEvents counts the stored events encrypted with any of links, through
// the event index of their streams (keys/events.go): ingest keeps it, so
// the cost is the links' events, not the streams' size. Records stored
// without their index (by a version before it was kept at ingest) are
// indexed first, once (indexEvents); a span that retention cut is counted
// by reading what is left of it.
func (a *App) countEvents(links []keys.Link) (uint64, error) {
	byStream := map[log.StreamID][]keys.Link{}
	for _, l := range links {
		byStream[l.Stream] = append(byStream[l.Stream], l)
	}
	// One catch-up at a time, and none while a stream is dropped
	// (DeleteStream): the index of a dropped stream is deleted with it.
	a.forgetMu.Lock()
	defer a.forgetMu.Unlock()
	var n uint64
	for id, links := range byStream {
		c, err := a.countStream(id, links)
		if errors.Is(err, log.ErrDropped) {
			continue
		}
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// countStream is countEvents for the links of one stream. REQUIRES:
// forgetMu held.
func (a *App) countStream(id log.StreamID, links []keys.Link) (uint64, error) {
	if err := a.indexEvents(id); err != nil {
		return 0, err
	}
	first, _, err := a.log.Bounds(id)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, l := range links {
		spans, err := a.keys.EventSpans(l.ID)
		if err != nil {
			return 0, err
		}
		for _, sp := range spans {
			switch {
			case sp.Last < first:
			case sp.First >= first:
				n += sp.Count
			default:
				c, err := a.scanLink(id, l.ID, first, sp.Last+1)
				if err != nil {
					return 0, err
				}
				n += c
			}
		}
	}
	return n, nil
}

// indexEvents records in the event index the stream's stored records that
// are not in it (keys.EventCursor.Missing), in batches of indexChunk
// offsets, reading their metadata only. REQUIRES: forgetMu held.
func (a *App) indexEvents(id log.StreamID) error {
	_, end, err := a.log.Bounds(id)
	if err != nil {
		return err
	}
	spans := map[string]keys.EventSpan{}
	for {
		// Read again after every batch: an append may have opened a gap
		// meanwhile (its records lie at or past end).
		c, err := a.keys.EventsIndexed(id)
		if err != nil {
			return err
		}
		from, to := c.Missing(end)
		if from >= to {
			return nil
		}
		to = min(to, from+indexChunk)
		clear(spans)
		next, err := a.log.ScanMeta(id, from, to, func(off uint64, meta []byte) error {
			m, err := engine.ParseRecordMeta(meta)
			if err != nil {
				return fmt.Errorf("stream %d offset %d: %w", id, off, err)
			}
			sp, ok := spans[m.KeyLink]
			if !ok {
				sp.First = off
			}
			sp.Last = off
			sp.Count++
			spans[m.KeyLink] = sp
			return nil
		})
		if err != nil {
			return err
		}
		if err := a.keys.IndexEvents(id, from, next, spans); err != nil {
			return err
		}
	}
}

// scanLink counts the stream's records in offsets [from, to) encrypted
// with link.
func (a *App) scanLink(id log.StreamID, link string, from, to uint64) (uint64, error) {
	var n uint64
	_, err := a.log.ScanMeta(id, from, to, func(off uint64, meta []byte) error {
		m, err := engine.ParseRecordMeta(meta)
		if err != nil {
			return fmt.Errorf("stream %d offset %d: %w", id, off, err)
		}
		if m.KeyLink == link {
			n++
		}
		return nil
	})
	return n, err
}
