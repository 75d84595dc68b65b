package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

type inspectResult struct {
	Source  string       `json:"source"`
	Wrap    string       `json:"wrap"`
	Header  dump.Header  `json:"header"`
	Entries int          `json:"toc_entries"`
	Summary dump.Summary `json:"summary"`
	// Verified is true when the whole archive was read (--verify).
	Verified bool `json:"verified"`
}

func newInspectCmd(g *globals) *cobra.Command {
	var key string
	var verify bool
	c := &cobra.Command{
		Use:   "inspect FILE | --key KEY",
		Short: "Read a pg_dump custom-format archive: header, table of contents, what a restore needs",
		Long: `Read a pg_dump custom-format archive in pure Go (no pg_restore needed): format
version, compression, database name, server and pg_dump versions, creation time,
counts of TOC entries by type, the tables that carry data, and the extensions
and schemas it needs (e.g. heroku_ext). FILE may be a .dump, .dump.gz or .tgz.
A plain-SQL dump (pg_dump -Fp, plain or gzip'd) is read to its end, and what its
comments and COPY statements announce is shown.
With --key, the object is read from the cache if it is there, else streamed from
S3 (only as far as the table of contents, unless --verify).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (key != "") {
				return usagef("give either a FILE or --key KEY")
			}
			var r io.Reader
			var source string
			// The app's reader limits when there is a config (it may have
			// raised them for a genuine archive), else the defaults.
			limits := dump.DefaultLimits
			if key != "" {
				_, app, err := g.loadApp()
				if err != nil {
					return err
				}
				limits = app.Download.DumpLimits()
				if e, ok := failover.Cache(app).Find(key, ""); ok {
					f, err := os.Open(e.Path)
					if err != nil {
						return err
					}
					defer f.Close()
					r, source = f, e.Path
				} else {
					st, err := failover.OpenStore(cmd.Context(), app)
					if err != nil {
						return err
					}
					rc, err := st.Open(cmd.Context(), key, 0, -1)
					if err != nil {
						return err
					}
					defer rc.Close()
					r, source = rc, st.String()+strings.TrimPrefix(key, app.S3.Prefix)
				}
			} else {
				if _, app, err := g.loadApp(); err == nil {
					limits = app.Download.DumpLimits()
				}
				f, err := os.Open(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				defer f.Close()
				r, source = f, args[0]
			}
			ur, wrap, err := archive.Unwrapped(r)
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			var a *dump.Archive
			bur := bufio.NewReaderSize(ur, 64<<10)
			head, _ := bur.Peek(8 << 10)
			ur = bur
			if dump.LooksPlain(head) {
				// A script has no table of contents: it is read to its end.
				a, err = limits.ReadPlain(cmd.Context(), ur)
				verify = true
			} else if verify {
				a, err = limits.Verify(cmd.Context(), ur)
			} else {
				a, err = limits.Read(ur)
			}
			if errors.Is(err, dump.ErrTooLarge) {
				return fmt.Errorf("%s: %w (if the archive is genuine, raise download.max_toc_size or download.max_field_size in the config)", source, err)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			res := inspectResult{Source: source, Wrap: wrap, Header: a.Header, Entries: len(a.Entries), Summary: a.Summary(), Verified: verify}
			return g.emit(res, func(w io.Writer) { printInspect(w, res) })
		},
	}
	c.Flags().StringVar(&key, "key", "", "inspect this S3 object (or its cached copy)")
	c.Flags().BoolVar(&verify, "verify", false, "read the whole archive to its end, not only the table of contents")
	return c
}

func printInspect(w io.Writer, r inspectResult) {
	h := r.Header
	fmt.Fprintf(w, "%s\n", r.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  wrapped in:\t%s\n", r.Wrap)
	if h.Format == dump.FormatPlain {
		fmt.Fprintf(tw, "  format:\tplain SQL (pg_dump -Fp)\n")
	} else {
		fmt.Fprintf(tw, "  format:\t%s, archive version %s, compression %s\n", h.Format, h.Version, h.Compression)
	}
	fmt.Fprintf(tw, "  database:\t%s\n", h.DatabaseName)
	fmt.Fprintf(tw, "  server:\tPostgreSQL %s\n", h.ServerVersion)
	fmt.Fprintf(tw, "  pg_dump:\t%s\n", h.PgDumpVersion)
	if h.Format == dump.FormatPlain {
		fmt.Fprintf(tw, "  created:\tnot recorded in a plain-SQL dump\n")
		fmt.Fprintf(tw, "  restore:\tpsql, only with database.allow_plain_sql: true (a script cannot be verified before it runs)\n")
	} else {
		fmt.Fprintf(tw, "  created:\t%s (pg_dump host's local time)\n", h.CreatedAt.Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(tw, "  TOC entries:\t%d\n", r.Entries)
	tw.Flush()
	types := make([]string, 0, len(r.Summary.CountsByType))
	for t := range r.Summary.CountsByType {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintln(w, "  by type:")
	for _, t := range types {
		fmt.Fprintf(w, "    %-28s %d\n", t, r.Summary.CountsByType[t])
	}
	fmt.Fprintf(w, "  tables with data (%d):\n", len(r.Summary.DataTables))
	for _, t := range r.Summary.DataTables {
		fmt.Fprintf(w, "    %s.%s\n", t.Schema, t.Name)
	}
	if len(r.Summary.Extensions) > 0 {
		fmt.Fprintln(w, "  extensions:")
		for _, e := range r.Summary.Extensions {
			fmt.Fprintf(w, "    %s (schema %s)\n", e.Name, e.Schema)
		}
	}
	fmt.Fprintf(w, "  schemas created: %s\n", strings.Join(r.Summary.SchemasCreated, ", "))
	fmt.Fprintf(w, "  schemas needed:  %s\n", strings.Join(r.Summary.SchemasNeeded, ", "))
	if r.Verified {
		fmt.Fprintln(w, "  verified: the whole archive was read to its end")
	}
}
