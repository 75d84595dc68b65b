package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dr/lifeboat/failover/capture"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// The capture suite's contenders.
const (
	lifeboatCaptureName = "lifeboat capture"
	lifeboatAgeName     = "lifeboat capture, age-encrypted"
	handCaptureName     = "by hand: pg_dump to a file + aws s3 cp"
)

// handCaptureScript is what a user does by hand: pg_dump with Heroku's
// flags to a file, then `aws s3 cp` of it, then removes the file.
const handCaptureScript = `
pg_dump -Fc --no-acl --no-owner --quote-all-identifiers --exclude-schema=heroku_ext -f "$OUT"
mark pg_dump
aws s3 cp --only-show-errors "$OUT" "s3://$BUCKET/$KEY" --endpoint-url "$ENDPOINT"
mark upload
rm -f "$OUT"
`

// captureSuite times `lifeboat capture` (plain and age-encrypted) of a
// live database holding the large archive against pg_dump to a file and
// `aws s3 cp`, the same database, bucket and machine.
func captureSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("capture")
	a := l.arch
	logf("capture: loading the archive (%s) into a local cluster as the source database", iec(a.DumpSize))
	pg := testenv.StartPostgres(t)
	pg.CreateDB(t, benchDB)
	pg.Exec(t, benchDB, "CREATE SCHEMA heroku_ext")
	t0 := time.Now()
	restore := exec.Command(filepath.Join(pg.BinDir, "pg_restore"), "--no-owner", "--no-acl", "--jobs", fmt.Sprint(c.jobs),
		"-h", pg.Host, "-p", fmt.Sprint(pg.Port), "-U", pg.User, "-d", benchDB, a.dumpPath())
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore into the source: %v\n%s", err, tail(string(out), 20))
	}
	logf("capture: source loaded (%.0fs)", time.Since(t0).Seconds())

	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	s3 := l.minio()
	creds := s3.WriteCredentialsFile(t, work)
	urlFile := filepath.Join(work, "database-url")
	if err := os.WriteFile(urlFile, []byte(pg.URL(benchDB)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// One app per contender and round: archive names have minute
	// resolution, and a capture never replaces an existing key.
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\nlog_level: warn\napps:\n", stateDir)
	for r := 0; r <= rounds; r++ {
		for _, enc := range []bool{false, true} {
			name := captureApp(r, enc)
			fmt.Fprintf(&b, "  - name: %s\n    s3: {bucket: %s, prefix: capture/%s/DATABASE_URL/, endpoint: %s, path_style: true, region: %s, credentials_file: %s}\n",
				name, bucket, name, s3.Endpoint, s3.Region, creds)
			fmt.Fprintf(&b, "    capture: {source: pg_dump, database_url_file: %s, image: %s", urlFile, c.pgImage)
			if enc {
				fmt.Fprintf(&b, ", encrypt: {recipients: [%s]}", id.Recipient())
			}
			b.WriteString("}\n")
		}
	}
	cfg := filepath.Join(work, "lifeboat.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	awsConfig, s3env := l.awsEnv()
	hand := contender{Name: handCaptureName, run: func(round int) (sample, error) {
		out := filepath.Join(work, "hand.dump")
		env := append([]string{"OUT=" + out, "BUCKET=" + bucket, "KEY=" + fmt.Sprintf("hand/%d.dump", round), "ENDPOINT=" + s3.Endpoint,
			"AWS_CONFIG_FILE=" + awsConfig, "PATH=" + pg.BinDir + ":" + filepath.Dir(c.aws) + ":" + os.Getenv("PATH"),
			"PGHOST=" + pg.Host, fmt.Sprintf("PGPORT=%d", pg.Port), "PGUSER=" + pg.User, "PGDATABASE=" + benchDB}, s3env...)
		s, _, err := runScript(handCaptureScript, env)
		return s, err
	}}
	lbRun := func(enc bool) func(int) (sample, error) {
		return func(round int) (sample, error) {
			cmd := exec.Command(c.lifeboat, "--config", cfg, "capture", "--app", captureApp(round, enc), "--json")
			cmd.Env = cleanEnv()
			s, out, err := run(cmd)
			if err != nil {
				return s, err
			}
			var res capture.Result
			if err := json.Unmarshal(out, &res); err != nil || res.Outcome != "captured" {
				return s, fmt.Errorf("lifeboat capture: %v: %s", err, tail(string(out), 10))
			}
			s.Phases = []phase{{Name: "capture", D: time.Duration(res.Seconds * float64(time.Second))}}
			logf("  %s: %s, dump %s", res.Key, iec(res.Size), iec(res.DumpSize))
			return s, nil
		}
	}
	cs := []contender{
		{Name: lifeboatCaptureName, run: lbRun(false)},
		{Name: lifeboatAgeName, run: lbRun(true)},
		hand,
	}
	var warm []contender
	if c.warmup {
		warm = cs
	}
	load := startLoad()
	res := runRounds(t, "capture", rounds, warm, cs)
	m := machineInfo(c)
	m.Load = load.stop()
	m.Docker = dockerInfo(c.pgImage)
	return captureReport(m, a, cs, res, c, rounds)
}

func captureApp(round int, enc bool) string {
	if enc {
		return fmt.Sprintf("bench-capture-age-%d", round)
	}
	return fmt.Sprintf("bench-capture-%d", round)
}

// captureReport renders the Capture section.
func captureReport(m machine, a archiveSet, cs []contender, res map[string][]sample, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	hand := res[handCaptureName]
	w("## Capture\n\n")
	w("`make bench` (`-suites capture`), %s: %d round(s), the contenders rotating who goes first; median (min–max).\n\n", m.Date, rounds)
	w("%s", machineLine(m, ""))
	w("**Source**: a local PostgreSQL cluster (%s) holding the restored fetch-suite archive (%d rows of random base64 text in %d tables "+
		"besides the Heroku-shaped schema; its plain dump is %s). The bucket is the local MinIO server.\n\n", a.PgDump, a.Rows, a.Tables, iec(a.DumpSize))
	w("**Setup**: *%s* is `lifeboat capture --json` (`capture.source: pg_dump`, `image: %s`, defaults otherwise: 16 MiB parts, 4 in flight, "+
		"no gzip): it asks the server's version, runs pg_dump in a container of that image on the host network, and streams the dump "+
		"through the pg_dump reader into a multipart upload with per-part SHA-256 checksums, then the `.sha256` sidecar. "+
		"*%s* adds `capture.encrypt.recipients` (one age X25519 key). *%s* is:\n\n", lifeboatCaptureName, c.pgImage, lifeboatAgeName, handCaptureName)
	w("```sh\n%s```\n\n", indentScript(handCaptureScript))
	w("with the host's pg_dump (the same major version) and the AWS CLI's defaults (8 MiB parts, 10 in flight). " +
		"Peak RSS is the client processes': lifeboat's own (pg_dump runs in its container, outside it), and, by hand, the largest of pg_dump and aws.\n\n")
	w("| contender | wall (s) | vs by hand | peak RSS (MiB) |\n| --- | --- | --- | --- |\n")
	for _, ct := range cs {
		ss := res[ct.Name]
		wall := medianOf(ss, func(s sample) time.Duration { return s.Wall })
		rss := medianOf(ss, func(s sample) time.Duration { return time.Duration(s.MaxRSS) })
		w("| %s | %s | %.2f | %.0f |\n", ct.Name, wallCell(ss), ratio(wall, medianOf(hand, func(s sample) time.Duration { return s.Wall })), mib(int64(rss)))
	}
	w("\nGoals: wall time ≤ 1.0 × by hand (capture streams while the hand way writes the whole dump, then uploads it); peak RSS < 150 MB whatever the database's size.\n")
	return b.String()
}
