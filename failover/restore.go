package failover

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Errors of Restore, besides the engine's and the database package's.
var (
	// ErrArchive: the archive to restore is missing or does not verify.
	ErrArchive = errors.New("archive cannot be restored")
	// ErrIncompatible: the archive is from a newer PostgreSQL than the image.
	ErrIncompatible = errors.New("archive is newer than the Postgres image")
)

// writeBehindInterval is the pause between the passes that write a bulk
// load's data to disk while pg_restore runs (database.Server.WriteBehind).
var writeBehindInterval = 2 * time.Second

// RestoreRequest says what to restore.
type RestoreRequest struct {
	// ArchivePath restores this file; empty restores the newest archive in
	// the local cache.
	ArchivePath string
	// KeepPreviousRunning leaves the previous generation's container running
	// after the switch (refresh retires it once the app runs on the new one).
	KeepPreviousRunning bool
	// AcceptDrift records row counts that drifted beyond database.drift
	// without failing (the operator knows a table was dropped or purged).
	AcceptDrift bool
	// DrillID names a drill's restore in row-count comparisons.
	DrillID string
	// KeepFailed leaves a failed generation's container and volume in
	// place (a drill kept for inspection); its record still says failed.
	KeepFailed bool
}

// RestoreResult says what Restore did.
type RestoreResult struct {
	Generation *state.Generation `json:"generation"`
	// Previous is the generation that was current before, 0 if none.
	Previous int `json:"previous"`
	// Retired are generations removed per keep_generations.
	Retired []int `json:"retired"`
	// Cleaned are leftovers of interrupted runs that were removed first.
	Cleaned []string `json:"cleaned"`
}

// Restore builds a new database generation from an archive beside the
// current one, verifies it, and only then makes it current (Build, then
// Promote). When anything fails, the new generation's container and volume
// are removed (its record and logs stay, status failed) and the current
// generation is untouched. The caller holds the app's lock.
func (s *Standby) Restore(ctx context.Context, req RestoreRequest) (*RestoreResult, error) {
	res, err := s.Build(ctx, req)
	if err != nil {
		return res, err
	}
	retired, err := s.Promote(ctx, res.Generation, req.KeepPreviousRunning)
	res.Retired = append(res.Retired, retired...)
	return res, err
}

// Build restores an archive into a new generation and verifies it, without
// making it current: its record says "building" until Promote (a run
// killed in between leaves it for CleanLeftovers). On failure the
// generation is discarded.
func (s *site) Build(ctx context.Context, req RestoreRequest) (*RestoreResult, error) {
	res := &RestoreResult{Retired: []int{}, Cleaned: []string{}}
	cleaned, err := s.CleanLeftovers(ctx)
	res.Cleaned = append(res.Cleaned, cleaned...)
	if err != nil {
		return res, err
	}

	// The archive: a cached, verified one, or a file given by the operator.
	// Either way it is read again here, checked against its manifest.
	t := newPhases(nil)
	ref, sum, chk, err := s.openArchive(ctx, req.ArchivePath)
	if err != nil {
		return res, err
	}
	t.done("archive")

	// Refused before anything is made when the volumes' disk cannot hold it.
	if err := s.checkBuildRoom(ctx, ref, ref.Compression != "none"); err != nil {
		return res, err
	}

	n, err := s.nextGeneration(ctx)
	if err != nil {
		return res, err
	}
	g := &state.Generation{
		App: s.App.Name, Number: n, Status: state.StatusBuilding, Purpose: s.Names.Purpose(),
		CreatedAt: time.Now().UTC(), Archive: ref,
		Container: s.Names.Database(n), Volume: s.Names.DatabaseVolume(n), Network: s.Names.Network(),
		Database: s.App.Database.Name, User: "postgres",
		Checks: []report.Check{}, Tables: []report.Table{},
	}
	if err := s.State.Save(g); err != nil {
		return res, err
	}
	res.Generation = g
	if s.Names.IsDrill() {
		s.say("building the drill's database from %s", ref.Key)
	} else {
		s.say("building database generation %d from %s", n, ref.Key)
	}
	if cur, err := s.State.Current(); err == nil {
		res.Previous = cur.Generation
	}

	buildErr := s.build(ctx, g, ref, sum, chk, t)
	g.Phases = t.records()
	g.FinishedAt = time.Now().UTC()
	if buildErr == nil {
		buildErr = s.dataChecks(g, req)
	}
	if buildErr != nil {
		if req.KeepFailed {
			g.Status, g.Error = state.StatusFailed, buildErr.Error()
			if err := s.State.Save(g); err != nil {
				s.Log.Error("saving the failed generation's record", "err", err)
			}
		} else {
			s.Discard(g, buildErr)
		}
		if s.Names.IsDrill() {
			// A drill's restore has no "current database" to speak of.
			return res, buildErr
		}
		return res, fmt.Errorf("generation %d failed, the current database is untouched: %w", n, buildErr)
	}
	s.recordVerified(g, req)
	return res, s.State.Save(g)
}

