package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

func newArchivesCmd(g *globals) *cobra.Command {
	var checkAll bool
	c := &cobra.Command{
		Use:   "archives",
		Short: "List the backup archives in S3, newest first, and say which one fetch would pick",
		Long: `List every object under the app's S3 prefix, newest capture first, with its size,
capture time (and where that time came from: the pg_dump header, the name, or
LastModified), age, storage class, whether it is in the local cache, and why
objects that cannot be used are skipped. The archive fetch would pick is marked *:
"verified" when it is in the local cache (read to its end), else "header ok" (its
first bytes are a pg_dump archive; fetch reads it to its end and falls back to the
next one if it is cut short).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, app, err := g.loadApp()
			if err != nil {
				return err
			}
			log := g.logger(cfg)
			f, err := failover.NewFetcher(cmd.Context(), app, log)
			if err != nil {
				return err
			}
			so := f.Scan
			so.CheckAll = checkAll
			so.Cached = func(o archive.Object) bool { _, ok := f.Cache.Find(o.Key, o.ETag); return ok }
			l, err := archive.Scan(cmd.Context(), f.Store, f.Prefix, so)
			if err != nil {
				return withCacheHint(err, f.Cache)
			}
			for _, w := range append(l.Notices, l.Warnings...) {
				g.warn("%s", w)
			}
			if err := g.emit(archivesJSON(l), func(w io.Writer) { printArchives(w, l) }); err != nil {
				return err
			}
			if l.Newest == "" {
				return fmt.Errorf("%w under %s: no object there is a readable pg_dump custom-format archive", archive.ErrNoArchive, l.Store)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&checkAll, "check-all", false, "open every object to read its header, not only the most recent ones")
	return c
}

type candidateJSON struct {
	archive.Candidate
	AgeSeconds int64 `json:"age_seconds"`
	Newest     bool  `json:"newest"`
}

func archivesJSON(l *archive.Listing) any {
	out := struct {
		*archive.Listing
		Candidates []candidateJSON `json:"candidates"`
	}{Listing: l, Candidates: []candidateJSON{}}
	for _, c := range l.Candidates {
		out.Candidates = append(out.Candidates, candidateJSON{Candidate: c, AgeSeconds: int64(l.ScannedAt.Sub(c.CapturedAt).Seconds()), Newest: c.Key == l.Newest})
	}
	return out
}

func printArchives(w io.Writer, l *archive.Listing) {
	fmt.Fprintf(w, "%s: %d objects, %d opened\n", l.Store, l.Objects, l.Checked)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tCAPTURED (UTC)\tFROM\tAGE\tSIZE\tCLASS\tCACHED\tSTATUS\tKEY")
	for _, c := range l.Candidates {
		mark := ""
		if c.Key == l.Newest {
			mark = "*"
		}
		cached := ""
		if c.Cached {
			cached = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, c.CapturedAt.UTC().Format("2006-01-02 15:04"), c.TimeSource,
			humanAge(l.ScannedAt.Sub(c.CapturedAt)), humanBytes(c.Size), c.StorageClass, cached, statusWord(c), c.Key)
		if c.SkipReason != "" && c.Status != archive.StatusUnchecked {
			fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t  ↳ %s\n", c.SkipReason)
		}
	}
	tw.Flush()
	if c, ok := l.NewestCandidate(); ok {
		if c.Cached {
			fmt.Fprintf(w, "* newest valid archive (verified, in the local cache): %s\n", c.Key)
		} else {
			fmt.Fprintf(w, "* newest candidate (not yet read to its end; fetch verifies it): %s\n", c.Key)
		}
	}
}

// statusWord says how far a candidate is known to be good: a valid one
// has a pg_dump header, and only a cached one was read to its end.
func statusWord(c archive.Candidate) string {
	if c.Status != archive.StatusValid {
		return c.Status
	}
	if c.Header != nil && c.Header.Format == dump.FormatPlain {
		// Read to its end by fetch, but a script is only proven by running it.
		if c.Cached {
			return "read (plain SQL)"
		}
		return "plain SQL"
	}
	if c.Cached {
		return "verified"
	}
	return "header ok"
}

// withCacheHint adds, to an error reaching S3, what the local cache holds:
// during an outage the operator needs to know what they have.
func withCacheHint(err error, c *archive.Cache) error {
	if !isUnreachable(err) {
		return err
	}
	e, cerr := c.Newest()
	if cerr != nil {
		return fmt.Errorf("%w\nthe local cache (%s) holds no verified archive", err, c.Dir)
	}
	return fmt.Errorf("%w\nnewest archive in the local cache: %s (captured %s, %s ago) at %s",
		err, e.Key, e.CapturedAt.Format(time.RFC3339), humanAge(time.Since(e.CapturedAt)), e.Path)
}

func isUnreachable(err error) bool {
	return errors.Is(err, archive.ErrUnreachable)
}
