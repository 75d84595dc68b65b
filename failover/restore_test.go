package failover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/diskspace"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/state"
	"github.com/lifeboat-dr/lifeboat/failover/units"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

var (
	srcOnce   sync.Once
	srcDump   []byte
	srcCounts map[string]int64
)

// herokuArchive is a real pg_dump of a Heroku-shaped database, made the
// way Heroku makes them: to a pipe (no data offsets), without the
// heroku_ext schema itself (its extensions stay in the archive).
func herokuArchive(t *testing.T) ([]byte, map[string]int64) {
	testenv.RequirePostgres(t)
	srcOnce.Do(func() {
		p := testenv.StartPostgres(t)
		testenv.LoadHerokuLike(t, p, "shop", 3000)
		srcCounts = p.RowCounts(t, "shop")
		srcDump = p.Dump(t, "shop", "--exclude-schema=heroku_ext")
	})
	if srcDump == nil {
		t.Fatal("no source archive")
	}
	return srcDump, srcCounts
}

func writeFile(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "archive.dump")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestStandby returns a standby of a fresh app with its own name, so
// that tests can run side by side, and removes its Docker objects after.
func newTestStandby(t *testing.T, mod func(*config.App)) *Standby {
	t.Helper()
	testenv.RequirePostgresImage(t)
	b := make([]byte, 3)
	rand.Read(b)
	name := "t" + hex.EncodeToString(b)
	dir := t.TempDir()
	app := &config.App{Name: name, StateDir: filepath.Join(dir, name)}
	app.Cache.Dir = filepath.Join(app.StateDir, "archives")
	app.Database = config.Database{Image: "auto", Name: "shop", Jobs: 2, KeepGenerations: 1,
		ReadyTimeout: units.Duration(120e9), ShmSize: 128 << 20}
	if mod != nil {
		mod(app)
	}
	eng, err := engine.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: name}, true)
		for _, c := range cs {
			eng.RemoveContainer(ctx, c.ID, true)
		}
		vs, _ := eng.ListVolumes(ctx, map[string]string{engine.LabelApp: name})
		for _, v := range vs {
			eng.RemoveVolume(ctx, v.Name)
		}
		ns, _ := eng.ListNetworks(ctx, map[string]string{engine.LabelApp: name})
		for _, n := range ns {
			eng.RemoveNetwork(ctx, n.Name)
		}
		eng.Close()
	})
	return NewStandby(app, eng, nil, nil)
}

// query runs one query against generation g and returns the first column.
func query(t *testing.T, s *Standby, g *state.Generation, sql string) string {
	t.Helper()
	url, err := s.Server(g).URL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("generation %d does not answer: %v", g.Number, err)
	}
	defer conn.Close(context.Background())
	var v any
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return fmt.Sprint(v)
}