// Discard marks generation g failed with the reason, removes its container
// and volume and keeps its record and logs.
func (s *site) Discard(g *state.Generation, reason error) {
	g.Status, g.Error = state.StatusFailed, reason.Error()
	if g.FinishedAt.IsZero() {
		g.FinishedAt = time.Now().UTC()
	}
	s.discard(g)
	if err := s.State.Save(g); err != nil {
		s.Log.Error("saving the failed generation's record", "err", err)
	}
}

// Promote makes a built generation current and retires old ones per
// keep_generations (the previous one is kept, stopped unless keepRunning).
func (s *Standby) Promote(ctx context.Context, g *state.Generation, keepRunning bool) ([]int, error) {
	if err := s.State.SetCurrent(g.Number); err != nil {
		s.Discard(g, fmt.Errorf("could not record it as current: %w", err))
		return nil, err
	}
	g.Status = state.StatusReady
	if err := s.State.Save(g); err != nil {
		return nil, err
	}
	s.say("generation %d is current", g.Number)
	retired, err := s.retire(ctx, g.Number, keepRunning)
	if err != nil {
		return retired, fmt.Errorf("generation %d is current, but retiring old generations failed: %w", g.Number, err)
	}
	return retired, nil
}

// build creates, starts, restores and verifies generation g.
func (s *site) build(ctx context.Context, g *state.Generation, ref state.ArchiveRef, sum dump.Summary, chk *archiveCheck, t *phases) error {
	db := s.App.Database
	image := db.Image
	if image == "auto" {
		major, err := majorOf(ref.ServerVersion)
		if err != nil {
			return fmt.Errorf("%w: cannot tell the archive's PostgreSQL version (%q): set database.image", ErrArchive, ref.ServerVersion)
		}
		image = fmt.Sprintf("postgres:%d", major)
	}
	s.say("  image %s", image)
	img, err := s.Engine.EnsureImage(ctx, image, s.Progress)
	if err != nil {
		return err
	}
	g.Image, g.ImageID = image, img.ID
	t.done("image")

	jobs := s.restoreJobs()
	// The new generation is restored with the settings of a bulk load (no
	// fsync, minimal WAL) and only made durable after pg_restore: it serves
	// nobody before it is verified, and a crash before then leaves it
	// "building", discarded by the next run.
	srv := s.Server(g)
	if err := s.createDatabase(ctx, srv, g, ref.Path, database.BulkLoadSettings(database.HostMemory(), jobs)); err != nil {
		return err
	}
	version, err := srv.WaitReady(ctx)
	if err != nil {
		return fmt.Errorf("%w (image %s: is it a Postgres image honouring POSTGRES_PASSWORD and POSTGRES_DB? container log:\n%s)",
			err, image, srv.LogTail(ctx, 15))
	}
	g.ServerVersion = version
	if err := compatible(ref, version, image); err != nil {
		return err
	}
	t.done("database-start")

	// The archive's full check ran while the database started.
	sha, err := chk.wait()
	if err != nil {
		return err
	}
	g.Archive.DumpSHA256 = sha
	if chk.plain != nil {
		// A plain dump has no table of contents: what it holds is known
		// once it was read to its end.
		sum = chk.plain.Summary()
	}
	t.done("archive-verify")

	if _, err := srv.Prepare(ctx, sum); err != nil {
		return err
	}
	t.done("prepare")

	logf, err := os.OpenFile(s.State.LogFile(g.Number), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	var expected []*regexp.Regexp
	for _, e := range db.ExpectedErrors {
		expected = append(expected, regexp.MustCompile(e))
	}
	rctx := ctx
	if db.RestoreTimeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, db.RestoreTimeout.D())
		defer cancel()
	}
	// What the restore writes goes to disk while it runs (fsync is off).
	wctx, stopWriteBehind := context.WithCancel(rctx)
	writeBehindDone := make(chan struct{})
	go func() {
		defer close(writeBehindDone)
		n, werr := srv.WriteBehind(wctx, writeBehindInterval)
		s.Log.Debug("writing the restore to disk while it runs", "passes", n, "err", werr)
	}()
	if chk.plain != nil {
		s.say("  psql -v ON_ERROR_STOP=1 (a plain-SQL dump: only running it tells whether it restores)")
		g.Restore, err = restorePlain(rctx, srv, ref.Path, logf)
	} else {
		s.say("  pg_restore --jobs %d", jobs)
		g.Restore, err = srv.Restore(rctx, database.RestoreOptions{
			ArchivePath: database.ArchiveMount, Jobs: jobs, Expected: expected, Log: logf,
		})
	}
	stopWriteBehind()
	<-writeBehindDone
	g.Restore.LogFile = s.State.LogFile(g.Number)
	if err != nil {
		return err
	}
	t.done("restore")

	s.say("  restarting with durable settings")
	if err := srv.MakeDurable(ctx, ref.Path); err != nil {
		return fmt.Errorf("%w (container log:\n%s)", err, srv.LogTail(ctx, 15))
	}
	durable, derr := srv.CheckDurable(ctx)
	t.done("durable-restart")
	if derr != nil {
		return derr
	}

	s.say("  verifying")
	// ANALYZE (in the container), writing the bulk load's data to disk (in
	// the container) and the checks (over the network) run side by side.
	analyzeErr, syncErr := make(chan error, 1), make(chan error, 1)
	go func() {
		if !db.AnalyzeEnabled() {
			analyzeErr <- nil
			return
		}
		analyzeErr <- srv.Analyze(ctx, jobs)
	}()
	go func() {
		err := srv.SyncData(ctx)
		if err == nil {
			// What the next generation is expected to take.
			if n, serr := srv.DataSize(ctx); serr == nil {
				g.DataBytes = n
			} else {
				s.Log.Warn("measuring the new generation's data directory", "err", serr)
			}
		}
		syncErr <- err
	}()
	checks, tables, verr := srv.Verify(ctx, database.VerifyOptions{
		Summary: sum, Checks: sqlChecks(db.Checks), Amcheck: db.Amcheck, Parallel: jobs,
	})
	g.Checks, g.Tables = append(checks, durable), tables
	var cerr error
	if chk.plain != nil {
		var copied []report.Check
		copied, cerr = copyRowChecks(chk.plain.CopyRows, tables)
		g.Checks = append(g.Checks, copied...)
	}
	aerr, serr := <-analyzeErr, <-syncErr
	t.done("verify")
	if verr != nil {
		return verr
	}
	if cerr != nil {
		return cerr
	}
	if aerr != nil {
		return aerr
	}
	if serr != nil {
		return serr
	}
	// A drill's database is never published: the port is the standby's.
	if db.Publish != "" && !s.Names.IsDrill() {
		// The previous current generation holds the same port: it is
		// stopped while the port moves, started again if that fails.
		host, port, err := config.ParsePublish(db.Publish)
		if err != nil {
			return fmt.Errorf("database.publish: %w", err)
		}
		var holder *database.Server
		if prev, _ := s.CurrentGeneration(); prev != nil {
			holder = s.Server(prev)
		}
		if err := srv.Publish(ctx, host, port, s.Names.PublishNetwork(), ref.Path, holder); err != nil {
			return err
		}
		g.Published = srv.Published
		t.done("publish")
	}
	// The minimal statistics of the verify phase are enough to serve;
	// the full ANALYZE runs in the container from now on.
	if db.AnalyzeEnabled() {
		if err := srv.AnalyzeInBackground(ctx); err != nil {
			s.Log.Warn("the full ANALYZE did not start: the database keeps its minimal statistics (enough to serve) until autovacuum analyzes a table that changed; `lifeboat db psql -- -c ANALYZE` runs it on the current generation", "err", err)
		}
	}
	return nil
}

