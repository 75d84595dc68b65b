package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/schedule"
	"github.com/spf13/cobra"
)

func newScheduleInstallCmd(g *globals) *cobra.Command {
	var dir, bin string
	c := &cobra.Command{
		Use:   "install [--dir D] [--bin PATH]",
		Short: "Install the units: write, remove stale ones, reload systemd, enable and start the timers and serve",
		Long: `Makes systemd run exactly what the config says, for every app: writes the units of
` + "`lifeboat schedule units`" + ` to --dir (default /etc/systemd/system) when they differ, stops
and removes the units of apps and jobs no longer in the config (a run in progress is let
finish), runs systemctl daemon-reload, enables and starts every timer (restarting one
whose schedule changed), and enables and starts lifeboat-serve.service (restarting it when
its unit changed). It creates state_dir and the cache directories (mode 0700), which the
sandboxed services cannot create themselves. Only files that Lifeboat wrote are changed or
removed; a hand-written unit in the way is an error. Run it after every change to the
config (the Ansible role does). Prints what changed; --json has "changed" for automation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("app") {
				return usagef("schedule install works on every app of the config: leave out --app")
			}
			cfg, units, err := g.renderUnits(bin, "")
			if err != nil {
				return err
			}
			if err := schedule.MakeStateDirs(cfg); err != nil {
				return err
			}
			for _, k := range schedule.UnseenEnv(os.Environ()) {
				g.warn("%s is set here, but the scheduled runs do not see it: put the value in %s", k, cfg.Path)
			}
			res, err := schedule.Install(cmd.Context(), schedule.Exec{}, dir, units)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				if !res.Changed {
					fmt.Fprintf(w, "schedule: up to date (%d units in %s)\n", len(units), res.Dir)
					return
				}
				for _, l := range []struct {
					what  string
					units []string
				}{{"wrote", res.Written}, {"removed", res.Removed}, {"started", res.Started}, {"restarted", res.Restarted}} {
					if len(l.units) > 0 {
						fmt.Fprintf(w, "%s: %s\n", l.what, strings.Join(l.units, " "))
					}
				}
				fmt.Fprintln(w, "see them with: lifeboat schedule list")
			})
		},
	}
	c.Flags().StringVar(&dir, "dir", schedule.DefaultDir, "where systemd reads the units from")
	c.Flags().StringVar(&bin, "bin", "", "absolute path of the lifeboat binary the units run (default: this one)")
	return c
}
