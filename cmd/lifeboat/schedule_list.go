package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/schedule"
	"github.com/spf13/cobra"
)

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
