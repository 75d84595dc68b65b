package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	lbreport "github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// restoreApp is the lifeboat app of the restore suite.
const restoreApp = "bench-restore"

// restoreTarget is the bound on Lifeboat's overhead (container
// start, preparation, verification) over the bare pg_restore: 10 %.
const restoreTarget = 10.0

// The names of the restore suite's contenders and of the bare restore's
// pg_restore step, for the report.
const (
	lifeboatRestoreName = "lifeboat restore"
	bareRestoreName     = "bare: container start + pg_restore"
	barePgRestoreName   = "bare: pg_restore alone"
)

// bareRestoreScript is what a user types to restore an archive into a
// fresh container of the same image without Lifeboat: start it with the
// archive bind-mounted read-only, wait until the server (not the
// entrypoint's temporary one, which listens on no TCP socket) accepts
// connections, create the heroku_ext schema (Heroku archives leave it out,
// and their CREATE EXTENSION … WITH SCHEMA heroku_ext fail without it),
// then pg_restore with Heroku's flags (no --clean: the database is new).
const bareRestoreScript = `
docker run -d --name "$NAME" --label "$LABEL" -e POSTGRES_PASSWORD \
    -v "$ARCHIVE:/archive.dump:ro" "$IMAGE" >/dev/null
n=0
until docker exec "$NAME" pg_isready -q -h 127.0.0.1 -U postgres; do
    n=$((n + 1))
    if [ "$n" -gt 1200 ]; then docker logs "$NAME" >&2; echo "not ready after 2 minutes" >&2; exit 1; fi
    sleep 0.1
done
mark database-start
docker exec "$NAME" psql -q -v ON_ERROR_STOP=1 -U postgres -d postgres -c 'CREATE SCHEMA heroku_ext'
mark prepare
docker exec "$NAME" pg_restore --no-owner --no-acl --jobs "$JOBS" -U postgres -d postgres /archive.dump
mark restore
`

// restoreSuite times `lifeboat restore` of the large archive against a
// bare container start + pg_restore of the same file, same image.
func restoreSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("restore")
	l.track(restoreApp, bareLabel)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cfg := writeAppsConfig(l, work, stateDir, []appConfig{{Name: restoreApp, Jobs: c.jobs}})

	a := l.arch
	cs := []contender{
		lifeboatRestore(l, cfg, stateDir, a.dumpPath(), a),
		bareRestore(l, "lifeboat-bench-bare-restore", a.dumpPath(), a),
	}
	var warm []contender
	if c.warmup {
		d := l.demoArchive()
		warm = []contender{
			lifeboatRestore(l, cfg, stateDir, d.dumpPath(), d),
			bareRestore(l, "lifeboat-bench-bare-restore", d.dumpPath(), d),
		}
	}
	load := startLoad()
	res := runRounds(t, "restore", rounds, warm, cs)
	m := machineInfo(c)
	m.Load = load.stop()
	m.Docker = dockerInfo(c.pgImage)
	return restoreReport(m, a, cs, res, c, rounds)
}

// lifeboatRestore runs `lifeboat restore --archive FILE --json` from an
// empty state and no Docker object of the app, and checks the generation
// it reports: ready, no restore error, every row of the big tables.
func lifeboatRestore(l *lab, cfg, stateDir, path string, a archiveSet) contender {
	return contender{
		Name: lifeboatRestoreName,
		run: func(round int) (sample, error) {
			if err := l.resetApp(restoreApp, stateDir); err != nil {
				return sample{}, err
			}
			if err := warmFile(path); err != nil {
				return sample{}, err
			}
			cmd := exec.Command(l.c.lifeboat, "--config", cfg, "restore", "--app", restoreApp, "--archive", path, "--json")
			cmd.Env = cleanEnv()
			s, out, err := run(cmd)
			if err != nil {
				return s, err
			}
			var res failover.RestoreResult
			if err := json.Unmarshal(out, &res); err != nil {
				return s, fmt.Errorf("lifeboat restore --json printed %q: %v", tail(string(out), 5), err)
			}
			g := res.Generation
			if g == nil || g.Status != state.StatusReady || len(g.Restore.Errors) > 0 {
				return s, fmt.Errorf("lifeboat restore did not make a ready generation: %s", tail(string(out), 20))
			}
			if err := checkRows(a, rowsOf(g.Tables)); err != nil {
				return s, fmt.Errorf("lifeboat restore: %v", err)
			}
			s.Phases = fromState(g.Phases, "")
			// Free the disk and the memory before the next run.
			return s, l.resetApp(restoreApp, stateDir)
		},
	}
}

