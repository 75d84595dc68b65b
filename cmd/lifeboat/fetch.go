package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
)

func newFetchCmd(g *globals) *cobra.Command {
	var key string
	var wait bool
	var poll time.Duration
	c := &cobra.Command{
		Use:   "fetch",
		Short: "Download the newest valid archive (or --key) into the local cache, verified",
		Long: `Download the newest valid archive from S3 (or the object named by --key) with
parallel ranged GETs into a resumable .partial file, verify it (size, the S3
SHA-256 checksum or ETag, sidecar checksums, and the pg_dump archive read to its
end after unwrapping gzip/tar.gz), and only then move the plain .dump and its
JSON manifest into the cache. Older archives beyond cache.keep are removed
afterwards. An interrupted fetch resumes from the parts already on disk.

Archives in GLACIER or DEEP_ARCHIVE are restored first (s3.restore_tier);
without --wait the command reports the restore as pending and exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, app, err := g.loadApp()
			if err != nil {
				return err
			}
			log := g.logger(cfg)
			l, err := failover.Lock(app, lock.CommandLine())
			if err != nil {
				return err
			}
			defer l.Release()
			f, err := failover.NewFetcher(cmd.Context(), app, log)
			if err != nil {
				return err
			}
			f.PollInterval = poll
			done := &atomic.Int64{}
			f.Download.Progress = done
			var bar *progress
			f.Download.OnStart = func(obj archive.Object) {
				log.Info("downloading", "key", obj.Key, "size", obj.Size, "from", f.Store.String())
				bar = g.startProgress("fetch", obj.Size, done)
			}
			res, err := f.Fetch(cmd.Context(), archive.FetchRequest{Key: key, Wait: wait})
			bar.Stop()
			for _, w := range res.Warnings {
				g.warn("%s", w)
			}
			if err != nil {
				// Something was done (an archive fetched, a restore
				// requested): report it before the error.
				if res.Entry != nil || res.Status == archive.FetchRestorePending {
					_ = g.emit(res, func(w io.Writer) {
						if res.Entry != nil {
							printFetch(w, res)
						}
					})
				}
				if cmd.Context().Err() != nil {
					return fmt.Errorf("%w\nrun the same command again to resume", err)
				}
				return withCacheHint(err, f.Cache)
			}
			return g.emit(res, func(w io.Writer) { printFetch(w, res) })
		},
	}
	c.Flags().StringVar(&key, "key", "", "fetch this object key instead of the newest valid archive")
	c.Flags().BoolVar(&wait, "wait", false, "wait for a GLACIER/DEEP_ARCHIVE restore to finish, then fetch")
	c.Flags().DurationVar(&poll, "poll", time.Minute, "with --wait: how often to check the restore")
	return c
}

func printFetch(w io.Writer, r *archive.FetchResult) {
	e := r.Entry
	switch r.Status {
	case archive.FetchAlreadyCached:
		fmt.Fprintf(w, "already cached: %s\n", r.Key)
	default:
		fmt.Fprintf(w, "fetched %s in %.1fs (%s/s", r.Key, r.Seconds, humanBytes(int64(r.Throughput)))
		if r.Download.ResumedBytes > 0 {
			fmt.Fprintf(w, ", resumed with %s already on disk", humanBytes(r.Download.ResumedBytes))
		}
		fmt.Fprintln(w, ")")
	}
	fmt.Fprintf(w, "  dump:      %s (%s, sha256 %s)\n", e.Path, humanBytes(e.DumpSize), e.DumpSHA256)
	fmt.Fprintf(w, "  captured:  %s (%s ago, from the %s)\n", e.CapturedAt.Format(time.RFC3339), humanAge(time.Since(e.CapturedAt)), e.TimeSource)
	if e.Header.Format == dump.FormatPlain {
		// Read to its end; only psql can tell whether it restores.
		fmt.Fprintf(w, "  database:  a plain-SQL dump (pg_dump -Fp), PostgreSQL %s, pg_dump %s\n", e.Header.ServerVersion, e.Header.PgDumpVersion)
	} else {
		fmt.Fprintf(w, "  database:  %s, PostgreSQL %s, pg_dump %s\n", e.Header.DatabaseName, e.Header.ServerVersion, e.Header.PgDumpVersion)
	}
	fmt.Fprintf(w, "  verified:  %v\n", e.Verified)
	for _, p := range r.Pruned {
		fmt.Fprintf(w, "  pruned:    %s\n", p)
	}
}
