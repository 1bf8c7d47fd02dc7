package app

import (
	"errors"

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

// countEvents counts the events encrypted with any of links, by scanning
// the metadata of their streams' logs.
func (a *App) countEvents(links []keys.Link) (uint64, error) {
	byStream := map[log.StreamID]map[string]bool{}
	for _, l := range links {
		if byStream[l.Stream] == nil {
			byStream[l.Stream] = map[string]bool{}
		}
		byStream[l.Stream][l.ID] = true
	}
	var n uint64
	for id, set := range byStream {
		for from := uint64(0); ; {
			recs, err := a.log.Read(id, from, MaxPageRecords)
			if errors.Is(err, log.ErrDropped) || len(recs) == 0 {
				break
			}
			if err != nil {
				return 0, err
			}
			for _, r := range recs {
				m, err := engine.ParseRecordMeta(r.Meta)
				if err != nil {
					return 0, err
				}
				if set[m.KeyLink] {
					n++
				}
			}
			from = recs[len(recs)-1].Offset + 1
		}
	}
	return n, nil
}
