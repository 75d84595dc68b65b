package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func newDrillsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "drills",
		Short: "List the app's drills, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			list, err := report.List(failover.StateOf(app).DrillsDir())
			if err != nil {
				return err
			}
			if list == nil {
				list = []*report.Report{}
			}
			return g.emit(list, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tRESULT\tTRIGGER\tRTO\tRPO\tARCHIVE\tFAILURES")
				for _, r := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, strings.ToUpper(r.Result), r.Trigger,
						report.Span(r.RTO.Seconds), report.Span(r.RPO.Seconds), r.Archive.Key, strings.Join(r.Failures, "; "))
				}
				tw.Flush()
			})
		},
	}
}
