package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/diskspace"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// The refresh suite's app, and the one its warm-up uses (on the demo-size
// archive).
const (
	refreshApp     = "bench-refresh"
	refreshWarmApp = "bench-refresh-warmup"
)

const (
	lifeboatRefreshName = "lifeboat refresh"
	byHandRefreshName   = "by hand"
)

// byHandRefreshScript is a refresh done by hand: download the object,
// gunzip it, start a Postgres container on a network of its own with the
// archive bind-mounted, restore it as in bareRestoreScript, then start the
// app's web process against it and wait until /health answers 200.
const byHandRefreshScript = `
aws s3 cp "s3://$BUCKET/$KEY" "$DIR/archive.dump.gz" --endpoint-url "$ENDPOINT" --no-progress --only-show-errors
mark fetch
gzip -d -f "$DIR/archive.dump.gz"
mark gunzip` + byHandBootScript

// byHandBootScript is the by-hand refresh from $DIR/archive.dump on: a
// Postgres container, the restore, the app's web until healthy; alone, it
// is a cold failover by hand.
const byHandBootScript = `
docker network create --label "$LABEL" "$NAME" >/dev/null
docker run -d --name "$NAME-db" --network "$NAME" --label "$LABEL" -e POSTGRES_PASSWORD \
    -v "$DIR/archive.dump:/archive.dump:ro" "$IMAGE" >/dev/null
n=0
until docker exec "$NAME-db" pg_isready -q -h 127.0.0.1 -U postgres; do
    n=$((n + 1))
    if [ "$n" -gt 1200 ]; then docker logs "$NAME-db" >&2; echo "not ready after 2 minutes" >&2; exit 1; fi
    sleep 0.1
done
mark database-start
docker exec "$NAME-db" psql -q -v ON_ERROR_STOP=1 -U postgres -d postgres -c 'CREATE SCHEMA heroku_ext'
mark prepare
docker exec "$NAME-db" pg_restore --no-owner --no-acl --jobs "$JOBS" -U postgres -d postgres /archive.dump
mark restore
export DATABASE_URL="postgres://postgres:$POSTGRES_PASSWORD@$NAME-db:5432/postgres?sslmode=disable"
docker run -d --name "$NAME-web" --network "$NAME" --label "$LABEL" -e DATABASE_URL -e PORT=5000 -e DYNO=web.1 \
    -p "127.0.0.1:$WEB_PORT:5000" "$APP_IMAGE" web >/dev/null
n=0
until curl -fs -o /dev/null "http://127.0.0.1:$WEB_PORT/health"; do
    n=$((n + 1))
    if [ "$n" -gt 1200 ]; then docker logs "$NAME-web" >&2; echo "not healthy after 2 minutes" >&2; exit 1; fi
    sleep 0.1
done
mark app
`

// refreshSuite times `lifeboat refresh --force` from a fresh state against
// the same done by hand, with the large .dump.gz in MinIO.
func refreshSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("refresh")
	image := l.exampleApp()
	o := l.object("gz")
	l.track(refreshApp, refreshWarmApp, bareLabel)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	apps := []appConfig{{Name: refreshApp, Object: &o, Jobs: c.jobs, Image: image,
		Publish: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}}
	var warm []contender
	if c.warmup {
		d := l.object("demo-gz")
		apps = append(apps, appConfig{Name: refreshWarmApp, Object: &d, Jobs: c.jobs, Image: image,
			Publish: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))})
	}
	cfg := writeAppsConfig(l, work, stateDir, apps)
	cs := []contender{
		lifeboatRefreshContender(l, cfg, stateDir, refreshApp, l.arch),
		byHandRefresh(l, work, o, l.arch),
	}
	if c.warmup {
		d := l.object("demo-gz")
		warm = []contender{
			lifeboatRefreshContender(l, cfg, stateDir, refreshWarmApp, archiveSet{}),
			byHandRefresh(l, work, d, archiveSet{}),
		}
	}
	l.primeTemplate(cfg, refreshApp, stateDir)
	load := startLoad()
	res := runRounds(t, "refresh", rounds, warm, cs)
	m := machineInfo(c)
	m.Load = load.stop()
	m.Docker = dockerInfo(c.pgImage)
	return refreshReport(m, l.arch, o, cs, res, c, rounds)
}

