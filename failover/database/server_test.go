package database

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// newTestServer is a Server with names of its own (tests run side by
// side) whose Docker objects are removed after the test.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	testenv.RequirePostgresImage(t)
	eng, err := engine.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	app := "dbtest" + hex.EncodeToString(b)
	labels := map[string]string{engine.LabelApp: app, engine.LabelRole: "database"}
	s := &Server{
		Engine: eng, Name: app + "-db", Volume: app + "-db", Network: app + "-net", Image: testenv.PostgresImage,
		User: "postgres", Database: "shop", PasswordFile: filepath.Join(t.TempDir(), "g1", "password"),
		Labels: labels, NetworkLabels: map[string]string{engine.LabelApp: app}, ShmSize: 64 << 20,
		ReadyTimeout: 2 * time.Minute,
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app}, true)
		for _, c := range cs {
			eng.RemoveContainer(ctx, c.ID, true)
		}
		vs, _ := eng.ListVolumes(ctx, map[string]string{engine.LabelApp: app})
		for _, v := range vs {
			eng.RemoveVolume(ctx, v.Name)
		}
		ns, _ := eng.ListNetworks(ctx, map[string]string{engine.LabelApp: app})
		for _, n := range ns {
			eng.RemoveNetwork(ctx, n.Name)
		}
		eng.Close()
	})
	return s
}

