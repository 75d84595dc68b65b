package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
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