func TestRestoreHerokuArchiveMatchesSource(t *testing.T) {
	t.Parallel()
	dump, counts := herokuArchive(t)
	s := newTestStandby(t, func(a *config.App) {
		a.Database.Amcheck = true
		a.Database.Checks = []config.Check{
			{Name: "accounts exist", SQL: "select count(*) > 0 from app.accounts"},
			// As on Heroku, heroku_ext is on the search_path: = is citext's.
			{Name: "citext works", SQL: "select 'A'::heroku_ext.citext = 'a'::heroku_ext.citext"},
		}
	})
	res, err := s.Restore(context.Background(), RestoreRequest{ArchivePath: writeFile(t, dump)})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Generation
	if g.Status != state.StatusReady || g.Number != 1 {
		t.Fatalf("generation %d status %s", g.Number, g.Status)
	}
	if cur, _ := s.State.Current(); cur.Generation != 1 {
		t.Fatalf("current = %d", cur.Generation)
	}
	got := map[string]int64{}
	for _, tr := range g.Tables {
		got[tr.Schema+"."+tr.Name] = tr.Rows
	}
	for table, n := range counts {
		if got[table] != n {
			t.Errorf("%s: restored %d rows, source has %d", table, got[table], n)
		}
	}
	if len(got) != len(counts) {
		t.Errorf("restored tables %v, source %v", got, counts)
	}
	kinds := map[string]int{}
	for _, c := range g.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
		kinds[c.Kind]++
	}
	if kinds["sequence"] < 3 || kinds["sql"] != 2 || kinds["amcheck"] != 1 || kinds["table"] != len(counts) || kinds["settings"] != 1 {
		t.Errorf("checks by kind: %v", kinds)
	}
	if len(g.Restore.Errors) != 0 {
		t.Errorf("restore errors: %v", g.Restore.Errors)
	}
	// Restored with the settings of a bulk load, it serves with the
	// durable ones.
	for setting, want := range map[string]string{"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on",
		"wal_level": "replica", "max_wal_senders": "10", "autovacuum": "on", "max_wal_size": "4GB"} {
		if got := query(t, s, g, "show "+setting); got != want {
			t.Errorf("the promoted generation runs with %s = %s, want %s", setting, got, want)
		}
	}
	// Its data directory was measured, for the next refresh's estimate.
	if g.DataBytes < 1<<20 {
		t.Errorf("data directory of %d bytes", g.DataBytes)
	}
	if !hasPhase(g, "durable-restart") {
		t.Errorf("phases %v: no durable-restart", g.Phases)
	}
	// The database answers with the restored data, from the host.
	if v := query(t, s, g, "select count(*) from app.projects where slug is not null"); v != fmt.Sprint(counts["app.projects"]) {
		t.Errorf("projects with a slug: %s", v)
	}
	// Its port is not published.
	c, err := s.Engine.InspectContainer(context.Background(), g.Container)
	if err != nil || len(c.Ports) != 0 {
		t.Errorf("container ports %v (%v): nothing should be published", c.Ports, err)
	}
	// The password is in a 0600 file and nowhere in the record.
	st, err := os.Stat(s.State.PasswordFile(1))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	pw, _ := os.ReadFile(s.State.PasswordFile(1))
	rec, _ := os.ReadFile(filepath.Join(s.State.GenerationDir(1), "generation.json"))
	if bytes.Contains(rec, bytes.TrimSpace(pw)) {
		t.Fatal("the password appears in the generation record")
	}
}

func TestBrokenArchiveLeavesCurrentServing(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil)
	ctx := context.Background()
	if _, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)}); err != nil {
		t.Fatal(err)
	}
	// Truncated: caught before any container is made.
	_, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump[:len(dump)*2/3])})
	if !errors.Is(err, ErrArchive) {
		t.Fatalf("truncated archive: %v", err)
	}
	// A failing SQL check: the generation is built, fails, and is removed.
	s.App.Database.Checks = []config.Check{{Name: "impossible", SQL: "select count(*) > 1000000 from app.accounts"}}
	res, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if !errors.Is(err, database.ErrVerify) || !strings.Contains(err.Error(), "impossible") {
		t.Fatalf("failing check: %v", err)
	}
	failed := res.Generation
	if failed.Status != state.StatusFailed {
		t.Fatalf("status %s", failed.Status)
	}
	if _, err := s.Engine.InspectContainer(ctx, failed.Container); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the failed generation's container is still there: %v", err)
	}
	vs, _ := s.Engine.ListVolumes(ctx, map[string]string{engine.LabelApp: s.App.Name})
	if len(vs) != 1 {
		t.Fatalf("volumes left: %v", vs)
	}
	if _, err := os.Stat(s.State.LogFile(failed.Number)); err != nil {
		t.Fatalf("the failed generation's log is gone: %v", err)
	}
	// A check that cannot run fails too (fail-closed).
	s.App.Database.Checks = []config.Check{{Name: "typo", SQL: "select count(*) > 0 from app.acounts"}}
	if _, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)}); !errors.Is(err, database.ErrVerify) {
		t.Fatalf("check with an error: %v", err)
	}
	// Generation 1 is still current and answers.
	cur, err := s.CurrentGeneration()
	if err != nil || cur.Number != 1 {
		t.Fatalf("current %v %v", cur, err)
	}
	if v := query(t, s, cur, "select count(*) from app.accounts"); v != "3000" {
		t.Fatalf("current generation answers %s", v)
	}
}