// bareRestore runs bareRestoreScript in a container named name, then
// checks the big tables' rows (untimed) and removes the container and its
// volume.
func bareRestore(l *lab, name, path string, a archiveSet) contender {
	return contender{
		Name: bareRestoreName,
		run: func(round int) (sample, error) {
			l.removeDocker(bareLabel)
			if err := warmFile(path); err != nil {
				return sample{}, err
			}
			s, _, err := runScript(bareRestoreScript, []string{
				"NAME=" + name, "LABEL=io.lifeboat.app=" + bareLabel, "ARCHIVE=" + path, "IMAGE=" + l.c.pgImage,
				"JOBS=" + strconv.Itoa(l.c.jobs), "POSTGRES_PASSWORD=" + randomPassword(),
			})
			if err != nil {
				return s, err
			}
			rows, err := bareRows(name, "postgres", a)
			if err == nil {
				err = checkRows(a, rows)
			}
			if err != nil {
				return s, fmt.Errorf("the bare restore: %v", err)
			}
			l.removeDocker(bareLabel)
			return s, nil
		},
	}
}

// bigTables' names, as the tables of a generation record name them.
func bigTableNames(a archiveSet) []string {
	var names []string
	for i := 1; i <= a.Tables; i++ {
		names = append(names, fmt.Sprintf("app.documents_%d", i))
	}
	return names
}

func rowsOf(ts []lbreport.Table) map[string]int64 {
	m := map[string]int64{}
	for _, t := range ts {
		m[t.Schema+"."+t.Name] = t.Rows
	}
	return m
}

// checkRows fails unless the big tables hold every row the archive has.
func checkRows(a archiveSet, rows map[string]int64) error {
	var n int64
	for _, t := range bigTableNames(a) {
		n += rows[t]
	}
	if n != a.Rows {
		return fmt.Errorf("the big tables hold %d rows, the archive %d", n, a.Rows)
	}
	return nil
}

// bareRows counts the big tables' rows in the bare container's database.
func bareRows(container, db string, a archiveSet) (map[string]int64, error) {
	rows := map[string]int64{}
	for _, t := range bigTableNames(a) {
		out, err := exec.Command("docker", "exec", container, "psql", "-At", "-U", "postgres", "-d", db,
			"-c", "SELECT count(*) FROM "+t).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("counting %s: %v: %s", t, err, out)
		}
		if rows[t], err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
			return nil, fmt.Errorf("counting %s: %q", t, out)
		}
	}
	return rows, nil
}

func randomPassword() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// appConfig is one app of a generated lifeboat.yaml.
type appConfig struct {
	Name string
	// Object, when set, is the only object of the app's S3 prefix.
	Object *object
	Jobs   int
	// Image, Publish: the example app's image and where web is published
	// after a failover (none: database only).
	Image, Publish string
	// CacheDir, when set, is the archive cache's directory (default: under
	// the state directory).
	CacheDir string
}

