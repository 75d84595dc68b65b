package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
)

func newFailbackCmd(g *globals) *cobra.Command {
	var o failover.FailbackOptions
	c := &cobra.Command{
		Use:   "failback",
		Short: "After the outage: dump the standby's data and print how to restore it into Heroku",
		Long: `Dump the serving standby database (pg_dump, custom format) into
{state_dir}/{app}/failback/, verify it by reading it to its end, upload it to S3 under
failback.s3_prefix when set (with a presigned URL Heroku can fetch), and print the exact
commands that restore it into Heroku Postgres. --stop-app stops the app first so that no
write is made after the dump. Once Heroku serves again, --complete puts the standby back
to waiting (app in standby mode, refresh allowed again).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			res, err := g.ops().Failback(cmd.Context(), s, o)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				if res.Completed {
					fmt.Fprintln(w, "failback complete: the standby is waiting again; refresh runs as scheduled")
					return
				}
				fmt.Fprintf(w, "dumped generation %d to %s (%s, sha256 %s, %d TOC entries, %d tables with data)\n",
					res.Generation, res.File, humanBytes(res.Size), res.SHA256, res.TOCEntries, res.DataTables)
				if res.Uploaded != "" {
					fmt.Fprintf(w, "uploaded to %s\n", res.Uploaded)
				}
				fmt.Fprintln(w, "\nTo bring the data home:")
				for _, c := range res.Commands {
					fmt.Fprintf(w, "  %s\n", c)
				}
			})
		},
	}
	c.Flags().BoolVar(&o.StopApp, "stop-app", false, "stop the app before the dump, so that nothing written after it is lost")
	c.Flags().BoolVar(&o.Complete, "complete", false, "after Heroku serves again: put the standby back to waiting")
	return c
}
