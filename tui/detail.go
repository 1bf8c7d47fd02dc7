package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// detailState is one event, shown whole.
type detailState struct {
	stream *v1.Stream
	rec    *v1.Record
	scroll scroller // a pager over the body's lines
}

// keyLinksState is what the UI knows of a source stream's key links.
type keyLinksState struct {
	links   []*v1.KeyLink
	byID    map[string]*v1.KeyLink
	err     string
	loading bool
}

// sourceOf is the source stream a stream's key links belong to.
func (m *Model) sourceOf(st *v1.Stream) string {
	if st.GetDerivedFrom() != "" {
		return st.DerivedFrom
	}
	return st.GetName()
}

// askKeyLinks reads the key links of a source stream again.
func (m *Model) askKeyLinks(source string) tea.Cmd {
	ks := m.keyLinks[source]
	if ks == nil {
		ks = &keyLinksState{}
		m.keyLinks[source] = ks
	}
	ks.loading = true
	return m.c.client.keyLinksCmd(m.ctx, source)
}

func (m *Model) applyKeyLinks(msg keyLinksMsg) {
	ks := m.keyLinks[msg.stream]
	if ks == nil {
		ks = &keyLinksState{}
		m.keyLinks[msg.stream] = ks
	}
	ks.loading = false
	if msg.err != "" {
		ks.err = msg.err
		return
	}
	ks.err, ks.links = "", msg.links
	ks.byID = make(map[string]*v1.KeyLink, len(msg.links))
	for _, k := range msg.links {
		ks.byID[k.KeyLink] = k
	}
}

// keysSource is the source stream whose key links the open screen shows.
func (m *Model) keysSource() string {
	switch m.screen {
	case screenDetail:
		return m.sourceOf(m.detail.stream)
	case screenSide:
		return m.side.source.GetName()
	case screenKeys:
		return m.keys.stream
	}
	return ""
}

func (m *Model) openDetail(st *v1.Stream, rec *v1.Record) tea.Cmd {
	m.detail = detailState{stream: st, rec: rec, scroll: scroller{pager: true, height: m.c.height - 3}}
	m.open(screenDetail)
	return tea.Batch(m.askKeyLinks(m.sourceOf(st)), m.askContract(rec.EventContractRef))
}

func (m *Model) detailKey(msg tea.KeyPressMsg) tea.Cmd {
	k, d := m.c.keys, &m.detail
	if d.scroll.update(msg, k) {
		return nil
	}
	switch {
	case key.Matches(msg, k.side):
		return m.openSide(d.stream, d.rec.Offset)
	case key.Matches(msg, k.keys):
		return m.openKeys(d.stream)
	case key.Matches(msg, k.retry):
		return m.askKeyLinks(m.sourceOf(d.stream))
	}
	return nil
}

// keyLinkLines describes the key link of a record: its period and whether
// the key still exists.
func (m *Model) keyLinkLines(source, link string, recShredded bool) []string {
	st := m.c.styles
	lines := []string{"key link  " + st.key.Render(link)}
	ks := m.keyLinks[source]
	var k *v1.KeyLink
	if ks != nil {
		k = ks.byID[link]
	}
	switch {
	case k != nil:
		const layout = "2006-01-02 15:04"
		lines = append(lines, fmt.Sprintf("period    %s → %s, key expires %s",
			m.fmtTime(k.CreateTime.AsTime(), layout), m.fmtTime(k.RotateTime.AsTime(), layout), m.fmtTime(k.ExpireTime.AsTime(), layout)))
		if k.Shredded {
			lines = append(lines, st.errorText.Render("shredded  "+shredText(m, k)+": its fields can never be decrypted"))
		} else {
			lines = append(lines, "shredded  no")
		}
	case ks != nil && ks.err != "":
		lines = append(lines, st.warn.Render("key links: "+ks.err))
	case ks == nil || ks.loading:
		lines = append(lines, st.dim.Render("period    (reading key links…)"))
	default:
		lines = append(lines, st.dim.Render("period    (not among the stream's key links)"))
	}
	if recShredded && (k == nil || !k.Shredded) {
		lines = append(lines, st.errorText.Render("shredded  yes: the fields this stream would decrypt stay encrypted"))
	}
	return lines
}

func shredText(m *Model, k *v1.KeyLink) string {
	s := "yes"
	if k.ShredTime != nil {
		s += ", " + m.fmtTime(k.ShredTime.AsTime(), "2006-01-02 15:04")
	}
	if k.Forgotten {
		s += " (data subject forgotten)"
	}
	return s
}

// jsonLines renders a record's JSON with the PII gutter, values styled by
// kind and cut to width w.
func (m *Model) jsonLines(rec *v1.Record, derived bool, collapse map[string]bool, w int) []string {
	st := m.c.styles
	jl, err := prettyJSON(rec.Json, collapse)
	if err != nil {
		return []string{st.errorText.Render("cannot read the event's JSON: " + err.Error())}
	}
	a := newAnnotator(rec, m.contracts[rec.EventContractRef])
	out := make([]string, 0, len(jl))
	for _, l := range jl {
		an := annot{}
		if l.leaf && l.path != "" && !strings.HasPrefix(l.path, "strmMeta") {
			an = a.of(l.path, l.str)
		}
		gutter := an.marker()
		if an.pii {
			gutter = st.level.Render(gutter)
		}
		prefix := strings.Repeat("  ", l.indent) + l.key
		value := l.value
		if l.comma {
			value += ","
		}
		room := w - 4 - len([]rune(prefix))
		if room < 4 {
			room = 4
		}
		value = cutMiddle(value, room)
		out = append(out, gutter+prefix+styleValue(st, an.kind, value))
	}
	return out
}

// cutMiddle shortens s to w columns, keeping its end (a closing quote and
// comma, a base64 padding) readable.
func cutMiddle(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	if w < 6 {
		return string(r[:w-1]) + "…"
	}
	tail := 3
	return string(r[:w-1-tail]) + "…" + string(r[len(r)-tail:])
}

func (m *Model) detailBody(w, h int) []string {
	d, st := &m.detail, m.c.styles
	rec := d.rec
	derived := d.stream.GetDerivedFrom() != ""
	lines := []string{
		st.title.Render(fmt.Sprintf("%s · offset %d", d.stream.Name, rec.Offset)) + st.dim.Render(" · "+consentText(d.stream)),
		"time      " + m.fmtTime(rec.Time.AsTime(), "2006-01-02 15:04:05.000 MST"),
		"schema    " + rec.SchemaRef + " · contract " + rec.EventContractRef,
		"consent   " + consentList(rec.ConsentLevels),
	}
	lines = append(lines, m.keyLinkLines(m.sourceOf(d.stream), rec.KeyLink, rec.Shredded)...)
	if derived {
		lines = append(lines, fieldList("decrypted", rec.Decrypted))
		if len(rec.Masked) > 0 {
			lines = append(lines, fieldList("masked   ", rec.Masked))
		}
		lines = append(lines, fieldList("encrypted", rec.Encrypted))
	}
	if m.contracts[rec.EventContractRef] == nil {
		lines = append(lines, st.dim.Render("(reading the event contract for PII levels…)"))
	}
	lines = append(lines, "")
	lines = append(lines, m.jsonLines(rec, derived, nil, w)...)
	d.scroll.fit(len(lines), h)
	return lines[d.scroll.offset:]
}

func fieldList(label string, fields []string) string {
	if len(fields) == 0 {
		return label + " none"
	}
	return label + " " + strings.Join(fields, ", ")
}
