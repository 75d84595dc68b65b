package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-dr/lifeboat/failover/capture"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

func newCaptureCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "capture",
		Short: "Take a logical backup of the app's database and store it in its bucket, verified",
		Long: `Take a logical backup of the app's production database (capture.source: pg_dump,
against the URL in capture.database_url_file, e.g. a follower's) and stream it into the
app's bucket under s3.prefix, named as heroku-database-backups names its archives
({prefix}YYYY-MM-DD_HH-MM_UTC__{app}_{DATABASE}.dump, .gz with capture.gzip), so that
fetch, refresh and drill read it like any other.

pg_dump (-Fc --no-acl --no-owner --quote-all-identifiers --exclude-schema=heroku_ext)
runs in a Postgres container of the server's major version, asked from the server first.
The dump is never held whole in memory or on disk: it is uploaded in parallel parts,
each with a SHA-256 checksum that S3 verifies, while the pg_dump reader walks it to its
end; the object is completed only when pg_dump succeeded and the archive verified,
otherwise the upload is aborted and nothing is visible. A KEY.sha256 sidecar follows.
Only s3:PutObject and s3:AbortMultipartUpload are needed.

One capture per app at a time (exit 75 when another holds the app's capture lock); a
capture and a refresh may run together. Each run is recorded under
{state_dir}/{app}/runs/, notified, and in the metrics (lifeboat_capture_*).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, app, err := g.loadApp()
			if err != nil {
				return err
			}
			if !app.Capture.Enabled() {
				return usagef("app %s: capture.source is not set (pg_dump or heroku): Lifeboat makes no archives for it", app.Name)
			}
			ctx := cmd.Context()
			eng, err := engine.New(ctx)
			if err != nil {
				return err
			}
			defer eng.Close()
			progress := textsafe.NewWriter(g.stderr)
			res, err := g.operations(cfg).CaptureApp(ctx, app, eng, progress, lock.CommandLine())
			progress.Flush()
			if errors.Is(err, capture.ErrNotConfigured) {
				err = usageError{err}
			}
			if res != nil {
				if eerr := g.emit(res, func(w io.Writer) { printCapture(w, res) }); eerr != nil {
					return eerr
				}
			}
			return err
		},
	}
}

func printCapture(w io.Writer, r *capture.Result) {
	if r == nil {
		return
	}
	if r.Outcome != "captured" {
		fmt.Fprintf(w, "capture: %s after %.1fs\n  error: %s\n", r.Outcome, r.Seconds, r.Error)
		return
	}
	fmt.Fprintf(w, "capture: s3://%s/%s\n", r.Bucket, r.Key)
	fmt.Fprintf(w, "  %s (dump %s), %d parts, %.1fs\n", report.Bytes(r.Size), report.Bytes(r.DumpSize), r.Parts, r.Seconds)
	fmt.Fprintf(w, "  sha256 %s (sidecar %s)\n", r.SHA256, r.Sidecar)
	if r.Encrypted != "" {
		fmt.Fprintf(w, "  encrypted with %s before upload\n", r.Encrypted)
	}
	fmt.Fprintf(w, "  from %s, PostgreSQL %s, pg_dump in %s: %d TOC entries, %d tables with data\n",
		r.Source, r.Info.ServerVersion, r.Info.Image, r.TOCEntries, r.DataTables)
}