// discard removes a failed generation's container and volume, keeping the
// last lines of its server log next to its record.
func (s *site) discard(g *state.Generation) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := s.Server(g)
	if l, err := srv.Logs(ctx, 200); err == nil && l != "" {
		os.WriteFile(filepath.Join(s.State.GenerationDir(g.Number), "postgres.log"), []byte(l), 0o600)
	}
	if err := srv.Remove(ctx); err != nil {
		s.Log.Error("removing the failed generation's container and volume", "container", g.Container, "volume", g.Volume, "err", err)
	}
}

// archiveCheck is the full check of an archive (SHA-256 against its
// manifest, every block read to the end), run while the database starts.
type archiveCheck struct {
	done chan struct{}
	sha  string
	err  error
	// plain is what a plain-SQL dump holds, once read to its end; nil
	// for a custom archive.
	plain *dump.Archive
}

// wait returns the archive's SHA-256 once the check is done, or why it failed.
func (c *archiveCheck) wait() (string, error) {
	<-c.done
	return c.sha, c.err
}

// openArchive reads the archive's header and table of contents (enough to
// plan the restore and pick the image) and starts its full check, which the
// build joins before pg_restore: a cached archive is checked against its
// manifest, and any archive is read to its end.
func (s *site) openArchive(ctx context.Context, path string) (state.ArchiveRef, dump.Summary, *archiveCheck, error) {
	var ref state.ArchiveRef
	var want string
	if path == "" {
		e, err := Cache(s.App).Newest()
		if err != nil {
			return ref, dump.Summary{}, nil, fmt.Errorf("%w: %w: run `lifeboat fetch` first, or pass --archive FILE", ErrArchive, err)
		}
		path, want = e.Path, e.DumpSHA256
		ref = state.ArchiveRef{Key: e.Key, CapturedAt: e.CapturedAt}
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return ref, dump.Summary{}, nil, err
		}
		path = abs
		ref = state.ArchiveRef{Key: "file://" + path}
		// A file of the cache is checked against its manifest.
		if l, err := Cache(s.App).List(); err == nil {
			for _, e := range l {
				if e.Path == path {
					ref, want = state.ArchiveRef{Key: e.Key, CapturedAt: e.CapturedAt}, e.DumpSHA256
				}
			}
		}
		// So is a file of the vault (a bad one is refused).
		if e, ok := vaultEntry(s.App, path); ok {
			if e.Vault.Bad {
				return ref, dump.Summary{}, nil, fmt.Errorf("%w: %s is marked bad in the vault: %s", ErrArchive, path, e.Vault.BadReason)
			}
			ref, want = state.ArchiveRef{Key: e.Key, CapturedAt: e.CapturedAt}, e.DumpSHA256
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return ref, dump.Summary{}, nil, fmt.Errorf("%w: %w", ErrArchive, err)
	}
	if plain, err := s.openPlain(ctx, f, path, want, &ref); plain != nil || err != nil {
		f.Close()
		return ref, dump.Summary{}, plain, err
	}
	a, err := s.App.Download.DumpLimits().Read(bufio.NewReaderSize(f, 1<<20))
	st, serr := f.Stat()
	f.Close()
	if err == nil {
		err = serr
	}
	if err != nil {
		return ref, dump.Summary{}, nil, fmt.Errorf("%w: %s: %w", ErrArchive, path, err)
	}
	ref.Path, ref.DumpSHA256, ref.DumpSize = path, want, st.Size()
	ref.DatabaseName = a.Header.DatabaseName
	ref.ServerVersion, ref.PgDumpVersion = a.Header.ServerVersion, a.Header.PgDumpVersion
	ref.Compression = a.Header.Compression
	if ref.CapturedAt.IsZero() {
		ref.CapturedAt = a.Header.CreatedAt.UTC()
	}
	chk := &archiveCheck{done: make(chan struct{})}
	go func() {
		defer close(chk.done)
		chk.sha, chk.err = verifyArchiveFile(ctx, path, want, s.App.Download.DumpLimits())
	}()
	return ref, a.Summary(), chk, nil
}

