package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func newDrillCmd(g *globals) *cobra.Command {
	var o failover.DrillOptions
	var archiveArg string
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
(exit 1). Everything is torn down afterwards (also on Ctrl-C) unless --keep; the next
drill removes the leftovers of a killed one. The report is kept under
{state_dir}/{app}/drills/ (see lifeboat report and lifeboat drills).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
				if o.Archive, err = g.resolveArchive(s.App, archiveArg); err != nil {
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
	c.Flags().BoolVar(&o.AcceptDrift, "accept-drift", false, "record row counts that drifted beyond database.drift since the last verified restore instead of failing")
	c.Flags().StringVar(&o.Trigger, "trigger", "manual", "schedule, manual or webhook")
	c.Flags().StringVar(&o.TriggeredBy, "triggered-by", "", "who or what started the drill (default: the user)")
	return c
}

func newReportCmd(g *globals) *cobra.Command {
	var htmlOut, mdOut string
	c := &cobra.Command{
		Use:   "report [ID|latest]",
		Short: "Show a drill report (JSON with --json, an HTML page with --html FILE, Markdown with --markdown FILE)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, app, err := g.loadApp()
			if err != nil {
				return err
			}
			id := "latest"
			if len(args) == 1 {
				id = args[0]
			}
			drills := failover.StateOf(app).DrillsDir()
			rep, err := report.Load(drills, id)
			if err != nil {
				return fmt.Errorf("%w (list them with lifeboat drills)", err)
			}
			if htmlOut != "" {
				history, err := report.List(drills)
				if err != nil {
					return err
				}
				if err := writeFileWith(htmlOut, func(w io.Writer) error { return report.HTML(w, rep, history) }); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "wrote %s\n", htmlOut)
			}
			if mdOut != "" {
				if err := writeFileWith(mdOut, func(w io.Writer) error { return report.Markdown(w, rep) }); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "wrote %s\n", mdOut)
			}
			if htmlOut != "" || mdOut != "" {
				if g.json {
					return g.emit(rep, nil)
				}
				return nil
			}
			return g.emit(rep, func(w io.Writer) { report.Markdown(w, rep) })
		},
	}
	c.Flags().StringVar(&htmlOut, "html", "", "write the report as a self-contained HTML page to this file")
	c.Flags().StringVar(&mdOut, "markdown", "", "write the report's Markdown summary to this file")
	return c
}

// writeFileWith writes the file at path atomically (a temp file renamed
// over it), so that a symbolic link or hard link planted at path, in /tmp
// say, is replaced rather than followed.
func writeFileWith(path string, write func(io.Writer) error) error {
	return fsutil.WriteAtomic(path, 0o644, write)
}

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
						secs(r.RTO.Seconds), secs(r.RPO.Seconds), r.Archive.Key, strings.Join(r.Failures, "; "))
				}
				tw.Flush()
			})
		},
	}
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

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