// lifeboatRefresh runs `lifeboat refresh --force --json` for app and checks
// that it refreshed and that the standby's web answers.
func lifeboatRefresh(l *lab, cfg, app string) (sample, *failover.RefreshResult, error) {
	cmd := exec.Command(l.c.lifeboat, "--config", cfg, "refresh", "--force", "--app", app, "--json")
	cmd.Env = cleanEnv()
	s, out, err := run(cmd)
	if err != nil {
		return s, nil, err
	}
	var res failover.RefreshResult
	if err := json.Unmarshal(out, &res); err != nil {
		return s, nil, fmt.Errorf("lifeboat refresh --json printed %q: %v", tail(string(out), 5), err)
	}
	if res.Outcome != failover.OutcomeRefreshed || res.Generation == nil || res.Run == nil ||
		res.App == nil || res.App.Stack == nil {
		return s, &res, fmt.Errorf("lifeboat refresh did not refresh: %s", tail(string(out), 30))
	}
	if code := httpStatus(res.App.Stack.WebURL); code != 200 {
		return s, &res, fmt.Errorf("after the refresh, the standby's %s answers %d", res.App.Stack.WebURL, code)
	}
	return s, &res, nil
}

// lifeboatRefreshContender runs lifeboatRefresh from a fresh state (no
// state directory, so an empty archive cache, and no Docker object of the
// app), and records its phases with the restore's and the release's
// broken out; a (when it has big tables) checks the rows restored.
func lifeboatRefreshContender(l *lab, cfg, stateDir, app string, a archiveSet) contender {
	return contender{
		Name: lifeboatRefreshName,
		run: func(round int) (sample, error) {
			if err := l.resetApp(app, stateDir); err != nil {
				return sample{}, err
			}
			s, res, err := lifeboatRefresh(l, cfg, app)
			if err != nil {
				return s, err
			}
			if err := checkRows(a, rowsOf(res.Generation.Tables)); err != nil {
				return s, fmt.Errorf("lifeboat refresh: %v", err)
			}
			s.Phases = refreshPhases(res)
			s.DiskHighWater = diskHighWater(res)
			s.Health = time.Duration(res.App.Stack.HealthSeconds * float64(time.Second))
			return s, l.resetApp(app, stateDir)
		},
	}
}

// diskHighWater is the largest high-water mark in a refresh's run record
// (0 when it has none).
func diskHighWater(res *failover.RefreshResult) int64 {
	b, err := json.Marshal(res.Run.Details["disk"])
	if err != nil {
		return 0
	}
	var marks []diskspace.Mark
	if json.Unmarshal(b, &marks) != nil {
		return 0
	}
	var hwm int64
	for _, m := range marks {
		hwm = max(hwm, m.HighWater)
	}
	return hwm
}

// refreshPhases flattens a refresh's phases: the restore's own phases in
// place of "restore" (its image step renamed database-image, what the
// restore does outside its phases as restore-other), the release phase
// apart from "app".
func refreshPhases(res *failover.RefreshResult) []phase {
	var out []phase
	for _, p := range fromState(res.Run.Phases, "") {
		switch p.Name {
		case "restore":
			inner := fromState(res.Generation.Phases, "")
			left := p.D
			for _, q := range inner {
				if q.Name == "image" {
					q.Name = "database-image"
				}
				out = append(out, q)
				left -= q.D
			}
			out = append(out, phase{Name: "restore-other", D: left})
		case "app":
			if r := res.App.Stack.Release; r != nil {
				d := time.Duration(r.Seconds * float64(time.Second))
				out = append(out, phase{Name: "release", D: d})
				p.D -= d
			}
			out = append(out, p)
		default:
			out = append(out, p)
		}
	}
	return out
}

// byHandRefresh runs byHandRefreshScript for object o, checks the rows
// restored (untimed, when a has big tables), then removes everything it made.
func byHandRefresh(l *lab, work string, o object, a archiveSet) contender {
	return contender{
		Name: byHandRefreshName,
		run: func(round int) (sample, error) {
			dir := filepath.Join(work, "by-hand")
			reset := func() error {
				l.removeDocker(bareLabel)
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
				syscall.Sync()
				return nil
			}
			if err := reset(); err != nil {
				return sample{}, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return sample{}, err
			}
			awsConfig, s3env := l.awsEnv()
			name := "lifeboat-bench-by-hand"
			env := append(s3env, "AWS_CONFIG_FILE="+awsConfig, "AWS_SHARED_CREDENTIALS_FILE="+awsConfig,
				"PATH="+filepath.Dir(l.c.aws)+":"+os.Getenv("PATH"),
				"BUCKET="+bucket, "KEY="+o.Key, "ENDPOINT="+l.minio().Endpoint, "DIR="+dir,
				"NAME="+name, "LABEL=io.lifeboat.app="+bareLabel, "IMAGE="+l.c.pgImage, "JOBS="+strconv.Itoa(l.c.jobs),
				"POSTGRES_PASSWORD="+randomPassword(), "APP_IMAGE="+appImage, "WEB_PORT="+strconv.Itoa(testenv.FreePort(l.t)))
			s, _, err := runScript(byHandRefreshScript, env)
			if err != nil {
				return s, err
			}
			rows, err := bareRows(name+"-db", "postgres", a)
			if err == nil {
				err = checkRows(a, rows)
			}
			if err != nil {
				return s, fmt.Errorf("by hand: %v", err)
			}
			return s, reset()
		},
	}
}

