package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/state"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// phase is one timed step of a run.
type phase struct {
	Name string
	D    time.Duration
}

// contender is one side of the restore, failover and refresh suites: a
// lifeboat command, or what a user would otherwise do by hand.
type contender struct {
	Name string
	// Note says what exactly it runs, for the report.
	Note string
	// run measures one run; round 0 is the warm-up. It leaves nothing
	// behind that the next run of any contender would find.
	run func(round int) (sample, error)
}

// runRounds runs, after an optional untimed warm-up, every contender once
// per round, rotating who goes first by round as the fetch suite does, and
// returns the samples by contender name.
func runRounds(t *testenv.Standalone, suite string, rounds int, warmup []contender, cs []contender) map[string][]sample {
	for _, c := range warmup {
		logf("%s warm-up (untimed): %s", suite, c.Name)
		if _, err := c.run(0); err != nil {
			t.Fatalf("%s warm-up, %s: %v", suite, c.Name, err)
		}
	}
	res := map[string][]sample{}
	for r := 1; r <= rounds; r++ {
		for i := range cs {
			c := cs[(i+r-1)%len(cs)]
			s, err := c.run(r)
			if err != nil {
				t.Fatalf("%s round %d, %s: %v", suite, r, c.Name, err)
			}
			s.Round = r
			res[c.Name] = append(res[c.Name], s)
			logf("%s round %d/%d  %-34s %7.2fs  peak RSS %6.1f MiB  %s",
				suite, r, rounds, c.Name, s.Wall.Seconds(), mib(s.MaxRSS), phaseLine(s.Phases))
		}
	}
	return res
}

// order is the order the contenders ran in, in round r.
func order(cs []contender, r int) []contender {
	out := make([]contender, 0, len(cs))
	for i := range cs {
		out = append(out, cs[(i+r-1)%len(cs)])
	}
	return out
}

func phaseLine(ps []phase) string {
	var l []string
	for _, p := range ps {
		l = append(l, fmt.Sprintf("%s %.2f", p.Name, p.D.Seconds()))
	}
	return strings.Join(l, ", ")
}

// fromState converts the phases of a lifeboat JSON report.
func fromState(ps []state.Phase, prefix string) []phase {
	var out []phase
	for _, p := range ps {
		out = append(out, phase{Name: prefix + p.Name, D: time.Duration(p.Seconds * float64(time.Second))})
	}
	return out
}

// markerPrelude starts every by-hand script: mark NAME prints
// "mark NAME <seconds since the epoch>" (bash's $EPOCHREALTIME, no fork),
// from which the benchmark times each step; every step of a script is what
// a user would type.
const markerPrelude = `set -euo pipefail
mark() { echo "mark $1 $EPOCHREALTIME"; }
mark begin
`

// runScript runs a by-hand bash script through the runner (measured like
// every contender), with env added to a clean environment, and returns the
// sample with the steps the script marked as phases.
func runScript(script string, env []string) (sample, []byte, error) {
	cmd := exec.Command("bash", "-c", markerPrelude+script, "bench")
	cmd.Env = append(cleanEnv(), "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	s, out, err := run(cmd)
	if err != nil {
		// Name the script by its first command rather than print it whole.
		first := firstLine(script)
		return s, out, errors.New(strings.Replace(err.Error(), markerPrelude+script, "(script: "+first+" …)", 1))
	}
	s.Phases, err = parseMarks(out)
	return s, out, err
}

// parseMarks turns the script's "mark NAME TIME" lines into the phases
// between consecutive marks.
func parseMarks(out []byte) ([]phase, error) {
	var ps []phase
	var last float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "mark" {
			continue
		}
		at, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("bad mark %q: %v", sc.Text(), err)
		}
		if f[1] != "begin" {
			ps = append(ps, phase{Name: f[1], D: time.Duration((at - last) * float64(time.Second))})
		}
		last = at
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("the script marked no step")
	}
	return ps, nil
}

// phaseOf is the duration of the phases of s named name (0 when none).
func phaseOf(s sample, names ...string) time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		for _, n := range names {
			if p.Name == n {
				d += p.D
			}
		}
	}
	return d
}

// rest is the part of s's wall time outside its phases: process start-up,
// config, lock, the Docker client, records (lifeboat); bash's start-up (the
// scripts).
func rest(s sample) time.Duration {
	d := s.Wall
	for _, p := range s.Phases {
		d -= p.D
	}
	return d
}

// phaseNames lists the phase names of the samples in order of first
// appearance.
func phaseNames(ss []sample) []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range ss {
		for _, p := range s.Phases {
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
	}
	return names
}

// medianOf is the median over the samples of f.
func medianOf(ss []sample, f func(sample) time.Duration) time.Duration {
	var v []time.Duration
	for _, s := range ss {
		v = append(v, f(s))
	}
	return median(v)
}

// secs formats a duration in seconds for the tables.
func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// wallCell is "median (min–max)" of the samples' wall times.
func wallCell(ss []sample) string {
	st := summarize(ss)
	return fmt.Sprintf("%.2f (%.2f–%.2f)", st.Wall.Seconds(), st.WallMin.Seconds(), st.WallMax.Seconds())
}

// cellOf is "median (min–max)" of f over the samples.
func cellOf(ss []sample, f func(sample) time.Duration) string {
	var v []time.Duration
	for _, s := range ss {
		v = append(v, f(s))
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(v).Seconds(), minOf(v).Seconds(), maxOf(v).Seconds())
}

// pct is (a − b) / b in percent.
func pct(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return (a.Seconds() - b.Seconds()) / b.Seconds() * 100
}

// ratio is a / b.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

// metOr says "met" or "**not met**".
func metOr(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// machineLine is the Machine paragraph of the restore, failover and
// refresh sections.
func machineLine(m machine, extra string) string {
	s := fmt.Sprintf("**Machine**: %d CPUs (%s), %s RAM, %s, kernel %s, %s filesystem. %s",
		m.CPUs, m.CPUModel, m.Memory, m.OS, m.Kernel, orUnknown(m.Filesystem), m.Go)
	if m.Docker != "" {
		s += "; " + m.Docker
	}
	if extra != "" {
		s += "; " + extra
	}
	return s + fmt.Sprintf("; lifeboat %s.\n\n", orUnknown(m.Lifeboat))
}