func TestNewerArchiveThanImageIsRefused(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	// The same archive claiming to come from PostgreSQL 16 (same length).
	newer := bytes.Replace(dump, []byte("15.18 (Debian 15.18"), []byte("16.18 (Debian 16.18"), 2)
	if bytes.Equal(newer, dump) {
		t.Fatal("could not rewrite the version")
	}
	s := newTestStandby(t, func(a *config.App) { a.Database.Image = testenv.PostgresImage })
	_, err := s.Restore(context.Background(), RestoreRequest{ArchivePath: writeFile(t, newer)})
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "postgres:16") {
		t.Fatalf("got %v", err)
	}
	// With image: auto, postgres:16 is wanted and is not available here.
	s.App.Database.Image = "auto"
	_, err = s.Restore(context.Background(), RestoreRequest{ArchivePath: writeFile(t, newer)})
	if !errors.Is(err, engine.ErrImageMissing) || !strings.Contains(err.Error(), "postgres:16") {
		t.Fatalf("auto image for a 16 archive: %v", err)
	}
}

func TestRollbackAndKeepGenerations(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil)
	ctx := context.Background()
	path := writeFile(t, dump)
	for i := 1; i <= 3; i++ {
		res, err := s.Restore(ctx, RestoreRequest{ArchivePath: path})
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 && (len(res.Retired) != 1 || res.Retired[0] != 1) {
			t.Fatalf("third restore retired %v, want [1] (keep_generations 1)", res.Retired)
		}
	}
	// Mark generation 3 so that the rollback can be seen.
	g3, _ := s.CurrentGeneration()
	url, _ := s.Server(g3).URL(ctx)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn.Exec(ctx, "insert into app.accounts(email, name) values ('late@example.com', 'late')")
	conn.Close(ctx)
	g, err := s.Rollback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Number != 2 {
		t.Fatalf("rolled back to %d, want 2", g.Number)
	}
	if v := query(t, s, g, "select count(*) from app.accounts"); v != "3000" {
		t.Fatalf("generation 2 has %s accounts", v)
	}
	c3, _ := s.Engine.InspectContainer(ctx, g3.Container)
	if c3.State == "running" {
		t.Fatal("generation 3 still runs after the rollback")
	}
	if _, err := s.Engine.InspectContainer(ctx, s.Names.Database(1)); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("generation 1 should be gone: %v", err)
	}
}

func TestPublishedPortAndPortTaken(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	port := testenv.FreePort(t)
	s := newTestStandby(t, func(a *config.App) { a.Database.Publish = fmt.Sprintf("127.0.0.1:%d", port) })
	ctx := context.Background()
	res, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation.Published != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("published %q", res.Generation.Published)
	}
	if v := query(t, s, res.Generation, "select count(*) from billing.invoices"); v == "0" {
		t.Fatal("no invoices through the published port")
	}
	// A second generation takes the port over.
	res2, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if err != nil {
		t.Fatal(err)
	}
	query(t, s, res2.Generation, "select 1")

	// Another app's port is taken by someone else: the restore fails,
	// naming the port, and leaves nothing behind.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	s2 := newTestStandby(t, func(a *config.App) { a.Database.Publish = fmt.Sprintf("127.0.0.1:%d", taken) })
	_, err = s2.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if !errors.Is(err, engine.ErrPortInUse) || !strings.Contains(err.Error(), fmt.Sprint(taken)) {
		t.Fatalf("port taken: %v", err)
	}
	if _, err := s2.State.Current(); !errors.Is(err, state.ErrNoCurrent) {
		t.Fatalf("a failed first restore must not make anything current: %v", err)
	}
}