// refreshPhaseOrder lines the two sides' phases up in the report.
var refreshPhaseOrder = []string{"fetch", "gunzip", "image", "config-vars", "archive", "database-image", "database-start",
	"prepare", "restore", "durable-restart", "analyze", "verify", "restore-other", "release", "app", "switch"}

var refreshPhaseLabels = map[string]string{
	"fetch":           "fetch (lifeboat: list, download, verify, gunzip, store; by hand: `aws s3 cp`)",
	"gunzip":          "gunzip (by hand: `gzip -d`)",
	"image":           "image: the app's image (pull, or the local copy)",
	"config-vars":     "config-vars (no Heroku API configured)",
	"archive":         "restore › archive: read again, SHA-256, pg_dump walk",
	"database-image":  "restore › database image on the host",
	"database-start":  "restore › database-start: container until it accepts connections (by hand: + `docker network create`)",
	"prepare":         "restore › prepare (by hand: `CREATE SCHEMA heroku_ext`)",
	"restore":         "restore › `pg_restore --jobs`",
	"durable-restart": "restore › durable-restart: CHECKPOINT, restart with durable settings, check them",
	"analyze":         "restore › analyze: `vacuumdb --analyze-only`",
	"verify":          "restore › verify: tables, row counts, sequences (a minimal ANALYZE and the rest of the data written to disk beside them)",
	"restore-other":   "restore › outside its phases (leftovers check, records)",
	"release":         "app › release phase (`/app release`)",
	"app":             "app: web started until `/health` answers 200",
	"switch":          "switch: promote, retire the old generation",
}

