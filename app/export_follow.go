package app

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/strmlocal/strmlocal/exporter"
)

// followAndPublish is the run of a continuous job: it follows the job's
// stream from the cursor and publishes what the stream shows with p, one
// follow step (bounded by Options.PageBytes) at a time, split into
// publishes of at most batch messages. The cursor moves, durably, only
// after the sink acknowledged a step: a run cut short sends that step
// again. It returns when ctx ends or on the first failure.
func followAndPublish(ctx context.Context, r *jobRun, p exporter.Publisher, batch int, toMessage func(*Record) exporter.Message) error {
	defer p.Close()
	rd, err := r.a.Reader(r.stream)
	if err != nil {
		return err
	}
	f := rd.Follow(r.state.Cursor)
	var msgs []exporter.Message
	for {
		recs, err := f.Next(ctx)
		if err != nil {
			return err
		}
		msgs = msgs[:0]
		var bytes uint64
		for i := range recs {
			m := toMessage(&recs[i])
			bytes += uint64(len(m.Value))
			msgs = append(msgs, m)
		}
		for len(msgs) > 0 {
			n := min(batch, len(msgs))
			if err := p.Publish(ctx, msgs[:n]); err != nil {
				return err
			}
			msgs = msgs[n:]
		}
		st := r.state
		st.Cursor = f.Position()
		st.Events += uint64(len(recs))
		st.Objects += uint64(len(recs))
		st.Bytes += bytes
		st.Retries, st.LastSuccess = 0, time.Now().UTC()
		if err := r.save(); err != nil {
			return err
		}
	}
}

// recordAttrs are the metadata of a record every continuous sink carries:
// schema, contract, consent, offset and stream.
func recordAttrs(stream string, rec *Record) []exporter.Attr {
	levels := make([]string, len(rec.Meta.Consent))
	for i, l := range rec.Meta.Consent {
		levels[i] = strconv.Itoa(int(l))
	}
	return []exporter.Attr{
		{Key: "strm-schema-ref", Value: rec.Meta.SchemaRef},
		{Key: "strm-contract-ref", Value: rec.Meta.ContractRef},
		{Key: "strm-consent-levels", Value: strings.Join(levels, ",")},
		{Key: "strm-offset", Value: strconv.FormatUint(rec.Offset, 10)},
		{Key: "strm-stream", Value: stream},
	}
}
