package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRollbackCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback",
		Short: "Make the previous verified database generation current again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			gen, err := g.ops().Rollback(cmd.Context(), s)
			if err != nil {
				return err
			}
			return g.emit(gen, func(w io.Writer) {
				fmt.Fprintf(w, "rolled back: generation %d is current\n", gen.Number)
				printGeneration(w, gen)
			})
		},
	}
}