func queryOne(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// The Server owns its container's life: create, readiness, URLs, exec,
// logs without the password, stop and start, publish, remove.
func TestServerLife(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	if err := s.Create(ctx, ""); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.PasswordFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	password, err := s.Password()
	if err != nil || len(password) < 32 {
		t.Fatalf("password %q: %v", password, err)
	}
	version, err := s.WaitReady(ctx)
	if err != nil || !strings.HasPrefix(version, "15") {
		t.Fatalf("WaitReady: %q, %v", version, err)
	}
	url, err := s.URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := queryOne(t, url, "show shared_buffers"); got == "" {
		t.Fatal("no shared_buffers")
	}
	// The settings tuned for a bulk load are the server's.
	if got := queryOne(t, url, "show max_wal_size"); got != "4GB" {
		t.Errorf("max_wal_size %s, want 4GB", got)
	}
	if got := queryOne(t, url, "select current_database()"); got != "shop" {
		t.Errorf("database %s, want shop", got)
	}
	internal, err := s.InternalURL()
	if err != nil || !strings.Contains(internal, "@"+s.Name+":5432/shop") {
		t.Errorf("internal URL %q: %v", textsafe.RedactURL(internal), err)
	}
	if strings.Contains(textsafe.RedactURL(url), password) {
		t.Error("RedactURL leaves the password in")
	}

	var out strings.Builder
	code, err := s.Exec(ctx, []string{"psql", "--username", "postgres", "--dbname", "shop", "-Atc", "select 40+2"}, &out, &out)
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "42" {
		t.Fatalf("exec: %d %v %q", code, err, out.String())
	}
	// The log is the server's, and never carries its password.
	if _, err := s.Exec(ctx, []string{"psql", "--username", "postgres", "--dbname", "shop", "-c", "select pg_catalog.raise_" + password + "()"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	l, err := s.Logs(ctx, 50)
	if err != nil || strings.Contains(l, password) || !strings.Contains(l, "database password") {
		t.Fatalf("log (%v) holds the password or not the scrubbed error:\n%s", err, l)
	}

	// Stopped, it is not running; EnsureRunning starts it again.
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Running(ctx); err == nil {
		t.Fatal("Running says a stopped server runs")
	}
	started := false
	if err := s.EnsureRunning(ctx, func() { started = true }); err != nil || !started {
		t.Fatalf("EnsureRunning: started %v, %v", started, err)
	}

	// Published: the URL is the host's port, the data stays.
	u2, _ := s.URL(ctx)
	execSQL(t, u2, "create table kept (x int); insert into kept values (7)")
	port := testenv.FreePort(t)
	if err := s.Publish(ctx, "127.0.0.1", port, s.Network+"-publish", "", nil); err != nil {
		t.Fatal(err)
	}
	pub, _ := s.URL(ctx)
	if !strings.Contains(pub, "@127.0.0.1:") || s.Published == "" {
		t.Fatalf("published URL %q (Published %q)", textsafe.RedactURL(pub), s.Published)
	}
	if got := queryOne(t, pub, "select x::text from kept"); got != "7" {
		t.Fatalf("after publishing the data is %q, want 7", got)
	}

	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.InspectContainer(ctx, s.Name); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("container after Remove: %v", err)
	}
	vs, _ := s.Engine.ListVolumes(ctx, s.Labels)
	if len(vs) != 0 {
		t.Errorf("volumes after Remove: %v", vs)
	}
	if err := s.Remove(ctx); err != nil {
		t.Errorf("removing again: %v", err)
	}
}

// Prepare and Verify connect by themselves: callers hand a URL, no pgx.
func TestServerPrepareVerify(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	if err := s.Create(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	sum := dump.Summary{SchemasNeeded: []string{"heroku_ext"}, DataTables: []dump.TableRef{{Schema: "public", Name: "t"}}}
	if _, err := s.Prepare(ctx, sum); err != nil {
		t.Fatal(err)
	}
	url, _ := s.URL(ctx)
	if got := queryOne(t, url, "select count(*)::text from pg_namespace where nspname = 'heroku_ext'"); got != "1" {
		t.Fatalf("heroku_ext schema: %s", got)
	}
	// Fail-closed: the table the archive has data for is missing.
	checks, _, err := s.Verify(ctx, VerifyOptions{Summary: sum})
	if !errors.Is(err, ErrVerify) || len(checks) == 0 {
		t.Fatalf("Verify without the table: %v (%d checks)", err, len(checks))
	}
	execSQL(t, url, "create table t (x int); insert into t values (1), (2)")
	_, tables, err := s.Verify(ctx, VerifyOptions{Summary: sum})
	if err != nil || len(tables) != 1 || tables[0].Rows != 2 {
		t.Fatalf("Verify: %v %v", tables, err)
	}
	// Analyze gives every table minimal statistics (a histogram of one
	// bucket); the full ANALYZE, started in the background, replaces them
	// (a hundred buckets) while the server serves.
	execSQL(t, url, "create table u as select x from generate_series(1, 1000) x")
	bounds := "select coalesce(array_length(histogram_bounds::text::int[], 1), 0)::text from pg_stats where tablename = 'u' and attname = 'x'"
	if err := s.Analyze(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := queryOne(t, url, bounds); got != "2" {
		t.Fatalf("histogram bounds of u.x after Analyze: %s, want 2 (default_statistics_target 1)", got)
	}
	if got := queryOne(t, url, "select reltuples::bigint::text from pg_class where relname = 'u'"); got != "1000" {
		t.Fatalf("reltuples of u after Analyze: %s", got)
	}
	if err := s.AnalyzeInBackground(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for got := queryOne(t, url, bounds); got != "101"; got = queryOne(t, url, bounds) {
		if time.Now().After(deadline) {
			t.Fatalf("histogram bounds of u.x a minute after AnalyzeInBackground: %s, want 101", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestWaitReadyOnAServerThatDies: an image that is not Postgres exits at
// once and, by the restart policy, restarts again and again. Caught
// between two lives it has no address on its network: that is the server
// not becoming ready (not a missing container), named as such, at once.
func TestWaitReadyOnAServerThatDies(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	s.Image = "lifeboat-test/not-postgres:" + s.Name
	if err := imagebuild.ExampleApp(ctx, s.Engine, root, s.Image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Engine.RemoveImage(context.Background(), s.Image) })
	if err := s.Create(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// Wait for it to die (the app exits: no DATABASE_URL), so that the
	// wait starts with a container that has no address.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := s.Engine.InspectContainer(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != "running" && c.State != "created" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container is still %s", c.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	_, err = s.WaitReady(ctx)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), s.Name) {
		t.Fatalf("WaitReady: %v, want ErrNotReady naming the container", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to notice the container died", d)
	}
}
