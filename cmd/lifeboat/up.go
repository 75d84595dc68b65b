package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
)

func newUpCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Start the app on the current database generation (release first, then the processes, then health)",
		Long: `Start the app's image against the current database generation, as Heroku runs it:
the release command first (it must succeed), then each process type of the config (or
the image's Procfile) with PORT, DYNO (web.1, worker.1…) and the config vars, DATABASE_URL
pointing at the standby database. Web is up when its health path answers 2xx.

While waiting as a standby only app.standby_processes run (web by default), on the app's
internal network: no egress, nothing published. After a failover, up starts everything,
serving. The app image must be on this host (refresh pulls it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			res, err := g.ops().Up(cmd.Context(), s)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				g.warn("%s", w)
			}
			return g.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "app up on generation %d (%s) in %.1fs: %s\n", res.Generation, res.Mode, res.Stack.BootSeconds, strings.Join(res.Stack.Containers, ", "))
				if res.Stack.WebURL != "" {
					fmt.Fprintf(w, "  web answers at %s\n", res.Stack.WebURL)
				}
			})
		},
	}
}

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
