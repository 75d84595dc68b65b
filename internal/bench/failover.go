package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// The failover suite's apps: a standby on the demo-size archive and one on
// the large archive.
const (
	failoverSmallApp = "bench-failover-demo"
	failoverLargeApp = "bench-failover-large"
)

// failoverTarget is the bound on a warm standby's failover.
const failoverTarget = 10 * time.Second

// standby is one app of the failover suite.
type standby struct {
	appConfig
	Label string
	Obj   object
	// Setup is the wall time of the refresh that made it a warm standby.
	Setup time.Duration
}

// failoverSuite times `lifeboat failover` of a warm standby (then
// `failback --complete`, back to waiting) on a demo-size and on the large
// archive.
func failoverSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("failover")
	image := l.exampleApp()
	small, large := l.object("demo"), l.object("dump")
	l.track(failoverSmallApp, failoverLargeApp)
	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	sbs := []*standby{
		{appConfig: appConfig{Name: failoverSmallApp, Object: &small}, Obj: small,
			Label: fmt.Sprintf("demo-size archive, %s", iec(small.Size))},
		{appConfig: appConfig{Name: failoverLargeApp, Object: &large}, Obj: large,
			Label: fmt.Sprintf("large archive, %s", iec(large.Size))},
	}
	var apps []appConfig
	for _, sb := range sbs {
		sb.Jobs, sb.Image = c.jobs, image
		sb.Publish = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		apps = append(apps, sb.appConfig)
	}
	cfg := writeAppsConfig(l, work, stateDir, apps)

	// Warm standbys: refreshed once each from MinIO (timed by the refresh suite).
	for _, sb := range sbs {
		if err := l.resetApp(sb.Name, stateDir); err != nil {
			t.Fatal(err)
		}
		logf("failover: making %s a warm standby (lifeboat refresh of %s)", sb.Name, sb.Obj.Key)
		s, _, err := lifeboatRefresh(l, cfg, sb.Name)
		if err != nil {
			t.Fatalf("failover: the refresh that makes %s a standby: %v", sb.Name, err)
		}
		sb.Setup = s.Wall
		logf("failover: %s is a warm standby (%.1fs)", sb.Name, s.Wall.Seconds())
	}
	var cs []contender
	for _, sb := range sbs {
		cs = append(cs, failoverContender(l, cfg, sb))
	}
	var warm []contender
	if c.warmup {
		warm = cs
	}
	load := startLoad()
	res := runRounds(t, "failover", rounds, warm, cs)
	m := machineInfo(c)
	m.Load = load.stop()
	m.Docker = dockerInfo(c.pgImage)
	for _, sb := range sbs {
		if err := l.resetApp(sb.Name, stateDir); err != nil {
			t.Fatal(err)
		}
	}
	return failoverReport(m, sbs, cs, res, c, rounds)
}

// failoverContender runs `lifeboat failover --json` on a warm standby,
// checks that web answers on the published address, then puts the standby
// back to waiting with `lifeboat failback --complete --json` (timed apart).
func failoverContender(l *lab, cfg string, sb *standby) contender {
	return contender{
		Name: "failover, " + sb.Label,
		run: func(round int) (sample, error) {
			s, res, out, err := lifeboatFailover(l, cfg, sb.Name)
			if err != nil {
				return s, err
			}
			if !res.Warm || res.DryRun || res.Generation == 0 || res.Published != sb.Publish {
				return s, fmt.Errorf("not a warm failover published on %s: %s", sb.Publish, tail(string(out), 30))
			}
			s.RTO = time.Duration(res.RTOSeconds * float64(time.Second))
			s.Phases = fromState(res.Phases, "")
			if code := httpStatus("http://" + sb.Publish + "/health"); code != 200 {
				return s, fmt.Errorf("after the failover, http://%s/health answers %d", sb.Publish, code)
			}
			cmd := exec.Command(l.c.lifeboat, "--config", cfg, "failback", "--complete", "--app", sb.Name, "--json")
			cmd.Env = cleanEnv()
			back, out, err := run(cmd)
			if err != nil {
				return s, fmt.Errorf("failback --complete: %v", err)
			}
			var fb failover.FailbackResult
			if err := json.Unmarshal(out, &fb); err != nil || !fb.Completed {
				return s, fmt.Errorf("lifeboat failback --complete --json printed %q (%v)", tail(string(out), 5), err)
			}
			s.Back = back.Wall
			return s, nil
		},
	}
}

