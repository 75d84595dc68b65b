package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func newFailoverCmd(g *globals) *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "failover",
		Short: "The outage: serve users from the standby, using only what is on this VPS",
		Long: `Make the standby serve users. Works with S3, the Heroku API and the image registry all
unreachable: it uses the current database generation (or restores the newest cached
archive when there is none), the local app image and the config-var snapshot. A warm
standby is only switched to serving (every process started, web published on
app.publish with app.serving_vars, on a network with egress) and health-checked. Prints
the RPO (age of the data served), the RTO (how long this took) and what to do next.
--dry-run checks everything it would need and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			res, err := g.ops().Failover(cmd.Context(), s, dryRun)
			if eerr := g.emit(res, func(w io.Writer) { printFailover(w, res) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "check what a failover needs, change nothing")
	return c
}

func printFailover(w io.Writer, r *failover.FailoverResult) {
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-16s %s\n", mark, c.Name, c.Detail)
	}
	if r.DryRun {
		fmt.Fprintln(w, "dry run: nothing was changed")
		return
	}
	if r.Generation == 0 {
		return
	}
	kind := "cold (restored from the cache)"
	if r.Warm {
		kind = "warm"
	}
	fmt.Fprintf(w, "\nSERVING from generation %d, %s standby\n", r.Generation, kind)
	fmt.Fprintf(w, "  RTO: %.1fs (this failover)\n", r.RTOSeconds)
	fmt.Fprintf(w, "  RPO: %s (data captured %s)\n", report.Span(r.RPOSeconds), r.DataCapturedAt.Format(time.RFC3339))
	if r.Published != "" {
		fmt.Fprintf(w, "  web: published on %s\n", r.Published)
	}
	fmt.Fprintln(w, "\nNext steps:")
	for i, s := range r.NextSteps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
}
