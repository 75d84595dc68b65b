package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/schedule"
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
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				for _, u := range units {
					if err := os.WriteFile(filepath.Join(dir, u.Name), []byte(u.Content), 0o644); err != nil {
						return err
					}
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
			for _, p := range cfg.Paths() {
				if p.Dir && p.Key != "metrics.textfile_dir" {
					if err := fsutil.MkdirPrivate(p.Path); err != nil {
						return fmt.Errorf("%s: %w", p.Key, err)
					}
				}
			}
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LIFEBOAT_") && k != "LIFEBOAT_CONFIG" && k != "LIFEBOAT_APP" {
					g.warn("%s is set here, but the scheduled runs do not see it: put the value in %s", k, cfg.Path)
				}
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

func newScheduleListCmd(g *globals) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "list",
		Short: "Each timer with its schedule, next run, last run and the last run's result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			l, err := schedule.List(cmd.Context(), schedule.Exec{}, dir, cfg)
			if err != nil {
				return err
			}
			return g.emit(l, func(w io.Writer) { printScheduleList(w, l, time.Now()) })
		},
	}
	c.Flags().StringVar(&dir, "dir", schedule.DefaultDir, "where systemd reads the units from")
	return c
}

func printScheduleList(w io.Writer, l *schedule.Listing, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tJOB\tSCHEDULE\tNEXT\tLAST RUN\tRESULT")
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		rel := humanAge(now.Sub(*t)) + " ago"
		if t.After(now) {
			rel = "in " + humanAge(t.Sub(now))
		}
		return t.UTC().Format("2006-01-02 15:04 MST") + " (" + rel + ")"
	}
	for _, e := range l.Jobs {
		next := when(e.NextRun)
		switch {
		case e.Schedule == config.ScheduleOff && !e.Installed:
			next = "off"
		case !e.InConfig:
			next = "not in the config: lifeboat schedule install removes it"
		case !e.Installed:
			next = "not installed: run lifeboat schedule install"
		case !e.Enabled || !e.Active:
			next = "timer disabled or stopped: run lifeboat schedule install"
		}
		result := e.Result
		if e.Schedule == config.ScheduleOff && e.LastRun == nil {
			result = "-"
		}
		if e.Detail != "" {
			result += " (" + e.Detail + ")"
		}
		if e.LastRun != nil && e.LastEnd != nil && !e.Running {
			result += fmt.Sprintf(" in %s", e.LastEnd.Sub(*e.LastRun).Round(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.App, e.Job, e.Schedule, next, when(e.LastRun), result)
	}
	tw.Flush()
	s := l.Serve
	switch {
	case !s.Installed:
		fmt.Fprintf(w, "\nserve: %s is not installed (lifeboat schedule install)\n", s.Unit)
	case s.Since != nil:
		fmt.Fprintf(w, "\nserve: %s on http://%s since %s\n", s.State, s.Listen, s.Since.UTC().Format("2006-01-02 15:04 MST"))
	default:
		fmt.Fprintf(w, "\nserve: %s (%s)\n", s.State, s.Unit)
	}
	fmt.Fprintln(w, "logs: journalctl -u 'lifeboat-*'   a run now: systemctl start lifeboat-JOB@APP.service")
}