// openPlain recognises a plain-SQL dump (pg_dump -Fp) at f: it fills ref
// from its first lines and starts its full read (dump.ReadPlain), whose
// result gives the restore its summary. It returns nil, nil for anything
// else; an error wrapping ErrArchive when plain SQL is not allowed.
func (s *site) openPlain(ctx context.Context, f *os.File, path, want string, ref *state.ArchiveRef) (*archiveCheck, error) {
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrArchive, path, err)
	}
	if !dump.LooksPlain(head) {
		return nil, nil
	}
	if !s.App.Database.AllowPlainSQL {
		return nil, fmt.Errorf("%w: %s is a plain-SQL dump (pg_dump -Fp): set database.allow_plain_sql: true to restore it with psql (it cannot be verified before it runs)",
			ErrArchive, path)
	}
	h, err := dump.SniffPlain(head)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrArchive, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrArchive, err)
	}
	ref.Path, ref.DumpSHA256, ref.DumpSize = path, want, st.Size()
	ref.ServerVersion, ref.PgDumpVersion, ref.Compression, ref.Format = h.ServerVersion, h.PgDumpVersion, "none", dump.FormatPlain
	if ref.CapturedAt.IsZero() {
		// A plain dump records no time (unless --verbose): the file's.
		ref.CapturedAt = st.ModTime().UTC()
	}
	chk := &archiveCheck{done: make(chan struct{})}
	go func() {
		defer close(chk.done)
		chk.sha, chk.plain, chk.err = verifyPlainFile(ctx, path, want, s.App.Download.DumpLimits())
	}()
	return chk, nil
}

