package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/drift"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var archivePath string
	var acceptDrift bool
	c := &cobra.Command{
		Use:   "restore",
		Short: "Restore the newest cached archive into a new database generation, verify it, make it current",
		Long: `Restore an archive (the newest verified one in the local cache, --archive FILE, or
--archive vault:NAME, an entry of the vault, checked against its manifest)
into a new Postgres container (generation N+1) beside the current one: the image is
postgres:{major} of the archive unless database.image says otherwise; the schemas and
extensions the archive needs (heroku_ext) are created first; pg_restore runs inside the
container with --jobs, --no-owner, --no-acl; then every table with data must exist (its
exact row count is recorded), no sequence may be behind its column, the app's SQL checks
must return true, and optionally amcheck verifies every B-tree index. A plain-SQL dump
(pg_dump -Fp, with database.allow_plain_sql) is streamed into psql -v ON_ERROR_STOP=1
instead, and each table must then hold the rows of its COPY data. Each table's row
count is compared with the app's previous verified restore (database.drift: a table that
disappeared, became empty or lost more than max_shrink fails; --accept-drift records it
instead), and with the minimums in database.expect.

Only a verified generation becomes current. A failed one is removed (its record and
logs stay under the state dir) and the current generation is not touched. The previous
generation is kept, stopped, for rollback (database.keep_generations).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if archivePath != "" {
				if strings.HasPrefix(archivePath, failover.VaultPrefix) {
					_, app, err := g.loadApp()
					if err != nil {
						return err
					}
					if archivePath, err = g.resolveArchive(cmd.Context(), app, archivePath); err != nil {
						return err
					}
				}
				if err := checkArchiveFile(archivePath); err != nil {
					return err
				}
			}
			s, release, err := g.standby(cmd, true)
			if err != nil {
				return err
			}
			defer release()
			res, err := g.ops().Restore(cmd.Context(), s, failover.RestoreRequest{ArchivePath: archivePath, AcceptDrift: acceptDrift})
			if res.Generation != nil {
				if eerr := g.emit(res, func(w io.Writer) { printGeneration(w, res.Generation) }); eerr != nil {
					return eerr
				}
			}
			return err
		},
	}
	c.Flags().StringVar(&archivePath, "archive", "", "restore this pg_dump custom-format file, or vault:NAME (lifeboat vault list), instead of the newest cached archive")
	c.Flags().BoolVar(&acceptDrift, "accept-drift", false, "record row counts that drifted beyond database.drift since the last verified restore instead of failing")
	return c
}

func printGeneration(w io.Writer, g *state.Generation) {
	fmt.Fprintf(w, "generation %d: %s", g.Number, g.Status)
	if g.Error != "" {
		fmt.Fprintf(w, " (%s)", g.Error)
	}
	fmt.Fprintln(w)
	// A generation that failed early has only some of its fields: the
	// others are left out rather than printed empty.
	if g.Archive.Key != "" {
		fmt.Fprintf(w, "  archive:   %s (captured %s)\n", g.Archive.Key, g.Archive.CapturedAt.Format(time.RFC3339))
	}
	if g.Container != "" {
		var about []string
		for _, s := range []string{g.Image, ifSet("PostgreSQL ", g.ServerVersion)} {
			if s != "" {
				about = append(about, s)
			}
		}
		fmt.Fprintf(w, "  database:  %s in %s", g.Database, g.Container)
		if len(about) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(about, ", "))
		}
		fmt.Fprintln(w)
	}
	if g.Published != "" {
		fmt.Fprintf(w, "  published: %s\n", g.Published)
	}
	var phases []string
	for _, p := range g.Phases {
		phases = append(phases, fmt.Sprintf("%s %.1fs", p.Name, p.Seconds))
	}
	if len(phases) > 0 {
		fmt.Fprintf(w, "  phases:    %s (total %.1fs)\n", strings.Join(phases, ", "), g.Seconds())
	}
	r := g.Restore
	if r.Jobs > 0 || r.LogFile != "" {
		if g.Archive.Format == dump.FormatPlain {
			fmt.Fprintf(w, "  restore:   psql -v ON_ERROR_STOP=1 (a plain-SQL dump), %d error(s), %d warning(s)", len(r.Errors), len(r.Warnings))
		} else {
			fmt.Fprintf(w, "  restore:   pg_restore --jobs %d, %d error(s), %d expected, %d warning(s)", r.Jobs, len(r.Errors), len(r.ExpectedErrors), len(r.Warnings))
		}
		if r.LogFile != "" {
			fmt.Fprintf(w, "; log %s", r.LogFile)
		}
		fmt.Fprintln(w)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "    error: %s\n", strings.ReplaceAll(e, "\n", "\n    "))
	}
	var rows int64
	for _, t := range g.Tables {
		rows += t.Rows
	}
	if len(g.Tables) > 0 {
		rowsWord := "rows"
		if rows == 1 {
			rowsWord = "row"
		}
		fmt.Fprintf(w, "  tables:    %d, %d %s\n", len(g.Tables), rows, rowsWord)
	}
	if len(g.Checks) == 0 {
		return
	}
	ok := 0
	for _, c := range g.Checks {
		if c.OK {
			ok++
		}
	}
	fmt.Fprintf(w, "  checks:    %d of %d passed\n", ok, len(g.Checks))
	for _, c := range g.Checks {
		if !c.OK || c.Kind == "sql" || c.Kind == "amcheck" || c.Kind == report.KindDrift || c.Kind == report.KindExpect {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "    %s %s: %s\n", mark, c.Name, c.Detail)
		}
	}
	printDrift(w, g.Drift)
}

// printDrift lists the tables whose row count changed since the previous
// verified restore, the biggest changes first.
func printDrift(w io.Writer, d drift.Result) {
	if !d.Compared {
		return
	}
	var changed []drift.Change
	for _, c := range d.Tables {
		if c.Status != drift.StatusUnchanged {
			changed = append(changed, c)
		}
	}
	fmt.Fprintf(w, "  rows:      %d of %d tables changed since %s\n", len(changed), len(d.Tables), d.Previous)
	for i, c := range changed {
		if i == 20 {
			fmt.Fprintf(w, "    … and %d more (--json lists them all)\n", len(changed)-i)
			break
		}
		mark := map[string]string{drift.VerdictFail: "FAIL", drift.VerdictWarn: "WARN"}[c.Verdict]
		fmt.Fprintf(w, "    %-4s %-40s %12s → %-12s %s\n", mark, c.Table, rowsText(c.Before, c.Status == drift.StatusNew),
			rowsText(c.After, c.Status == drift.StatusDisappeared), c.Status)
	}
}

func rowsText(n int64, absent bool) string {
	if absent {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// checkArchiveFile refuses an --archive that is not a readable file,
// before anything is locked or started.
func checkArchiveFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("--archive %s: no such file (give a pg_dump custom-format file, or leave --archive out to restore the newest cached archive)", path)
	case err != nil:
		return usagef("--archive %s: %v", path, err)
	case st.IsDir():
		return usagef("--archive %s is a directory: give a pg_dump custom-format file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return usagef("--archive %s cannot be read: %v", path, err)
	}
	return f.Close()
}

// ifSet is prefix+s, or "" when s is.
func ifSet(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
