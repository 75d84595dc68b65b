package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/lifeboat-dr/lifeboat/failover/schedule"
	"github.com/spf13/cobra"
)

func newScheduleUnitsCmd(g *globals) *cobra.Command {
	var dir, bin string
	c := &cobra.Command{
		Use:   "units [--app A] [--dir D] [--bin PATH]",
		Short: "Print the systemd units the config's schedules make, or write them to a directory",
		Long: `Renders the units from the config: for each app (or only --app) and each job not
"off", lifeboat-{job}@{app}.service and .timer; without --app also lifeboat-serve.service.
They run --bin (default: this binary) with --config set to this config's absolute path.
With --dir the files are written there (nothing else happens), else printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, units, err := g.renderUnits(bin, g.app)
			if err != nil {
				return err
			}
			if dir != "" {
				if err := schedule.Write(dir, units); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "wrote %d units to %s\n", len(units), dir)
			}
			return g.emit(units, func(w io.Writer) {
				if dir != "" {
					for _, u := range units {
						fmt.Fprintln(w, filepath.Join(dir, u.Name))
					}
					return
				}
				for i, u := range units {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "# %s\n%s", filepath.Join(schedule.DefaultDir, u.Name), u.Content)
				}
			})
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "write the unit files into this directory instead of printing them")
	c.Flags().StringVar(&bin, "bin", "", "absolute path of the lifeboat binary the units run (default: this one)")
	return c
}
