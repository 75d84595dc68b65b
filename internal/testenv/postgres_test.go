package testenv_test

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func TestPostgresHerokuLikeDump(t *testing.T) {
	t.Parallel()
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "herokuapp", 200)

	if got, want := p.RowCounts(t, "herokuapp"), testenv.HerokuLikeRowCounts(200); !maps.Equal(got, want) {
		t.Errorf("RowCounts = %v\nwant %v", got, want)
	}
	// The trigger filled slug; the sequences run ahead of the data.
	rows := p.Query(t, "herokuapp", `SELECT slug, settings -> 'plan' FROM app.projects WHERE id = 1`)
	if len(rows) != 1 || !strings.HasPrefix(rows[0][0], "project-1-") || rows[0][1] != "standard" {
		t.Errorf("project 1 = %q", rows)
	}
	rows = p.Query(t, "herokuapp", `SELECT last_value FROM app.accounts_id_seq`)
	if len(rows) != 1 || rows[0][0] != "213" {
		t.Errorf("accounts_id_seq last_value = %q, want 213", rows)
	}

	dump := p.Dump(t, "herokuapp")
	if !bytes.HasPrefix(dump, []byte("PGDMP")) {
		t.Fatalf("Dump does not start with PGDMP: %q", dump[:min(len(dump), 16)])
	}
	path := filepath.Join(t.TempDir(), "herokuapp.dump")
	p.DumpFile(t, "herokuapp", path, "--exclude-schema=heroku_ext")
	head := make([]byte, 5)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(head); err != nil || string(head) != "PGDMP" {
		t.Fatalf("DumpFile: head %q, %v", head, err)
	}

	// Like a Heroku archive: the extensions are in it, their schema is not.
	toc := pgRestoreList(t, p, path)
	if !strings.Contains(toc, "EXTENSION - citext") || strings.Contains(toc, "SCHEMA - heroku_ext") {
		t.Errorf("--exclude-schema=heroku_ext archive TOC:\n%s", toc)
	}
	if toc := pgRestoreList(t, p, writeTemp(t, dump)); !strings.Contains(toc, "SCHEMA - heroku_ext") {
		t.Errorf("plain archive TOC has no heroku_ext schema:\n%s", toc)
	}

	// And it restores into a fresh database once heroku_ext exists.
	p.CreateDB(t, "restored")
	p.Exec(t, "restored", "CREATE SCHEMA heroku_ext;")
	restore := exec.Command(filepath.Join(p.BinDir, "pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "-d", p.URL("restored"), path)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	if got, want := p.RowCounts(t, "restored"), testenv.HerokuLikeRowCounts(200); !maps.Equal(got, want) {
		t.Errorf("restored RowCounts = %v\nwant %v", got, want)
	}
}

func TestPostgresURLAndEmptyDB(t *testing.T) {
	t.Parallel()
	p := testenv.StartPostgres(t)
	p.CreateDB(t, "empty")
	if got := p.RowCounts(t, "empty"); len(got) != 0 {
		t.Errorf("RowCounts of an empty database = %v", got)
	}
	out, err := exec.Command(filepath.Join(p.BinDir, "psql"), "-XAtc", "select current_database()", p.URL("empty")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "empty" {
		t.Fatalf("psql %s: %v: %s", p.URL("empty"), err, out)
	}
}

func pgRestoreList(t *testing.T, p *testenv.Postgres, path string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(p.BinDir, "pg_restore"), "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore -l: %v\n%s", err, out)
	}
	return string(out)
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFixtures(t *testing.T) {
	at := time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC)
	got := testenv.HerokuKey("your-app", "HEROKU_POSTGRESQL_NAVY_URL", at, "UTC", true)
	want := "your-app/HEROKU_POSTGRESQL_NAVY_URL/2024-05-01_03-00_UTC__your-app_HEROKU_POSTGRESQL_NAVY_URL.dump.gz"
	if got != want {
		t.Errorf("HerokuKey = %q, want %q", got, want)
	}
	if got := testenv.HerokuKey("a", "DATABASE_URL", at, "PDT", false); got != "a/DATABASE_URL/2024-05-01_03-00_PDT__a_DATABASE_URL.dump" {
		t.Errorf("HerokuKey = %q", got)
	}

	gz := testenv.Gzip(t, []byte("PGDMP"))
	if !bytes.HasPrefix(gz, []byte{0x1f, 0x8b}) {
		t.Errorf("Gzip: no gzip magic: % x", gz[:2])
	}
	tgz := testenv.TarGz(t, "latest.dump", []byte("PGDMP"))
	out, err := exec.Command("tar", "-tzvf", writeTemp(t, tgz)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "latest.dump") {
		t.Errorf("tar -tzvf: %v: %s", err, out)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := testenv.FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}
