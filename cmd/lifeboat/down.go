package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func newDownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the app's containers (the database generations stay)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			removed, err := s.Down(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(map[string]any{"down": true, "removed": removed}, func(w io.Writer) {
				if len(removed) == 0 {
					fmt.Fprintln(w, "no app containers were running: nothing to remove")
					return
				}
				fmt.Fprintf(w, "removed %d app container(s): %s\n", len(removed), strings.Join(removed, ", "))
			})
		},
	}
}
