package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// archiveVersion names the recipe below. Bump it whenever the recipe
// changes, so that cached archives made by an older one are not reused.
const archiveVersion = 2

// benchDB is the name of the database that is dumped (it appears in the
// archive's header).
const benchDB = "bench"

// bigTables is how many large tables the archive's data is spread over.
const bigTables = 4

// bytesPerRow is roughly what one row of a big table weighs in the
// compressed archive: 1000 random bytes as base64 (1,336 characters plus
// newlines, about 6 bits of entropy each, so zlib keeps ~76% of them) plus
// an md5 hex string, an id, a foreign key and a timestamp. It only sizes the
// first attempt; the archive is measured and topped up until it is large
// enough.
const bytesPerRow = 1060

// archiveSet is a cached benchmark archive: a pg_dump custom-format archive
// made with the default compression (what Heroku PG Backups produce), and
// the same file gzipped, as heroku-database-backups uploads it.
type archiveSet struct {
	// Dir holds the files and archive.json.
	Dir string `json:"-"`
	// Target is the -size asked for; DumpSize ≥ Target.
	Target       int64  `json:"target_bytes"`
	Version      int    `json:"recipe_version"`
	DumpFile     string `json:"dump_file"`
	DumpSize     int64  `json:"dump_bytes"`
	GzipFile     string `json:"gzip_file"`
	GzipSize     int64  `json:"gzip_bytes"`
	PgDump       string `json:"pg_dump_version"`
	Compression  string `json:"compression"`
	Gzip         string `json:"gzip"`
	Rows         int64  `json:"rows_in_big_tables"`
	Tables       int    `json:"big_tables"`
	MadeAt       string `json:"made_at"`
	MadeInSecond int    `json:"made_in_seconds"`
}

func (a archiveSet) dumpPath() string { return filepath.Join(a.Dir, a.DumpFile) }
func (a archiveSet) gzipPath() string { return filepath.Join(a.Dir, a.GzipFile) }

// archiveCacheDir is where archives are kept between runs:
// $LIFEBOAT_CACHE/bench, default ~/.cache/lifeboat/bench.
func archiveCacheDir() (string, error) {
	base := os.Getenv("LIFEBOAT_CACHE")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache", "lifeboat")
	}
	return filepath.Join(base, "bench"), nil
}

