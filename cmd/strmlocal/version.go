package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/strmlocal/strmlocal/internal/store"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of strmlocal",
		Example: `  strmlocal version`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(e.stdout, versionLine())
			return err
		},
	}
}

// versionLine is what strmlocal version and strmlocal --version print.
func versionLine() string {
	return fmt.Sprintf("strmlocal %s (%s, data format %d)", version, runtime.Version(), store.FormatVersion)
}