func TestLeftoversOfAKilledRestoreAreCleaned(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil)
	ctx := context.Background()
	path := writeFile(t, dump)
	if _, err := s.Restore(ctx, RestoreRequest{ArchivePath: path}); err != nil {
		t.Fatal(err)
	}
	// A restore killed mid-way: a "building" record, a container still
	// running with the bulk load's settings (fsync off) and a volume.
	g := &state.Generation{App: s.App.Name, Number: 2, Status: state.StatusBuilding, Container: s.Names.Database(2),
		Volume: s.Names.Database(2), Network: s.Names.Network(), Image: testenv.PostgresImage, Database: "shop", User: "postgres"}
	s.State.Save(g)
	if err := s.Server(g).CreateForBulkLoad(ctx, path, database.BulkLoadSettings(0, 2)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Restore(ctx, RestoreRequest{ArchivePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation.Number != 3 {
		t.Fatalf("new generation %d, want 3", res.Generation.Number)
	}
	if len(res.Cleaned) < 3 {
		t.Fatalf("cleaned %v, want the record, container and volume of generation 2", res.Cleaned)
	}
	if _, err := s.Engine.InspectContainer(ctx, g.Container); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("leftover container still there: %v", err)
	}
	g2, _ := s.State.Load(2)
	if g2.Status != state.StatusFailed || !strings.Contains(g2.Error, "interrupted") {
		t.Fatalf("record of the killed build: %s %q", g2.Status, g2.Error)
	}
	// Generation 1 was kept (stopped) for rollback, untouched.
	if _, err := s.Engine.InspectContainer(ctx, s.Names.Database(1)); err != nil {
		t.Fatalf("generation 1: %v", err)
	}
}

func TestImageThatIsNotPostgres(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil)
	ctx := context.Background()
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tag := "lifeboat-test/not-postgres:" + s.App.Name
	if err := imagebuild.ExampleApp(ctx, s.Engine, root, tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Engine.RemoveImage(context.Background(), tag) })
	s.App.Database.Image = tag
	start := time.Now()
	_, err = s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if !errors.Is(err, database.ErrNotReady) || !strings.Contains(err.Error(), "is it a Postgres image") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Fatalf("took %v to notice the container died", d)
	}
	if _, err := s.State.Current(); !errors.Is(err, state.ErrNoCurrent) {
		t.Fatal("something became current")
	}
}

func hasPhase(g *state.Generation, name string) bool {
	for _, p := range g.Phases {
		if p.Name == name {
			return true
		}
	}
	return false
}

// A generation that the volumes' disk cannot hold is refused before any
// record, container or volume is made, with the numbers.
func TestRestoreRefusedWhenTheDiskCannotHoldIt(t *testing.T) {
	t.Parallel()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, func(a *config.App) { a.Cache.MinFree = "1GiB" })
	ctx := context.Background()
	root, err := s.Engine.RootDir(ctx)
	if err != nil || root == "" {
		t.Fatalf("docker root dir %q: %v", root, err)
	}
	var probed []string
	s.DiskProbe = func(path string) (uint64, fsutil.Space, error) {
		probed = append(probed, path)
		// 1 GiB kept free, and the archive times three just above what is left.
		return 7, fsutil.Space{Free: 1<<30 + 3*int64(len(dump)), Total: 100 << 30}, nil
	}
	_, err = s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if !errors.Is(err, diskspace.ErrNoSpace) || !strings.Contains(err.Error(), "nothing was started") ||
		!strings.Contains(err.Error(), "must stay free") || !strings.Contains(err.Error(), "3× the archive") {
		t.Fatalf("got %v", err)
	}
	if len(probed) != 1 || probed[0] != root {
		t.Errorf("probed %v, want the Docker root %s", probed, root)
	}
	if gs, _ := s.State.List(); len(gs) != 0 {
		t.Errorf("generation records after the refusal: %d", len(gs))
	}
	cs, _ := s.Engine.ListContainers(ctx, map[string]string{engine.LabelApp: s.App.Name}, true)
	vs, _ := s.Engine.ListVolumes(ctx, map[string]string{engine.LabelApp: s.App.Name})
	if len(cs)+len(vs) != 0 {
		t.Errorf("containers %v, volumes %v after the refusal", cs, vs)
	}
	// With room it goes ahead, and the next estimate uses what it measured.
	s.DiskProbe = nil
	res, err := s.Restore(ctx, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if err != nil {
		t.Fatal(err)
	}
	need, basis := s.databaseNeed(res.Generation.Archive.DumpSize, true)
	want := int64(float64(max(res.Generation.DataBytes, emptyCluster)) * growthMargin)
	if need < want-1 || need > want+1 || !strings.Contains(basis, "as generation 1 measured") {
		t.Errorf("estimate after a measured generation: %d (%s), want %d", need, basis, want)
	}
	// The empty cluster's part does not grow with the archive: a hundred
	// times the archive needs far less than a hundred times the data.
	if big, _ := s.databaseNeed(100*res.Generation.Archive.DumpSize, true); big >= 100*want {
		t.Errorf("a hundred times the archive: %d, a hundred times the data: %d", big, 100*want)
	}
}
