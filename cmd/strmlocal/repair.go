package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/catalog"
	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/strmlocal/strmlocal/log"
)

type repairOptions struct {
	dataDir string
	yes     bool
}

func newRepairCmd(e *env) *cobra.Command {
	var o repairOptions
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Drop the unreadable end of a damaged write-ahead log, after saying exactly what is lost",
		Long: `Repair a data dir that the server refuses to start because its write-ahead
log is damaged. The server cannot keep anything after the damage: those
writes follow writes that are gone. repair says which streams lose which
offsets (the log's own record of what it acknowledged, against what
survives), asks for confirmation (or takes --yes), then drops them; the
server then starts and reports the loss. Stop the server first. A damaged
table or MANIFEST cannot be repaired: restore the data dir from a copy.`,
		Example: `  strmlocal repair
  strmlocal repair --data-dir ./data --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return repair(e, o, time.Now)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(e.getenv), "directory of the database")
	f.BoolVar(&o.yes, "yes", false, "repair without asking")
	return cmd
}

func repair(e *env, o repairOptions, now func() time.Time) error {
	r, err := store.OpenRepair(store.Options{Dir: o.dataDir})
	if err != nil {
		return err
	}
	defer r.Close()
	d := r.Damage
	if d == nil {
		fmt.Fprintf(e.stdout, "%s: the write-ahead log is intact; nothing to repair\n", o.dataDir)
		return nil
	}
	lines, err := describeLoss(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: write-ahead log %s is damaged at offset %d (%s).\n", o.dataDir, d.File, d.BadAt, d.Reason)
	fmt.Fprintf(e.stdout, "A repair keeps it up to offset %d, where its valid records end, and drops the %d bytes after that (%d intact batches and the damaged record)",
		d.Offset, d.Size-d.Offset, countIn(d.Lost, d.File))
	if len(d.Later) > 0 {
		fmt.Fprintf(e.stdout, ", and the later write-ahead logs %s", strings.Join(d.Later, ", "))
	}
	fmt.Fprintln(e.stdout, ".")
	fmt.Fprintln(e.stdout, "It drops:")
	for _, l := range lines {
		fmt.Fprintln(e.stdout, "  "+l)
	}
	if !o.yes {
		fmt.Fprint(e.stdout, "Drop this and repair? [y/N] ")
		answer, _ := bufio.NewReader(io.LimitReader(e.stdin, 1024)).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
			return errors.New("not repaired: nothing was changed")
		}
	}
	report := fmt.Sprintf("%s: %s cut at offset %d (%s at offset %d)", now().UTC().Format(time.RFC3339), d.File, d.Offset, d.Reason, d.BadAt)
	if len(d.Later) > 0 {
		report += ", " + strings.Join(d.Later, ", ") + " removed"
	}
	report += "; dropped " + strings.Join(lines, "; ")
	if err := r.Apply(report); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "repaired; `strmlocal serve --data-dir %s` starts again and reports this loss\n", o.dataDir)
	return nil
}

func countIn(batches []store.WALBatch, file string) int {
	n := 0
	for _, b := range batches {
		if b.File == filepath.Base(file) {
			n++
		}
	}
	return n
}

// describeLoss says, one line each, which stream offsets the repair drops
// and what other writes go with them.
func describeLoss(r *store.Repair) ([]string, error) {
	d := r.Damage
	losses, err := log.Losses(r.Survivor, d.Lost)
	if err != nil {
		return nil, err
	}
	names := map[log.StreamID]string{}
	if streams, err := catalog.OpenStreams(store.PebbleKV(r.Survivor), time.Now); err == nil {
		for _, st := range streams.List() {
			names[st.ID] = st.Name
		}
	}
	name := func(id log.StreamID) string {
		if n, ok := names[id]; ok {
			return "stream " + n
		}
		return fmt.Sprintf("stream #%d (not in the catalogue)", id)
	}
	var lines []string
	for _, l := range losses {
		if l.Deleted {
			lines = append(lines, fmt.Sprintf("the deletion of %s (it comes back)", name(l.Stream)))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: offsets %d to %d (%d events; %d survive, its next event gets offset %d again)",
			name(l.Stream), l.From, l.To-1, l.To-l.From, l.From, l.From))
	}
	if d.Damaged != nil {
		// The damaged record, read despite its checksum: a best reading of
		// what it held, for streams the intact batches do not cover.
		guess, err := log.Losses(r.Survivor, append([]store.WALBatch{*d.Damaged}, d.Lost...))
		if err == nil {
			for _, g := range guess {
				if !g.Deleted && !containsStream(losses, g.Stream) {
					lines = append(lines, fmt.Sprintf("%s: offsets %d to %d (%d events; %d survive, its next event gets offset %d again), as read from the damaged record despite its checksum",
						name(g.Stream), g.From, g.To-1, g.To-g.From, g.From, g.From))
					losses = append(losses, g)
				}
			}
		}
	} else {
		lines = append(lines, "the damaged record itself, which cannot be read: what it held is lost too and not listed")
	}
	if len(losses) == 0 {
		lines = append(lines, "no acknowledged events (the dropped part holds no stream records beyond what survives)")
	}
	var other [256]int
	for _, b := range d.Lost {
		for _, w := range b.Writes {
			if len(w.Key) > 0 && w.Key[0] != store.SpaceLog {
				other[w.Key[0]]++
			}
		}
	}
	for _, sp := range []struct {
		space byte
		what  string
	}{{store.SpaceCatalog, "catalogue"}, {store.SpaceKeys, "key"}, {store.SpaceStore, "store"}} {
		if n := other[sp.space]; n > 0 {
			lines = append(lines, fmt.Sprintf("%d %s writes", n, sp.what))
		}
	}
	return lines, nil
}

func containsStream(ls []log.Loss, id log.StreamID) bool {
	for _, l := range ls {
		if l.Stream == id {
			return true
		}
	}
	return false
}
