package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/internal/store"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of strmlocal",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(e.stdout, "strmlocal %s (%s, data format %d)\n", version, runtime.Version(), store.FormatVersion)
			return err
		},
	}
}
