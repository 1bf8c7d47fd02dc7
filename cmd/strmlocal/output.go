package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"

	"github.com/strmlocal/strmlocal/client"
)

// printJSON writes m as indented protojson with a trailing newline.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := client.MarshalJSON(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// printTable writes rows under a header, columns aligned.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