// loadOrMakeArchive returns the cached archive of at least size bytes made
// by this recipe version, making it first when there is none (a minute or
// two per GiB: a local Postgres cluster is filled and dumped).
func loadOrMakeArchive(t *testenv.Standalone, size int64) archiveSet {
	base, err := archiveCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, fmt.Sprintf("v%d-%d", archiveVersion, size))
	var a archiveSet
	if err := readJSON(filepath.Join(dir, "archive.json"), &a); err == nil {
		a.Dir = dir
		if a.Version == archiveVersion && a.Target == size && fileSize(a.dumpPath()) == a.DumpSize &&
			fileSize(a.gzipPath()) == a.GzipSize {
			logf("using the cached archive in %s (%s dump, %s gzipped)", dir, iec(a.DumpSize), iec(a.GzipSize))
			return a
		}
	}
	logf("making a pg_dump archive of at least %s in %s (cached for later runs)", iec(size), dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a = makeArchive(t, dir, size)
	if err := writeJSON(filepath.Join(dir, "archive.json"), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// makeArchivesOnly makes (or finds cached) the archive of at least size
// bytes and the demo-size one, and returns the exit code: -archive-only.
func makeArchivesOnly(dir string, size int64) (code int) {
	t, err := testenv.NewStandalone(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer t.Close()
	err = try(func() {
		loadOrMakeDemoArchive(t)
		a := loadOrMakeArchive(t, size)
		logf("archive ready: %s (%s), %s (%s)", a.dumpPath(), iec(a.DumpSize), a.gzipPath(), iec(a.GzipSize))
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		return 1
	}
	return 0
}

// demoArchiveVersion names the recipe of the demo-size archive.
const demoArchiveVersion = 2

// demoRows is what `make demo` loads into each main table of its database.
const demoRows = 5000

// loadOrMakeDemoArchive returns the demo-size archive: the database `make
// demo` restores (testenv.LoadHerokuLike with demoRows rows per main
// table, a few hundred KiB), dumped as makeArchive dumps. It is made once
// (a few seconds) and cached under ~/.cache/lifeboat/bench/demo-vN/, with
// its gzipped copy.
func loadOrMakeDemoArchive(t *testenv.Standalone) archiveSet {
	base, err := archiveCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, fmt.Sprintf("demo-v%d", demoArchiveVersion))
	var a archiveSet
	if err := readJSON(filepath.Join(dir, "archive.json"), &a); err == nil {
		a.Dir = dir
		if a.Version == demoArchiveVersion && fileSize(a.dumpPath()) == a.DumpSize && fileSize(a.gzipPath()) == a.GzipSize {
			return a
		}
	}
	logf("making the demo-size archive in %s (cached for later runs)", dir)
	start := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pg := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, pg, benchDB, demoRows)
	a = archiveSet{
		Dir: dir, Version: demoArchiveVersion, DumpFile: "demo.dump", GzipFile: "demo.dump.gz",
		Compression: "pg_dump default (gzip level 6 inside the custom format)",
	}
	tmp := filepath.Join(dir, a.DumpFile+".tmp")
	pg.DumpFile(t, benchDB, tmp, "--exclude-schema=heroku_ext", "--no-owner", "--no-acl")
	if err := os.Rename(tmp, a.dumpPath()); err != nil {
		t.Fatal(err)
	}
	a.DumpSize = fileSize(a.dumpPath())
	out, err := exec.Command(filepath.Join(pg.BinDir, "pg_dump"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	a.PgDump = strings.TrimSpace(string(out))
	if a.Gzip, err = gzipFile(a.dumpPath(), a.gzipPath()); err != nil {
		t.Fatal(err)
	}
	a.GzipSize = fileSize(a.gzipPath())
	a.MadeAt = time.Now().UTC().Format(time.RFC3339)
	a.MadeInSecond = int(time.Since(start).Seconds())
	if err := writeJSON(filepath.Join(dir, "archive.json"), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// makeArchive fills a throwaway cluster with a Heroku-shaped database (the
// small schema of testenv.LoadHerokuLike, extensions in heroku_ext) plus
// bigTables tables of random base64 text, and dumps it with Debian's pg_dump
// in custom format with the default compression, as Heroku does, leaving
// out the heroku_ext schema as Heroku's archives do. It grows the data until
// the archive is at least size bytes, then gzips it.
func makeArchive(t *testenv.Standalone, dir string, size int64) archiveSet {
	start := time.Now()
	pg := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, pg, benchDB, 1000)
	pg.Exec(t, benchDB, "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA heroku_ext;")
	for i := 1; i <= bigTables; i++ {
		pg.Exec(t, benchDB, fmt.Sprintf(`CREATE TABLE app.documents_%d (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES app.accounts (id),
    sha text NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone NOT NULL
);`, i))
	}

	a := archiveSet{
		Dir: dir, Target: size, Version: archiveVersion, Tables: bigTables,
		DumpFile: "bench.dump", GzipFile: "bench.dump.gz",
		Compression: "pg_dump default (gzip level 6 inside the custom format)",
	}
	next := make([]int64, bigTables+1) // next id per table
	for i := range next {
		next[i] = 1
	}
	// fill adds rows rows, spread over the big tables, two tables at a
	// time (one psql per core).
	fill := func(rows int64) {
		per := (rows + bigTables - 1) / bigTables
		var wg sync.WaitGroup
		errs := make(chan error, bigTables)
		sem := make(chan struct{}, 2)
		for i := 1; i <= bigTables; i++ {
			from, to := next[i], next[i]+per-1
			next[i] = to + 1
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				errs <- try(func() {
					pg.Exec(t, benchDB, fmt.Sprintf(`INSERT INTO app.documents_%d (id, account_id, sha, body, created_at)
SELECT i, i %% 1000 + 1, md5(i::text), encode(heroku_ext.gen_random_bytes(1000), 'base64'),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second'
FROM generate_series(%d, %d) AS i;`, i, from, to))
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		a.Rows += per * bigTables
	}

	tmp := filepath.Join(dir, a.DumpFile+".tmp")
	rows := size/bytesPerRow + 1
	for attempt := 1; ; attempt++ {
		t0 := time.Now()
		fill(rows)
		logf("  %d rows in %d tables (%.0fs); dumping", a.Rows, bigTables, time.Since(t0).Seconds())
		t0 = time.Now()
		pg.DumpFile(t, benchDB, tmp, "--exclude-schema=heroku_ext", "--no-owner", "--no-acl")
		got := fileSize(tmp)
		logf("  pg_dump wrote %s (%.0fs)", iec(got), time.Since(t0).Seconds())
		if got >= size {
			break
		}
		if attempt == 4 {
			t.Fatalf("the archive is still %d bytes after %d attempts (wanted %d)", got, attempt, size)
		}
		// Top up in proportion to what is missing, with 2% to spare.
		perRow := float64(got) / float64(a.Rows)
		rows = int64(float64(size-got)/perRow*1.02) + 1000
	}
	if err := os.Rename(tmp, a.dumpPath()); err != nil {
		t.Fatal(err)
	}
	a.DumpSize = fileSize(a.dumpPath())
	out, err := exec.Command(filepath.Join(pg.BinDir, "pg_dump"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	a.PgDump = strings.TrimSpace(string(out))

	t0 := time.Now()
	if a.Gzip, err = gzipFile(a.dumpPath(), a.gzipPath()); err != nil {
		t.Fatal(err)
	}
	a.GzipSize = fileSize(a.gzipPath())
	logf("  gzipped to %s (%.0fs)", iec(a.GzipSize), time.Since(t0).Seconds())
	a.MadeAt = time.Now().UTC().Format(time.RFC3339)
	a.MadeInSecond = int(time.Since(start).Seconds())
	return a
}

// gzipFile writes src gzipped to dst with `gzip -6` (what
// heroku-database-backups runs), or Go's compress/gzip at the same level when
// there is no gzip program; it returns which.
func gzipFile(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer out.Close()
	var tool string
	if gz, err := exec.LookPath("gzip"); err == nil {
		cmd := exec.Command(gz, "-6", "-c")
		cmd.Stdin, cmd.Stdout = in, out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("gzip: %v", err)
		}
		v, _ := exec.Command(gz, "--version").Output()
		tool = firstLine(string(v)) + ", -6"
	} else {
		zw := gzip.NewWriter(out)
		zw.Name = filepath.Base(src)
		if _, err := io.Copy(zw, in); err != nil {
			return "", err
		}
		if err := zw.Close(); err != nil {
			return "", err
		}
		tool = "Go compress/gzip, level 6"
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return tool, os.Rename(tmp, dst)
}

// try runs f, turning a testenv Fatal into an error, for helpers called
// from other goroutines than main's.
func try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(testenv.ErrFatal)
			if !ok {
				panic(r)
			}
			err = errors.New(fe.Msg)
		}
	}()
	f()
	return nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// parseSize reads sizes such as 1GiB, 64MiB, 500MB, 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f <= 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (use e.g. 1GiB, 64MiB)", s)
	}
	return n, nil
}

// iec prints a byte count in binary units.
func iec(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