// verifyPlainFile reads the plain-SQL dump at path to its end and compares
// its SHA-256 with want (when known), as verifyArchiveFile. Errors wrap
// ErrArchive.
func verifyPlainFile(ctx context.Context, path, want string, lim dump.Limits) (string, *dump.Archive, error) {
	var a *dump.Archive
	sha, err := verifyFile(ctx, path, want, func(r io.Reader) (err error) {
		a, err = lim.ReadPlain(ctx, r)
		return err
	})
	return sha, a, err
}

// restorePlain streams the plain-SQL dump at path into psql in the
// generation's container.
func restorePlain(ctx context.Context, srv *database.Server, path string, log io.Writer) (state.RestoreOutcome, error) {
	f, err := os.Open(path)
	if err != nil {
		return state.RestoreOutcome{Errors: []string{}, ExpectedErrors: []string{}, Warnings: []string{}}, fmt.Errorf("%w: %w", ErrArchive, err)
	}
	defer f.Close()
	return srv.RestorePlain(ctx, f, log)
}

// copyRowChecks compares each table's restored rows with the rows of its
// COPY data in the plain-SQL dump: psql ran the script to its end, and
// this says it loaded what the script holds.
func copyRowChecks(copied map[string]int64, restored []report.Table) ([]report.Check, error) {
	got := map[string]int64{}
	for _, t := range restored {
		got[t.Schema+"."+t.Name] = t.Rows
	}
	var checks []report.Check
	var bad []string
	for _, table := range slices.Sorted(maps.Keys(copied)) {
		want := copied[table]
		c := report.Check{Name: "rows of " + table + " as in the dump", Kind: report.KindTable, OK: true,
			Detail: fmt.Sprintf("%d rows, as its COPY data in the dump", want)}
		if n, ok := got[table]; !ok || n != want {
			c.OK = false
			c.Detail = fmt.Sprintf("%s has %d rows, its COPY data in the dump %d", table, n, want)
			if !ok {
				c.Detail = fmt.Sprintf("%s was not counted, its COPY data in the dump holds %d rows", table, want)
			}
			bad = append(bad, c.Detail)
		}
		checks = append(checks, c)
	}
	if len(bad) > 0 {
		return checks, fmt.Errorf("%w: %d of %d checks failed: %s", database.ErrVerify, len(bad), len(checks), strings.Join(bad, "; "))
	}
	return checks, nil
}

