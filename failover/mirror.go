package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/mirror"
)

// ErrMirrorOff is returned by the mirror commands when the app has no
// mirror.bucket.
var ErrMirrorOff = errors.New("no mirror configured (mirror.bucket)")

// OpenMirror returns the app's mirror: the app's bucket as the source, the
// mirror's bucket with the mirror's own credentials as the destination,
// and the ledger in the app's state directory. Errors: ErrMirrorOff, or
// the stores'.
func OpenMirror(ctx context.Context, app *config.App, log *slog.Logger) (*mirror.Mirror, error) {
	mc := app.Mirror
	if !mc.Enabled() {
		return nil, fmt.Errorf("%w for %s", ErrMirrorOff, app.Name)
	}
	src, err := OpenStore(ctx, app)
	if err != nil {
		return nil, err
	}
	dst, err := s3store.New(ctx, s3store.Options{
		Bucket: mc.Bucket, Region: mc.Region, Endpoint: mc.Endpoint, PathStyle: mc.PathStyle,
		CredentialsFile: mc.CredentialsFile, Profile: mc.Profile, Timeout: mc.Timeout.D(), MaxConns: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	return &mirror.Mirror{
		Source: src, Dest: dst.Client(), Bucket: mc.Bucket, Name: "s3://" + mc.Bucket + " at " + mc.Endpoint,
		PartSize: int64(mc.PartSize), LedgerPath: StateOf(app).MirrorLedgerFile(), Log: log,
	}, nil
}

// mirrorVerified records a verified archive for the mirror and copies
// every archive the mirror still lacks. What goes wrong is returned as
// warnings: a mirror that is down never fails a fetch or a refresh.
func mirrorVerified(ctx context.Context, app *config.App, e archive.Entry, log *slog.Logger) []string {
	m, err := OpenMirror(ctx, app, log)
	if err != nil {
		return []string{"mirror: " + err.Error()}
	}
	if err := m.Add(e); err != nil {
		return []string{"mirror: " + err.Error()}
	}
	res, err := m.Sync(ctx)
	if err != nil {
		return []string{"mirror: " + err.Error()}
	}
	if len(res.Failed) > 0 {
		first := ""
		for k, why := range res.Failed {
			first = k + ": " + why
			break
		}
		return []string{fmt.Sprintf("mirror %s lacks %d verified archive(s), retried next run (lifeboat mirror check): %s", m.Name, res.Pending, first)}
	}
	return nil
}

// mirrorFinding says for `lifeboat check` how far behind the mirror is:
// what the ledger says it lacks (no request to the mirror).
func mirrorFinding(app *config.App, log *slog.Logger) Finding {
	m, err := OpenMirror(context.Background(), app, log)
	if err != nil {
		return Finding{Name: "mirror", Detail: err.Error(), Fix: "check the mirror's settings"}
	}
	items, err := m.Items()
	if err != nil {
		return Finding{Name: "mirror", Detail: err.Error(), Fix: "check the state directory"}
	}
	var pending []mirror.Item
	var newest time.Time
	for _, it := range items {
		if it.Pending() {
			pending = append(pending, it)
		} else if it.CapturedAt.After(newest) {
			newest = it.CapturedAt
		}
	}
	if len(items) == 0 {
		return Finding{Name: "mirror", OK: true, Detail: "no verified archive yet: the next fetch or refresh copies its archive there"}
	}
	if len(pending) == 0 {
		return Finding{Name: "mirror", OK: true, Detail: fmt.Sprintf("has all %d verified archive(s); the newest captured %s", len(items), newest.Format(time.RFC3339))}
	}
	oldest := pending[0]
	return Finding{Name: "mirror",
		Detail: fmt.Sprintf("%d verified archive(s) behind, the oldest captured %s ago (%s), tried %d time(s): %s",
			len(pending), time.Since(oldest.CapturedAt).Round(time.Minute), oldest.Key, oldest.Attempts, oldest.LastError),
		Fix: "it is retried at each fetch and refresh; lifeboat mirror sync retries now, lifeboat mirror check asks the mirror"}
}
