package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
)

func newRefreshCmd(g *globals) *cobra.Command {
	var force, acceptDrift bool
	c := &cobra.Command{
		Use:   "refresh",
		Short: "The scheduled job: newest archive → new verified generation → app on it → switch",
		Long: `Fetch the newest archive (if newer than the current generation's), pull the app
image, snapshot the Heroku config vars, restore a new database generation beside the
running one, verify it, start the app on it and wait until healthy; only then switch to
it and retire the old app containers and database (keep_generations). If any step
fails, the old standby keeps running exactly as it was, the failure is reported, and
the exit code is 1. A newer archive in the bucket that cannot be used also fails the
refresh (after caching the newest valid one), so that a failing backup job is noticed.
While failed over, refresh does nothing (it would overwrite the data written during
the outage) unless --force: it says so and exits 0, and the skipped run is not the
job's last run for check, the status page and the metrics. Each run is recorded under
{state_dir}/{app}/runs/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			res, err := g.ops().Refresh(cmd.Context(), s, failover.RefreshOptions{Force: force, AcceptDrift: acceptDrift})
			// The row-count warnings were said while the generation was
			// verified; the others are said here.
			said := map[string]bool{}
			if res.Generation != nil {
				for _, w := range res.Generation.Drift.Warnings {
					said[w+", "+res.Generation.Drift.Between()] = true
				}
			}
			for _, w := range res.Warnings {
				if !said[w] {
					g.warn("%s", w)
				}
			}
			if eerr := g.emit(res, func(w io.Writer) { printRefresh(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	c.Flags().BoolVar(&force, "force", false, "restore even when the archive is not newer, and run even while failed over")
	c.Flags().BoolVar(&acceptDrift, "accept-drift", false, "record row counts that drifted beyond database.drift since the last verified restore instead of failing")
	return c
}

func printRefresh(w io.Writer, r *failover.RefreshResult) {
	fmt.Fprintf(w, "refresh: %s", r.Outcome)
	if r.Generation != nil {
		fmt.Fprintf(w, " (generation %d, archive %s)", r.Generation.Number, r.Generation.Archive.Key)
	}
	fmt.Fprintln(w)
	var phases []string
	for _, p := range r.Run.Phases {
		phases = append(phases, fmt.Sprintf("%s %.1fs", p.Name, p.Seconds))
	}
	if len(phases) > 0 {
		fmt.Fprintf(w, "  phases: %s\n", strings.Join(phases, ", "))
	}
	if r.App != nil && r.App.Stack != nil {
		fmt.Fprintf(w, "  app: %s, web %s\n", strings.Join(r.App.Stack.Containers, ", "), r.App.Stack.WebURL)
	}
	if r.Generation != nil && (r.Generation.Drift.Compared || r.Generation.Drift.Note != "") {
		fmt.Fprintf(w, "  rows: %s\n", r.Generation.Drift.Summary())
	}
	// A failure's error is printed once, by run, on stderr.
}