// verifyArchiveFile reads the archive at path to its end and compares its
// SHA-256 with want (when known). Errors wrap ErrArchive.
func verifyArchiveFile(ctx context.Context, path, want string, lim dump.Limits) (string, error) {
	return verifyFile(ctx, path, want, func(r io.Reader) error {
		_, err := lim.Verify(ctx, r)
		return err
	})
}

// verifyFile reads the file at path to its end through read and compares
// its SHA-256 with want (when known). Errors wrap ErrArchive, but ctx's.
func verifyFile(ctx context.Context, path, want string, read func(io.Reader) error) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrArchive, err)
	}
	defer f.Close()
	h := sha256.New()
	if err := read(io.TeeReader(f, h)); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%w: %s: %w", ErrArchive, path, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return "", fmt.Errorf("%w: %s changed since it was fetched (sha256 %s, manifest says %s): fetch it again",
			ErrArchive, path, got, want)
	}
	return got, nil
}

// compatible fails when the archive comes from a newer PostgreSQL (or
// pg_dump) than the server that would restore it.
func compatible(ref state.ArchiveRef, serverVersion, image string) error {
	server, err := majorOf(serverVersion)
	if err != nil {
		return nil
	}
	for what, v := range map[string]string{"pg_dump": ref.PgDumpVersion, "PostgreSQL": ref.ServerVersion} {
		m, err := majorOf(v)
		if err == nil && m > server {
			return fmt.Errorf("%w: the archive was made by %s %d, image %s runs PostgreSQL %d: set database.image to postgres:%d (or auto)",
				ErrIncompatible, what, m, image, server, m)
		}
	}
	return nil
}

var reMajor = regexp.MustCompile(`^(\d+)(?:\.(\d+))?`)

// majorOf returns the major version of "15.4 (Debian …)" (15) or "9.6.24" (9).
func majorOf(v string) (int, error) {
	m := reMajor.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, fmt.Errorf("no version in %q", v)
	}
	return strconv.Atoi(m[1])
}

// nextGeneration is one more than any generation seen in the records or on
// a Docker object.
func (s *site) nextGeneration(ctx context.Context) (int, error) {
	var seen []int
	cs, err := s.Engine.ListContainers(ctx, s.Names.AppFilter(""), true)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if n := names.GenerationOf(c.Labels); n > 0 {
			seen = append(seen, n)
		}
	}
	return s.State.Next(seen...)
}

// sqlChecks are the config's database.checks as the database package takes
// them (it reads no config).
func sqlChecks(cs []config.Check) []database.Check {
	out := make([]database.Check, 0, len(cs))
	for _, c := range cs {
		out = append(out, database.Check{Name: c.Name, SQL: c.SQL})
	}
	return out
}
