// Package failover is Lifeboat's domain: it wires the parts below it
// (archive sources and cache, the pg_dump reader, the Docker engine,
// database generations, the app stack) into the operations an operator
// runs: fetch, restore, refresh, failover, failback and drill.
package failover

import (
	"context"
	"log/slog"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/failover/bandwidth"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// OpenStore returns the app's archive source.
func OpenStore(ctx context.Context, app *config.App) (*s3store.Store, error) {
	return s3store.New(ctx, s3store.Options{
		Bucket: app.S3.Bucket, Prefix: app.S3.Prefix, Region: app.S3.Region,
		Endpoint: app.S3.Endpoint, PathStyle: app.S3.PathStyle,
		CredentialsFile: app.S3.CredentialsFile, Profile: app.S3.Profile,
		Timeout: app.S3.Timeout.D(), MaxConns: app.Download.Concurrency,
	})
}

// Cache returns the app's local archive cache.
func Cache(app *config.App) *archive.Cache { return &archive.Cache{Dir: app.Cache.Dir} }

// NewFetcher returns a Fetcher for the app.
func NewFetcher(ctx context.Context, app *config.App, log *slog.Logger) (*archive.Fetcher, error) {
	st, err := OpenStore(ctx, app)
	if err != nil {
		return nil, err
	}
	keys, err := crypt.LoadKeys(app.S3.IdentityFile, app.S3.PassphraseFile)
	if err != nil {
		return nil, err
	}
	limits := app.FetchLimits()
	limits.Keys = keys
	return &archive.Fetcher{
		Store:  st,
		Cache:  Cache(app),
		Prefix: app.S3.Prefix,
		Keep:   app.Cache.Keep,
		Download: archive.DownloadOptions{
			Concurrency: app.Download.Concurrency,
			PartSize:    int64(app.Download.PartSize),
			Retries:     app.Download.Retries,
			Limiter:     bandwidth.New(int64(app.Download.BandwidthLimit)),
			Log:         log,
		},
		Scan: archive.ScanOptions{MaxChecked: app.Download.CheckedCandidates, Subfolders: app.S3.Subfolders, Keys: keys,
			AllowPlainSQL: app.Database.AllowPlainSQL},
		Limits:      limits,
		RestoreTier: app.S3.RestoreTier,
		RestoreDays: app.S3.RestoreDays,
		AfterVerify: afterVerify(app, log),
		Log:         log,
	}, nil
}

// StateOf is the store of the app's records: the one owner of its state
// directory.
func StateOf(app *config.App) *state.Store { return &state.Store{Dir: app.StateDir} }

// Lock takes the app's lock for a run of command. It returns a
// *lock.LockedError (wrapping lock.ErrLocked) when another run holds it.
func Lock(app *config.App, command string) (*lock.Lock, error) {
	return StateOf(app).Lock(command)
}
