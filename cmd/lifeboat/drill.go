package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func newDrillCmd(g *globals) *cobra.Command {
	var o failover.DrillOptions
	var archiveArg string
	var cleanup bool
	c := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse a failover, isolated and measured, with an evidence report (RTO, RPO, checks)",
		Long: `Restore the newest archive in S3 (or the newest cached one with --offline) into a fresh
database container and boot the app image against it, on a Docker network of its own
created internal (no egress: no real e-mail, no real payments), never touching the
standby. Every phase is timed (locate, download, verify, database-start, restore,
checks, release, app-boot, health, teardown); RTO is the time from start to healthy,
RPO the age of the data; both are compared with rto_target and rpo_target. Fail-closed:
any check that cannot run, a restore error, a failed SQL check, an app that never gets
healthy, a missed target or a notification that cannot be delivered fails the drill
(exit 1). Everything is torn down afterwards (also on Ctrl-C) unless --keep, or
--keep-on-failure and the drill failed (it then prints how to reach the kept database
and app); the next drill, or drill --cleanup, removes the leftovers of a kept or killed
one. The report is kept under {state_dir}/{app}/drills/ (see lifeboat report and lifeboat drills).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Keep && o.KeepOnFailure {
				return usagef("--keep keeps every drill, --keep-on-failure only a failed one: give one of them")
			}
			if cleanup {
				return drillCleanup(cmd, g)
			}
			switch o.Trigger {
			case "schedule", "manual", "webhook":
			default:
				return usagef("--trigger must be schedule, manual or webhook, got %q", o.Trigger)
			}
			if o.TriggeredBy == "" {
				o.TriggeredBy = os.Getenv("SUDO_USER")
				if o.TriggeredBy == "" {
					o.TriggeredBy = os.Getenv("USER")
				}
			}
			o.ToolVersion = version()
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			if archiveArg != "" {
				if o.Archive, err = g.resolveArchive(cmd.Context(), s.App, archiveArg); err != nil {
					return err
				}
			}
			ops := g.ops()
			rep, err := ops.Drill(cmd.Context(), s, o)
			if rep != nil {
				if eerr := g.emit(rep, func(w io.Writer) { report.Markdown(w, rep) }); eerr != nil {
					return eerr
				}
			}
			return err
		},
	}
	c.Flags().BoolVar(&o.Offline, "offline", false, "use the newest cached archive instead of S3's")
	c.Flags().StringVar(&archiveArg, "archive", "", "rehearse with this pg_dump file, or vault:NAME (lifeboat vault list), instead of S3's newest")
	c.Flags().BoolVar(&o.Keep, "keep", false, "leave the drill's containers running for inspection")
	c.Flags().BoolVar(&o.KeepOnFailure, "keep-on-failure", false, "leave the drill's database and app running when the drill fails, and print how to reach them")
	c.Flags().BoolVar(&cleanup, "cleanup", false, "remove what earlier drills kept (--keep, --keep-on-failure) or left when killed, and run no drill")
	c.Flags().BoolVar(&o.AcceptDrift, "accept-drift", false, "record row counts that drifted beyond database.drift since the last verified restore instead of failing")
	c.Flags().StringVar(&o.Trigger, "trigger", "manual", "schedule, manual or webhook")
	c.Flags().StringVar(&o.TriggeredBy, "triggered-by", "", "who or what started the drill (default: the user)")
	return c
}

// drillCleanup is `drill --cleanup`: it removes the app's drill leftovers.
func drillCleanup(cmd *cobra.Command, g *globals) error {
	s, release, err := g.standby(cmd, true)
	if err != nil {
		return err
	}
	defer release()
	removed, err := s.CleanupDrills(cmd.Context())
	res := struct {
		Removed []string `json:"removed"`
	}{Removed: append([]string{}, removed...)}
	if eerr := g.emit(res, func(w io.Writer) {
		if len(removed) == 0 {
			fmt.Fprintln(w, "no drill leftovers")
			return
		}
		fmt.Fprintf(w, "removed %d drill leftover(s):\n", len(removed))
		for _, r := range removed {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}); eerr != nil {
		return eerr
	}
	return err
}