// failoverReport renders the Failover section.
func failoverReport(m machine, sbs []*standby, cs []contender, res map[string][]sample, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	rto := func(s sample) time.Duration { return s.RTO }
	back := func(s sample) time.Duration { return s.Back }

	w("## Failover\n\n")
	w("`make bench` (`-suites failover`), %s: %d round(s), the two standbys alternating which fails over first; median (min–max).\n\n", m.Date, rounds)
	w("%s", machineLine(m, ""))
	w("**Setup**: two warm standbys side by side, two apps of one lifeboat.yaml, each with the example app "+
		"(`internal/exampleapp`, built FROM scratch by `imagebuild.ExampleApp` as `make demo` does; config as in the demo: `app.image`, `app.port: 5000`, "+
		"`app.health.path: /health`, `app.publish: 127.0.0.1:<free port>`) and `database.image: auto`, `database.jobs: %d`: ", c.jobs)
	for i, sb := range sbs {
		if i > 0 {
			w("; ")
		}
		w("`%s` on the %s (`%s`; made a warm standby by one `lifeboat refresh` from MinIO before the rounds: %.1f s)", sb.Name, sb.Label, filepath.Base(sb.Obj.Key), sb.Setup.Seconds())
	}
	w(". The demo-size archive is the database `make demo` restores (`testenv.LoadHerokuLike`, %d rows in each main table); "+
		"the large one is the fetch suite's plain `.dump`. ", demoRows)
	w("Each round: `lifeboat failover --app A --json`, timed as a whole (fork to exit), and its own `rto_seconds` (from the start of its work to web healthy, " +
		"without the process start-up, config, lock and Docker client): it checks what a failover needs from this host only, makes sure the database runs, " +
		"replaces the standby's web (internal network, nothing published) by every process of the Procfile (web, worker) in serving mode, web published on " +
		"`app.publish` on a network with egress, and waits until `/health` answers 200 (the example app's `/health` queries the database). " +
		"The benchmark then checks, untimed, that the published address answers 200, and `lifeboat failback --complete --app A --json` " +
		"puts the standby back to waiting (timed apart: *failback --complete*). ")
	if c.warmup {
		w("Before the first round each standby failed over and back once, untimed. ")
	}
	w("While the rounds ran: %s.\n\n", m.Load)

	w("| Standby | `failover` wall time, s | `rto_seconds`, s | `failback --complete`, s | Peak RSS, MiB | CPU, s |\n| --- | --: | --: | --: | --: | --: |\n")
	for _, ct := range cs {
		ss := res[ct.Name]
		st := summarize(ss)
		w("| %s | %s | %s | %s | %.1f (max %.1f) | %.2f |\n", strings.TrimPrefix(ct.Name, "failover, "), wallCell(ss), cellOf(ss, rto), cellOf(ss, back),
			mib(st.RSS), mib(st.RSSMax), st.CPU.Seconds())
	}
	w("\nPhases of the failover (its JSON), medians in seconds:\n\n")
	var all []sample
	for _, ct := range cs {
		all = append(all, res[ct.Name]...)
	}
	names := phaseNames(all)
	w("| Standby |")
	for _, n := range names {
		w(" %s |", n)
	}
	w(" outside (start-up, config, lock, Docker client) |\n| --- |")
	for range names {
		w(" --: |")
	}
	w(" --: |\n")
	for _, ct := range cs {
		ss := res[ct.Name]
		w("| %s |", strings.TrimPrefix(ct.Name, "failover, "))
		for _, n := range names {
			w(" %s |", phaseCell(ss, n))
		}
		w(" %s |\n", secs(medianOf(ss, func(s sample) time.Duration { return s.Wall - s.RTO })))
	}
	w("\n")

	var worst time.Duration
	for _, ct := range cs {
		worst = max(worst, summarize(res[ct.Name]).WallMax)
	}
	w("- Under %.0f s on a warm standby: %s (the slowest of every run, whole command: %.2f s).\n",
		failoverTarget.Seconds(), metOr(worst < failoverTarget), worst.Seconds())
	if len(cs) == 2 {
		s0, s1 := res[cs[0].Name], res[cs[1].Name]
		w0, w1 := summarize(s0).Wall, summarize(s1).Wall
		w("- Independent of the database's size: median wall time %.2f s on the %s, %.2f s on the %s (%+.2f s, %.2f×); `rto_seconds` %+.2f s. "+
			"Ranges: %s s and %s s.\n",
			w1.Seconds(), sbs[1].Label, w0.Seconds(), sbs[0].Label, (w1 - w0).Seconds(), ratio(w1, w0),
			(medianOf(s1, rto) - medianOf(s0, rto)).Seconds(), wallCell(s1), wallCell(s0))
	}

	w("\n<details><summary>Every run</summary>\n\n")
	w("| Round | Standby | Wall, s | rto_seconds | failback --complete, s | Peak RSS, MiB | Phases, s |\n| --: | --- | --: | --: | --: | --: | --- |\n")
	for r := 1; r <= rounds; r++ {
		for _, ct := range order(cs, r) {
			for _, s := range res[ct.Name] {
				if s.Round == r {
					w("| %d | %s | %.2f | %.2f | %.2f | %.1f | %s |\n", r, strings.TrimPrefix(ct.Name, "failover, "), s.Wall.Seconds(), s.RTO.Seconds(),
						s.Back.Seconds(), mib(s.MaxRSS), phaseLine(s.Phases))
				}
			}
		}
	}
	w("\n</details>\n")
	return b.String()
}

// lifeboatFailover runs `lifeboat failover --app app --json` and decodes
// what it printed.
func lifeboatFailover(l *lab, cfg, app string) (sample, *failover.FailoverResult, []byte, error) {
	cmd := exec.Command(l.c.lifeboat, "--config", cfg, "failover", "--app", app, "--json")
	cmd.Env = cleanEnv()
	s, out, err := run(cmd)
	if err != nil {
		return s, nil, out, err
	}
	var res failover.FailoverResult
	if err := json.Unmarshal(out, &res); err != nil {
		return s, nil, out, fmt.Errorf("lifeboat failover --json printed %q: %v", tail(string(out), 5), err)
	}
	return s, &res, out, nil
}
