package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the whole chain: archive fresh, sized and readable; last refresh and drill good and recent",
		Long: `Check the backup chain as a whole: the newest archive in S3 is younger than
check.max_archive_age (default 26h), not suspiciously small against the recent ones
(check.min_size_ratio of their median), and readable; the standby's last refresh and
last drill succeeded within check.max_refresh_age and check.max_drill_age; the standby
database runs. Exit 1 on any failure; each finding says what to do.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, release, err := g.standby(cmd, false)
			if err != nil {
				return err
			}
			defer release()
			r, err := g.ops().Check(cmd.Context(), s)
			if eerr := g.emit(r, func(w io.Writer) { printFindings(w, r.Findings) }); eerr != nil {
				return eerr
			}
			return err
		},
	}
}
