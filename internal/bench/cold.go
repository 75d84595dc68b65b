package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// The cold failover suite's app.
const coldApp = "bench-cold"

const (
	lifeboatColdName = "lifeboat failover (cold)"
	byHandColdName   = "by hand: container + pg_restore + docker run"
)

// coldSuite times `lifeboat failover` with no database generation (a cold
// standby: the archive in the cache, nothing restored) against the same
// done by hand from the same plain .dump: byHandBootScript.
func coldSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("cold")
	image := l.exampleApp()
	o := l.object("dump")
	l.track(coldApp, bareLabel)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cacheDir := filepath.Join(work, "cache")
	publish := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := writeAppsConfig(l, work, stateDir, []appConfig{{Name: coldApp, Object: &o, Jobs: c.jobs, Image: image,
		Publish: publish, CacheDir: cacheDir}})

	// The cache, filled once (untimed): what a standby keeps for an outage.
	if err := l.resetApp(coldApp, stateDir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.lifeboat, "--config", cfg, "fetch", "--app", coldApp, "--json")
	cmd.Env = cleanEnv()
	if _, out, err := run(cmd); err != nil {
		t.Fatalf("cold: filling the cache: %v %s", err, tail(string(out), 10))
	}
	// The by-hand side restores the same bytes: a link to the plain .dump.
	handDir := filepath.Join(work, "by-hand")
	if err := os.MkdirAll(handDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(l.arch.dumpPath(), filepath.Join(handDir, "archive.dump")); err != nil {
		t.Fatalf("cold: %v", err)
	}
	cs := []contender{lifeboatCold(l, cfg, stateDir, publish), byHandCold(l, handDir)}
	l.primeTemplate(cfg, coldApp, stateDir)
	load := startLoad()
	res := runRounds(t, "cold", rounds, nil, cs)
	m := machineInfo(c)
	m.Load = load.stop()
	m.Docker = dockerInfo(c.pgImage)
	if err := l.resetApp(coldApp, stateDir); err != nil {
		t.Fatal(err)
	}
	return coldReport(m, l.arch, cs, res, c, rounds)
}

// lifeboatCold runs `lifeboat failover --json` with no generation (the
// state directory removed, the cache kept) and checks that web answers on
// the published address; its phases are the failover's with the restore's
// broken out.
func lifeboatCold(l *lab, cfg, stateDir, publish string) contender {
	return contender{
		Name: lifeboatColdName,
		run: func(round int) (sample, error) {
			if err := l.resetApp(coldApp, stateDir); err != nil {
				return sample{}, err
			}
			s, res, out, err := lifeboatFailover(l, cfg, coldApp)
			if err != nil {
				return s, err
			}
			if res.Warm || res.Generation == 0 || res.Published != publish {
				return s, fmt.Errorf("not a cold failover published on %s: %s", publish, tail(string(out), 30))
			}
			s.RTO = time.Duration(res.RTOSeconds * float64(time.Second))
			for _, p := range fromState(res.Phases, "") {
				if p.Name == "restore" {
					s.Phases = append(s.Phases, fromState(res.RestorePhases, "")...)
					continue
				}
				if p.Name == "app" && res.Stack != nil {
					// The app's start broken down: what comes before the
					// release (the image's Procfile and shell, the plan),
					// the release phase, the processes' start, the wait for
					// /health.
					sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
					var rel time.Duration
					if res.Stack.Release != nil {
						rel = sec(res.Stack.Release.Seconds)
					}
					start, health := sec(res.Stack.StartSeconds), sec(res.Stack.HealthSeconds)
					s.Health = health
					s.Phases = append(s.Phases, phase{Name: "app-plan", D: p.D - sec(res.Stack.BootSeconds)},
						phase{Name: "release", D: rel}, phase{Name: "app-start", D: start},
						phase{Name: "app-health", D: health}, phase{Name: "app-other", D: sec(res.Stack.BootSeconds) - rel - start - health})
					continue
				}
				s.Phases = append(s.Phases, p)
			}
			if code := httpStatus("http://" + publish + "/health"); code != 200 {
				return s, fmt.Errorf("after the failover, http://%s/health answers %d", publish, code)
			}
			return s, l.resetApp(coldApp, stateDir)
		},
	}
}