// refreshReport renders the Refresh section.
func refreshReport(m machine, a archiveSet, o object, cs []contender, res map[string][]sample, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	lbs, hand := res[lifeboatRefreshName], res[byHandRefreshName]

	w("## Refresh\n\n")
	w("`make bench` (`-suites refresh`), %s: %d round(s), the two contenders alternating who goes first; median (min–max).\n\n", m.Date, rounds)
	w("%s", machineLine(m, "MinIO "+m.MinIO+"; "+orUnknown(m.AWS)))
	w("**Object**: the fetch suite's `.dump.gz` (%s, %d bytes: what heroku-database-backups uploads, the plain `.dump` of %s gzipped by %s), "+
		"in the local MinIO under a heroku-database-backups key (`%s`), uploaded as the fetch suite does.\n\n",
		iec(o.Size), o.Size, iec(a.DumpSize), a.Gzip, o.Key)
	w("**Setup**: *%s* is `lifeboat refresh --force --app %s --json` from a fresh state (no state directory, so an empty archive cache, but the app's data template, made once before the rounds by an untimed `lifeboat restore` of the demo-size archive, as a host keeps it per image; no Docker object of the app), "+
		"the app configured as in the failover suite (the example app, `database.image: auto`, `database.jobs: %d`): fetch (list the prefix, download in parallel, "+
		"verify, gunzip, store the `.dump`), image (the local example app image), config-vars (none configured), restore a new generation "+
		"(as the restore suite), start the app on it in standby mode (the Procfile's release phase first, then web on an internal network) "+
		"until `/health` answers 200, then switch. Its phases come from its JSON (the restore's and the release's broken out). "+
		"*%s* is the same done by a user, one bash script (credentials in the environment):\n\n", lifeboatRefreshName, refreshApp, c.jobs, byHandRefreshName)
	w("```sh\n%s```\n\n", indentScript(byHandRefreshScript))
	w("`aws s3 cp` with the CLI's defaults (an empty config file), `gzip -d` (GNU gzip), the Postgres container and `pg_restore` as in the restore suite, " +
		"then the example app's web process on the same network, published on 127.0.0.1. The by-hand side does no check at all (no checksum, no look inside " +
		"the archive, no fsync of the archive, no ANALYZE, no row counts) and runs no release phase. " +
		"Before every run each side's containers, volumes, networks, files and lifeboat's state directory are removed, then `sync`. " +
		"Peak RSS and CPU are those of the client processes (lifeboat; bash, aws, gzip and the docker CLI): the servers run in containers, outside them. ")
	if c.warmup {
		w("Before the first round each side ran once, untimed, on the demo-size archive. ")
	}
	w("While the rounds ran: %s.\n\n", m.Load)

	lw, hw := summarize(lbs).Wall, summarize(hand).Wall
	w("| Contender | Wall time, s | lifeboat / by hand | Peak RSS, MiB | CPU, s |\n| --- | --: | --: | --: | --: |\n")
	for _, ct := range cs {
		ss := res[ct.Name]
		st := summarize(ss)
		r := "–"
		if ct.Name == byHandRefreshName {
			r = fmt.Sprintf("**%.2f**", ratio(lw, hw))
		}
		w("| %s | %s | %s | %.1f (max %.1f) | %.2f |\n", ct.Name, wallCell(ss), r, mib(st.RSS), mib(st.RSSMax), st.CPU.Seconds())
	}
	w("\nPhases, medians in seconds (each phase's median on its own):\n\n")
	w("| Phase | %s | %s |\n| --- | --: | --: |\n", lifeboatRefreshName, byHandRefreshName)
	phaseRows(w, refreshPhaseOrder, lbs, hand, func(n string) string {
		if l := refreshPhaseLabels[n]; l != "" {
			return l
		}
		return n
	})
	w("| outside the phases (process start-up, config, lock, Docker client) | %s | %s |\n", secs(medianOf(lbs, rest)), secs(medianOf(hand, rest)))
	w("| **total** | **%s** | **%s** |\n\n", secs(lw), secs(hw))

	w("- `lifeboat refresh` / by hand: **%.2f** (medians, %+.2f s, %+.1f %%).\n", ratio(lw, hw), (lw - hw).Seconds(), pct(lw, hw))
	if hwm := medianOf(lbs, func(s sample) time.Duration { return time.Duration(s.DiskHighWater) }); hwm > 0 {
		w("- Disk high-water mark of `lifeboat refresh` (its run record: free space before it, less the lowest seen every second, on the file system of the cache and the volumes): %s (median), for a %s archive.\n",
			iec(int64(hwm)), iec(a.DumpSize))
	}
	get := func(s sample) time.Duration { return phaseOf(s, "fetch") }
	getHand := func(s sample) time.Duration { return phaseOf(s, "fetch", "gunzip") }
	w("- Getting a plain `.dump` on disk: lifeboat's fetch %s s, `aws s3 cp` + `gzip -d` %s s.\n", secs(medianOf(lbs, get)), secs(medianOf(hand, getHand)))
	db := func(s sample) time.Duration {
		return phaseOf(s, "archive", "database-image", "database-start", "prepare", "restore", "durable-restart", "analyze", "verify", "restore-other")
	}
	w("- The database, restored (and, for lifeboat, checked): lifeboat %s s, by hand %s s.\n", secs(medianOf(lbs, db)), secs(medianOf(hand, db)))
	app := func(s sample) time.Duration { return phaseOf(s, "release", "app", "switch") }
	w("- The app, healthy: lifeboat %s s (release phase and switch included; of its app phase, %s s waiting for `/health`, "+
		"which it asks every 0.1 s for the first 3 s, then every `app.health.interval`), by hand %s s (curl every 0.1 s).\n",
		secs(medianOf(lbs, app)), secs(medianOf(lbs, func(s sample) time.Duration { return s.Health })), secs(medianOf(hand, app)))

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

// phaseRows writes a row per phase of either side (a's and b's medians),
// the names of order first, then those not in it; a phase neither side
// has is left out.
func phaseRows(w func(string, ...any), order []string, a, b []sample, label func(string) string) {
	names := append([]string{}, order...)
	for _, n := range phaseNames(append(append([]sample{}, a...), b...)) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		ac, bc := phaseCell(a, n), phaseCell(b, n)
		if ac == "–" && bc == "–" {
			continue
		}
		w("| %s | %s | %s |\n", label(n), ac, bc)
	}
}