// writeAppsConfig writes a lifeboat.yaml with state_dir stateDir and these
// apps: database.image auto (postgres:15 for these archives), database.jobs,
// and, with an image, the example app as internal/demo configures it.
func writeAppsConfig(l *lab, dir, stateDir string, apps []appConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\napps:\n", stateDir)
	for _, a := range apps {
		fmt.Fprintf(&b, "  - name: %s\n", a.Name)
		if a.Object != nil {
			s3 := l.minio()
			fmt.Fprintf(&b, "    s3: {bucket: %s, prefix: %s, endpoint: %s, path_style: true, region: %s, credentials_file: %s}\n",
				bucket, a.Object.prefix(), s3.Endpoint, s3.Region, s3.WriteCredentialsFile(l.t, dir))
			if a.CacheDir != "" {
				fmt.Fprintf(&b, "    cache: {keep: 1, dir: %s}\n", a.CacheDir)
			} else {
				fmt.Fprintf(&b, "    cache: {keep: 1}\n")
			}
		} else {
			// restore --archive reads no bucket, but the key is required.
			fmt.Fprintf(&b, "    s3: {bucket: %s}\n", bucket)
		}
		fmt.Fprintf(&b, "    database: {image: auto, jobs: %d}\n", a.Jobs)
		if a.Image != "" {
			fmt.Fprintf(&b, "    app:\n      image: %s\n      port: 5000\n      health: {path: /health, timeout: 60s}\n      publish: %s\n",
				a.Image, a.Publish)
		}
	}
	path := filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// restoreReport renders the Restore section.
func restoreReport(m machine, a archiveSet, cs []contender, res map[string][]sample, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	lbs, bare := res[lifeboatRestoreName], res[bareRestoreName]
	pgOnly := func(s sample) time.Duration { return phaseOf(s, "restore") }

	w("## Restore\n\n")
	w("`make bench` (`-suites restore`), %s: %d round(s), the two contenders alternating who goes first; median (min–max).\n\n", m.Date, rounds)
	w("%s", machineLine(m, ""))
	w("**Archive**: the fetch suite's plain `.dump` (%s, compression: %s): the Heroku-shaped database of `testenv.LoadHerokuLike` "+
		"(extensions in `heroku_ext`, dumped with `--exclude-schema=heroku_ext`, as Heroku's archives are) plus %d tables holding %d rows "+
		"of random base64 text, %s (%d bytes), cached under `~/.cache/lifeboat/bench/v%d-%d/`. Both sides restore that file, "+
		"bind-mounted read-only into the container; it is read once before every run, so both find it in the page cache.\n\n",
		a.PgDump, a.Compression, a.Tables, a.Rows, iec(a.DumpSize), a.DumpSize, a.Version, a.Target)
	w("**Setup**: both sides use the image `%s` and `pg_restore --jobs %d`, on the same machine, in the same run. ", c.pgImage, c.jobs)
	w("*%s* is `lifeboat restore --app %s --archive FILE --json` (config: `database.image: auto`, which reads 15 from the archive's header "+
		"and takes `postgres:15`; `database.jobs: %d`; everything else default: `analyze: true`, `data_template: true`, no amcheck, no SQL checks), from an empty state "+
		"directory (but the image's data template, made by the warm-up and kept by a host per image) and no Docker object of the app: it reads the archive to its end (SHA-256, the pg_dump walk), creates a volume and a container "+
		"on an internal network, waits until the server answers a real connection, prepares the database (search_path, the schemas and "+
		"extensions the archive needs: `heroku_ext`), runs `pg_restore --no-owner --no-acl --jobs %d` inside the container, "+
		"restarts the server with the durable settings, verifies (every table with data exists, exact row counts, sequences) beside a minimal ANALYZE "+
		"(the first stage of `vacuumdb --analyze-in-stages --jobs %d`) and `initdb --sync-only`, makes the generation current, and starts the full ANALYZE "+
		"in the container without waiting for it. "+
		"Its wall time is the whole command, fork to exit; its phases come from its JSON. ", lifeboatRestoreName, restoreApp, c.jobs, c.jobs, c.jobs)
	w("*%s* is what a user types without Lifeboat (a bash script, each step a command; the password from the environment):\n\n", bareRestoreName)
	w("```sh\n%s```\n\n", indentScript(bareRestoreScript))
	w("`pg_isready -h 127.0.0.1` inside the container succeeds only once the real server runs (the entrypoint's temporary init server listens on no TCP socket). "+
		"The archive leaves out `heroku_ext`, as Heroku's do: without `CREATE SCHEMA heroku_ext` first, this `pg_restore` fails with 50 errors "+
		"(`schema \"heroku_ext\" does not exist`, then every table using `citext`/`hstore` missing) and exits 1; that one statement is all the "+
		"bare user has to add (Lifeboat also sets the database's search_path to include `heroku_ext`, as on Heroku, which the restore itself does not need). "+
		"*%s* is the `docker exec … pg_restore` step of that script alone; *%s* the whole script, fork to exit. "+
		"The bare container runs the image's defaults (`max_wal_size` 1 GB), Lifeboat's is started with `max_wal_size=4GB`, `checkpoint_timeout=15min`, "+
		"`maintenance_work_mem=256MB`. Both restore with fsync on. "+
		"Before every run each side's containers, volumes and networks (by the label `io.lifeboat.app=%s` or `%s`) and lifeboat's state directory (but its data template) are removed, then `sync`. "+
		"Peak RSS and CPU are those of the client processes (lifeboat; bash and the docker CLI): the servers run in containers, outside them.\n\n",
		barePgRestoreName, bareRestoreName, restoreApp, bareLabel)
	if c.warmup {
		w("Before the first round each side restored the demo-size archive once, untimed. ")
	}
	w("While the rounds ran: %s.\n\n", m.Load)

	lw := summarize(lbs).Wall
	bw := summarize(bare).Wall
	pw := medianOf(bare, pgOnly)
	w("| Contender | Wall time, s | lifeboat restore / this | Peak RSS, MiB | CPU, s |\n| --- | --: | --: | --: | --: |\n")
	w("| %s | %s | – | %.1f (max %.1f) | %.2f |\n", lifeboatRestoreName, wallCell(lbs), mib(summarize(lbs).RSS), mib(summarize(lbs).RSSMax), summarize(lbs).CPU.Seconds())
	w("| %s | %s | **%.2f** | %.1f (max %.1f) | %.2f |\n", bareRestoreName, wallCell(bare), ratio(lw, bw), mib(summarize(bare).RSS), mib(summarize(bare).RSSMax), summarize(bare).CPU.Seconds())
	w("| %s | %s | **%.2f** | – | – |\n\n", barePgRestoreName, cellOf(bare, pgOnly), ratio(lw, pw))

	w("Phases, medians in seconds (each phase's median on its own, so they need not add up to the median total):\n\n")
	w("| Phase | %s | %s |\n| --- | --: | --: |\n", lifeboatRestoreName, bareRestoreName)
	names := phaseNames(append(append([]sample{}, lbs...), bare...))
	for _, n := range names {
		w("| %s | %s | %s |\n", phaseLabel(n), phaseCell(lbs, n), phaseCell(bare, n))
	}
	w("| outside the phases (process start-up, config, lock, Docker client, records) | %s | %s |\n", secs(medianOf(lbs, rest)), secs(medianOf(bare, rest)))
	w("| **total** | **%s** | **%s** |\n\n", secs(lw), secs(bw))

	over := pct(lw, pw)
	w("- Lifeboat's overhead over the bare `pg_restore` alone: **%+.2f s, %+.1f %%** (medians; < %.0f %% wanted: %s).\n",
		(lw - pw).Seconds(), over, restoreTarget, metOr(over < restoreTarget))
	w("- Over the bare container start + `pg_restore`: %+.2f s, %+.1f %%.\n", (lw - bw).Seconds(), pct(lw, bw))
	w("- `pg_restore` itself: %s s in lifeboat's container, %s s in the bare one (%+.1f %%).\n",
		secs(medianOf(lbs, pgOnly)), secs(pw), pct(medianOf(lbs, pgOnly), pw))
	var parts []string
	for _, n := range phaseNames(lbs) {
		if n == "restore" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s s", n, secs(medianOf(lbs, func(s sample) time.Duration { return phaseOf(s, n) }))))
	}
	parts = append(parts, fmt.Sprintf("outside the phases %s s", secs(medianOf(lbs, rest))))
	w("- Where lifeboat's time outside `pg_restore` goes (medians): %s.\n", strings.Join(parts, ", "))

	w("\n<details><summary>Every run</summary>\n\n")
	w("| Round | Contender | Wall, s | Peak RSS, MiB | CPU, s | Phases, s |\n| --: | --- | --: | --: | --: | --- |\n")
	for r := 1; r <= rounds; r++ {
		for _, ct := range order(cs, r) {
			for _, s := range res[ct.Name] {
				if s.Round == r {
					w("| %d | %s | %.2f | %.1f | %.2f | %s |\n", r, ct.Name, s.Wall.Seconds(), mib(s.MaxRSS), s.CPU.Seconds(), phaseLine(s.Phases))
				}
			}
		}
	}
	w("\n</details>\n")
	return b.String()
}

// phaseCell is the median of phase n over the samples, or – when none has it.
func phaseCell(ss []sample, n string) string {
	has := false
	for _, s := range ss {
		for _, p := range s.Phases {
			has = has || p.Name == n
		}
	}
	if !has {
		return "–"
	}
	return secs(medianOf(ss, func(s sample) time.Duration { return phaseOf(s, n) }))
}

// phaseLabels explain the phase names in the tables.
var phaseLabels = map[string]string{
	"archive":         "archive: read to its end, SHA-256, pg_dump walk",
	"image":           "image: the image is on the host",
	"database-start":  "database-start: volume, container, until the server accepts connections",
	"prepare":         "prepare: search_path, schemas, extensions (bare: CREATE SCHEMA heroku_ext)",
	"restore":         "restore: pg_restore --jobs",
	"durable-restart": "durable-restart: CHECKPOINT, restart with durable settings, check them",
	"analyze":         "analyze: vacuumdb --analyze-only",
	"verify":          "verify: tables, row counts, sequences (a minimal ANALYZE and the rest of the data written to disk beside them)",
	"app-plan":        "app › plan: the app image's Procfile and shell (kept per image ID), config vars, networks",
	"release":         "app › release phase (a container run to its end)",
	"app-start":       "app › create and start every process (web, worker)",
	"app-health":      "app › until web's `/health` answers 200",
	"app-other":       "app › the rest of the start",
}

func phaseLabel(n string) string {
	if l, ok := phaseLabels[n]; ok {
		return l
	}
	return n
}

// indentScript trims a script's first blank line for the report.
func indentScript(s string) string { return strings.TrimLeft(s, "\n") }