// byHandCold runs byHandBootScript on dir/archive.dump, checks the big
// tables' rows (untimed), then removes what it made.
func byHandCold(l *lab, dir string) contender {
	return contender{
		Name: byHandColdName,
		run: func(round int) (sample, error) {
			l.removeDocker(bareLabel)
			if err := warmFile(filepath.Join(dir, "archive.dump")); err != nil {
				return sample{}, err
			}
			name := "lifeboat-bench-cold"
			s, _, err := runScript(byHandBootScript, []string{
				"DIR=" + dir, "NAME=" + name, "LABEL=io.lifeboat.app=" + bareLabel, "IMAGE=" + l.c.pgImage,
				"JOBS=" + strconv.Itoa(l.c.jobs), "POSTGRES_PASSWORD=" + randomPassword(), "APP_IMAGE=" + appImage,
				"WEB_PORT=" + strconv.Itoa(testenv.FreePort(l.t)), "PATH=" + os.Getenv("PATH"),
			})
			if err != nil {
				return s, err
			}
			rows, err := bareRows(name+"-db", "postgres", l.arch)
			if err == nil {
				err = checkRows(l.arch, rows)
			}
			l.removeDocker(bareLabel)
			if err != nil {
				return s, fmt.Errorf("by hand: %v", err)
			}
			return s, nil
		},
	}
}

// coldPhaseOrder lines the two sides' phases up in the report.
var coldPhaseOrder = []string{"checks", "archive", "image", "database-start", "archive-verify", "prepare", "restore",
	"durable-restart", "verify", "database", "app-plan", "release", "app-start", "app-health", "app-other", "app"}

// coldReport renders the Cold failover section.
func coldReport(m machine, a archiveSet, cs []contender, res map[string][]sample, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	lbs, hand := res[lifeboatColdName], res[byHandColdName]
	w("## Cold failover\n\n")
	w("`make bench` (`-suites cold`), %s: %d round(s), the two contenders alternating who goes first; median (min–max).\n\n", m.Date, rounds)
	w("%s", machineLine(m, ""))
	w("**Archive**: the restore suite's plain `.dump`, %s (%s).\n\n", iec(a.DumpSize), a.Compression)
	w("**Setup**: *%s* is `lifeboat failover --app %s --json` on a standby that has the archive in its cache (filled once by `lifeboat fetch`, "+
		"untimed; `cache.dir` outside the state directory) and nothing else: each round starts with no state directory (but the app's data template, made once before the rounds by an untimed `lifeboat restore` of the demo-size archive, as a host keeps it per image) and no Docker object of the app. "+
		"It restores a new generation from the cache as `lifeboat restore` does (bulk-load settings, durable restart, verification), "+
		"then starts every process of the Procfile in serving mode, web published on `app.publish`, until `/health` answers 200 "+
		"(the example app and config of the failover suite, `database.jobs: %d`). *%s* is the same from the same file, one bash script:\n\n",
		lifeboatColdName, coldApp, c.jobs, byHandColdName)
	w("```sh\n%s```\n\n", indentScript(byHandBootScript))
	w("The by-hand side does no check (no checksum, no look inside the archive, no ANALYZE, no row counts) and runs no release phase; "+
		"its big tables' rows are counted after the timed run. Both find the archive in the page cache. While the rounds ran: %s.\n\n", m.Load)
	lw, hw := summarize(lbs).Wall, summarize(hand).Wall
	w("| Contender | Wall time, s | `rto_seconds`, s | lifeboat / this |\n| --- | --: | --: | --: |\n")
	w("| %s | %s | %s | – |\n", lifeboatColdName, wallCell(lbs), cellOf(lbs, func(s sample) time.Duration { return s.RTO }))
	w("| %s | %s | – | **%.2f** |\n\n", byHandColdName, wallCell(hand), ratio(lw, hw))
	w("Phases, medians in seconds:\n\n| Phase | %s | %s |\n| --- | --: | --: |\n", lifeboatColdName, byHandColdName)
	phaseRows(w, coldPhaseOrder, lbs, hand, phaseLabel)
	w("| **total** | **%s** | **%s** |\n\n", secs(lw), secs(hw))
	w("- cold `lifeboat failover` / by hand: **%.2f** (medians, %+.2f s; ≤ 0.85 wanted: %s).\n", ratio(lw, hw), (lw - hw).Seconds(), metOr(ratio(lw, hw) <= 0.85))
	w("\n<details><summary>Every run</summary>\n\n| Round | Contender | Wall, s | Phases, s |\n| --: | --- | --: | --- |\n")
	for r := 1; r <= rounds; r++ {
		for _, ct := range order(cs, r) {
			for _, s := range res[ct.Name] {
				if s.Round == r {
					w("| %d | %s | %.2f | %s |\n", r, ct.Name, s.Wall.Seconds(), phaseLine(s.Phases))
				}
			}
		}
	}
	w("\n</details>\n")
	return b.String()
}
