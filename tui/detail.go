package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
)

// detailModel is one event, shown whole.
type detailModel struct {
	c      *common
	stream *v1.Stream
	rec    *v1.Record
	scroll scroller // a pager over the body's lines
}

// open shows rec of st from its first line and asks for what marking its
// fields and describing its key link need.
func (d *detailModel) open(st *v1.Stream, rec *v1.Record) tea.Cmd {
	d.stream, d.rec = st, rec
	d.scroll = scroller{pager: true}
	d.resize()
	return tea.Batch(d.c.askKeyLinks(sourceOf(st)), d.c.askContract(rec.EventContractRef))
}

func (d *detailModel) resize() { d.scroll.height = d.c.bodyHeight() }

func (d *detailModel) update(msg tea.Msg) (tea.Cmd, tea.Msg) {
	k := d.c.keys
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		d.scroll.move(wheelDelta(msg))
	case tea.KeyPressMsg:
		if d.scroll.update(msg, k) {
			return nil, nil
		}
		switch {
		case key.Matches(msg, k.side):
			return nil, openSideMsg{stream: d.stream, offset: d.rec.Offset}
		case key.Matches(msg, k.keys):
			return nil, openKeysMsg{stream: d.stream, rec: d.rec}
		case key.Matches(msg, k.retry):
			return d.c.askKeyLinks(sourceOf(d.stream)), nil
		}
	}
	return nil, nil
}

// keyLinkLines describes the key link of a record: its period and whether
// the key still exists.
func (c *common) keyLinkLines(source, link string, recShredded bool) []string {
	st := c.styles
	lines := []string{"key link  " + st.key.Render(link)}
	ks := c.keyLinks[source]
	var k *v1.KeyLink
	if ks != nil {
		k = ks.byID[link]
	}
	switch {
	case k != nil:
		const layout = "2006-01-02 15:04"
		lines = append(lines, fmt.Sprintf("period    %s → %s, key expires %s",
			c.fmtTime(k.CreateTime.AsTime(), layout), c.fmtTime(k.RotateTime.AsTime(), layout), c.fmtTime(k.ExpireTime.AsTime(), layout)))
		if k.Shredded {
			lines = append(lines, st.errorText.Render("shredded  "+c.shredText(k)+": its fields can never be decrypted"))
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

func (c *common) shredText(k *v1.KeyLink) string {
	s := "yes"
	if k.ShredTime != nil {
		s += ", " + c.fmtTime(k.ShredTime.AsTime(), "2006-01-02 15:04")
	}
	if k.Forgotten {
		s += " (data subject forgotten)"
	}
	return s
}

func (d *detailModel) title() string { return "event " + d.stream.GetName() }

func (d *detailModel) view(w, h int) []string {
	c, st := d.c, d.c.styles
	rec := d.rec
	derived := d.stream.GetDerivedFrom() != ""
	lines := []string{
		st.title.Render(fmt.Sprintf("%s · offset %d", d.stream.Name, rec.Offset)) + st.dim.Render(" · "+consentText(d.stream)),
		"time      " + c.fmtTime(rec.Time.AsTime(), "2006-01-02 15:04:05.000 MST"),
		"schema    " + rec.SchemaRef + " · contract " + rec.EventContractRef,
		"consent   " + consentList(rec.ConsentLevels),
	}
	lines = append(lines, c.keyLinkLines(sourceOf(d.stream), rec.KeyLink, rec.Shredded)...)
	if derived {
		lines = append(lines, fieldList("decrypted", rec.Decrypted))
		if len(rec.Masked) > 0 {
			lines = append(lines, fieldList("masked   ", rec.Masked))
		}
		lines = append(lines, fieldList("encrypted", rec.Encrypted))
	}
	if c.contracts[rec.EventContractRef] == nil {
		lines = append(lines, st.dim.Render("(reading the event contract for PII levels…)"))
	}
	lines = append(lines, "")
	lines = append(lines, c.jsonLines(rec, nil, w)...)
	return d.scroll.pagerView(lines, h, st)
}

func fieldList(label string, fields []string) string {
	if len(fields) == 0 {
		return label + " none"
	}
	return label + " " + strings.Join(fields, ", ")
}

func (d *detailModel) status() string { return d.c.styles.dim.Render(legend) }

func (d *detailModel) bindings() []key.Binding {
	k := d.c.keys
	return []key.Binding{k.up, k.down, k.side, brief(k.keys, "K", "key links, at this event's")}
}

func (d *detailModel) shortHelp() []key.Binding {
	k := d.c.keys
	return []key.Binding{k.side, k.keys}
}

func (d *detailModel) keysSource() string { return sourceOf(d.stream) }
