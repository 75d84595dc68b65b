package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
)

func newPSCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ps",
		Short: "List the app's Lifeboat containers: role, generation, image, state, health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, false)
			if err != nil {
				return err
			}
			defer release()
			ps, err := s.PS(cmd.Context())
			if err != nil {
				return err
			}
			return g.emit(ps, func(w io.Writer) { printPS(w, ps) })
		},
	}
}

func printPS(w io.Writer, ps []failover.Process) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tNAME\tROLE\tPURPOSE\tGEN\tSTATE\tHEALTH\tIMAGE\tPORTS")
	for _, p := range ps {
		mark := ""
		if p.Current {
			mark = "*"
		}
		id := p.ImageID
		if i := strings.IndexByte(id, ':'); i >= 0 {
			id = id[i+1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s (%s)\t%s\n", mark, p.Name, p.Role, p.Purpose, p.Generation, p.State, p.Health,
			p.Image, id[:min(12, len(id))], strings.Join(p.Ports, ","))
	}
	tw.Flush()
}
