package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/schedule"
	"github.com/spf13/cobra"
)

func newScheduleCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "schedule",
		Short: "The systemd timers that run refresh, drill, check and capture on the schedule in the config",
		Long: `Each app's schedule: (refresh, drill, check, capture) becomes a systemd timer and a oneshot
service, lifeboat-{job}@{app}.timer and .service, and lifeboat serve gets
lifeboat-serve.service, which restarts on failure. The services run sandboxed as far as
driving Docker allows, with their output in the journal.

  lifeboat schedule units      print the units (or write them to --dir)
  lifeboat schedule install    write them to /etc/systemd/system, remove those of apps and
                               jobs no longer in the config, enable and start the timers
  lifeboat schedule list       each timer: schedule, next run, last run and its result

systemd never starts a service that is still running, so a timer that fires during a
run starts no second run; any other run of the same app meanwhile exits 75.`,
	}
	c.AddCommand(newScheduleUnitsCmd(g), newScheduleInstallCmd(g), newScheduleListCmd(g))
	return c
}

// renderUnits loads the config and renders the units of app (all apps
// when empty) that run bin (--bin; default: this binary).
func (g *globals) renderUnits(bin, app string) (*config.Config, []schedule.Unit, error) {
	if bin != "" && !filepath.IsAbs(bin) {
		return nil, nil, usagef("--bin %s: name the lifeboat binary by an absolute path (the units run it from /)", bin)
	}
	cfg, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, fmt.Errorf("cannot tell where this lifeboat binary is (%v): name it with --bin", err)
		}
		if bin, err = filepath.EvalSymlinks(exe); err != nil {
			return nil, nil, err
		}
	}
	units, err := schedule.Render(cfg, schedule.Options{Binary: bin, App: app})
	return cfg, units, err
}
