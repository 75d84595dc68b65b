package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/units"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// rssTarget is the bound on lifeboat's peak RSS: 100 MB.
const rssTarget = 100e6

// resolveDefaults fills in the download settings the default variant
// really gets, as `lifeboat config check --json` resolves them.
func resolveDefaults(t *testenv.Standalone, bin, cfg string, o object, vs []variant) []variant {
	for i, v := range vs {
		if !v.Default {
			continue
		}
		out, err := exec.Command(bin, "--config", cfg, "config", "check", "--app", v.app(o), "--json").Output()
		if err != nil {
			t.Fatalf("lifeboat config check: %v", err)
		}
		var resolved struct {
			Apps []struct {
				Name     string `json:"name"`
				Download struct {
					Concurrency int    `json:"concurrency"`
					PartSize    string `json:"part_size"`
				} `json:"download"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &resolved); err != nil {
			t.Fatalf("lifeboat config check --json: %v", err)
		}
		for _, a := range resolved.Apps {
			if a.Name != v.app(o) {
				continue
			}
			ps, err := units.ParseByteSize(a.Download.PartSize)
			if err != nil {
				t.Fatalf("lifeboat config check --json: part_size: %v", err)
			}
			vs[i].Concurrency, vs[i].PartSize = a.Download.Concurrency, int64(ps)
		}
	}
	return vs
}

type machine struct {
	CPUs                       int
	CPUModel, Memory, Kernel   string
	Go, MinIO, AWS, Lifeboat   string
	OS, Filesystem, Date, Host string
	// Docker describes the Docker Engine and the Postgres image
	// (restore, failover, refresh).
	Docker string
	// Load says how busy the machine was during the rounds.
	Load string
}

// loadProbe watches how busy the machine is while the rounds run: other
// work on a small machine slows both contenders and makes the numbers noisy.
type loadProbe struct {
	start     time.Time
	loadavg   string
	cpuStalls int64 // /proc/pressure/cpu "some" total, µs
}

func startLoad() loadProbe {
	return loadProbe{start: time.Now(), loadavg: loadavg(), cpuStalls: cpuPressure()}
}

// stop describes the load since startLoad: the 1-minute load average at
// both ends, the share of the time some task waited for a CPU (PSI), and
// this process's nice value (inherited by MinIO and the contenders).
func (p loadProbe) stop() string {
	s := fmt.Sprintf("load average %s at the start of the rounds, %s at the end", p.loadavg, loadavg())
	if end := cpuPressure(); p.cpuStalls >= 0 && end >= 0 {
		share := float64(end-p.cpuStalls) / float64(time.Since(p.start).Microseconds()) * 100
		s += fmt.Sprintf("; some task was waiting for a CPU %.0f%% of the time (PSI)", share)
	}
	if prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil {
		// The raw syscall returns 20 - nice.
		s += fmt.Sprintf("; nice %d", 20-prio)
	}
	return s
}

func loadavg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func cpuPressure() int64 {
	for _, l := range strings.Split(readFile("/proc/pressure/cpu"), "\n") {
		if !strings.HasPrefix(l, "some ") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				var n int64
				if _, err := fmt.Sscanf(v, "%d", &n); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

func machineInfo(c config) machine {
	m := machine{
		CPUs:     runtime.NumCPU(),
		CPUModel: procField("/proc/cpuinfo", "model name"),
		Kernel:   firstLine(readFile("/proc/sys/kernel/osrelease")),
		Go:       runtime.Version(),
		Date:     time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		OS:       osRelease(),
	}
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		fmt.Sscanf(kb, "%d", &n)
		m.Memory = fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
	}
	m.MinIO = minioVersion()
	if out, err := exec.Command(c.aws, "--version").CombinedOutput(); err == nil {
		m.AWS = firstLine(string(out))
	}
	if out, err := exec.Command(c.lifeboat, "version").Output(); err == nil {
		m.Lifeboat = firstLine(string(out))
	}
	// scripts/bench.sh builds the binary from the working tree: name it.
	if c.rev != "" {
		m.Lifeboat += ", built from " + c.rev
	} else if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Lifeboat += ", built from the working tree at " + firstLine(string(out))
	}
	if out, err := exec.Command("df", "--output=fstype", c.dir).Output(); err == nil {
		l := strings.Fields(string(out))
		if len(l) > 0 {
			m.Filesystem = l[len(l)-1]
		}
	}
	return m
}

// minioVersion is the Go module version of the minio binary testenv runs
// (scripts/test-deps.sh builds it from the module proxy).
func minioVersion() string {
	bin := os.Getenv("LIFEBOAT_MINIO_BIN")
	if bin == "" {
		tools := os.Getenv("LIFEBOAT_TOOLS")
		if tools == "" {
			home, _ := os.UserHomeDir()
			tools = filepath.Join(home, ".cache", "lifeboat", "tools", "bin")
		}
		bin = filepath.Join(tools, "minio")
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "unknown"
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/minio/minio" {
			return "github.com/minio/minio " + f[2]
		}
	}
	return "unknown"
}

func osRelease() string {
	for _, l := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func procField(path, name string) string {
	for _, l := range strings.Split(readFile(path), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

// stats summarises one contender's samples on one object.
type stats struct {
	N                      int
	Wall, WallMin, WallMax time.Duration
	RSS, RSSMax            int64
	CPU, Transfer          time.Duration
	// Durable is the median of wall time + fsync of the output afterwards.
	Durable time.Duration
}

func summarize(ss []sample) stats {
	st := stats{N: len(ss)}
	var wall, cpu, transfer, durable []time.Duration
	var rss []int64
	for _, s := range ss {
		wall = append(wall, s.Wall)
		durable = append(durable, s.Wall+s.SyncAfter)
		cpu = append(cpu, s.CPU)
		transfer = append(transfer, s.Transfer)
		rss = append(rss, s.MaxRSS)
	}
	st.Wall, st.CPU, st.Transfer, st.RSS = median(wall), median(cpu), median(transfer), median(rss)
	st.Durable = median(durable)
	st.WallMin, st.WallMax = minOf(wall), maxOf(wall)
	st.RSSMax = maxOf(rss)
	return st
}

func median[T time.Duration | int64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := append([]T(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf[T time.Duration | int64](v []T) T {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf[T time.Duration | int64](v []T) T {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func mibps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return mib(n) / d.Seconds()
}

// report renders the Markdown section for docs/BENCHMARKS.md.
func report(m machine, a archiveSet, objs []object, tools []tool, res results, c config, rounds int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Fetch\n\n")
	w("`make bench` (`-suites fetch`), %s: %d round(s), contenders alternating who goes first; median (min–max).\n\n", m.Date, rounds)
	w("**Machine**: %d CPUs (%s), %s RAM, %s, kernel %s, %s filesystem. %s; MinIO %s; %s; lifeboat %s.\n\n",
		m.CPUs, m.CPUModel, m.Memory, m.OS, m.Kernel, orUnknown(m.Filesystem), m.Go, m.MinIO, orUnknown(m.AWS), orUnknown(m.Lifeboat))
	w("**Archive**: a real `pg_dump -Fc` archive (%s, compression: %s) of a Heroku-shaped database "+
		"(the schema of `testenv.LoadHerokuLike`, extensions in `heroku_ext`, dumped with `--exclude-schema=heroku_ext`) "+
		"plus %d tables holding %d rows of random base64 text: %s (%d bytes). Gzipped as heroku-database-backups does (%s): %s (%d bytes). "+
		"Made once and cached under `~/.cache/lifeboat/bench/v%d-%d/`.\n\n",
		a.PgDump, a.Compression, a.Tables, a.Rows, iec(a.DumpSize), a.DumpSize, a.Gzip, iec(a.GzipSize), a.GzipSize, a.Version, a.Target)
	w("**Setup**: one MinIO server on 127.0.0.1 (data on the local disk); each object uploaded with a multipart upload " +
		"(8 MiB parts, no checksum: an `md5-N` ETag, like `aws s3 cp` v1 uploads) under a heroku-database-backups key in its own prefix. ")
	w("`lifeboat fetch --app A --json` starts from an empty cache each time (the app's state directory is deleted before the run) " +
		"and does everything a scheduled refresh does: list the prefix, read the candidate's pg_dump header, " +
		"download with parallel ranged GETs (parts fsynced for resuming), verify while it downloads, following the parts on disk " +
		"(size, multipart ETag from per-part MD5s, SHA-256, gunzip for `.dump.gz`, the pg_dump archive read to its end) and store the `.dump` and its manifest. ")
	w("`aws s3 cp s3://… FILE --endpoint-url … --no-progress` (an empty AWS config file: the CLI's defaults; keys in the environment) only downloads. " +
		"Both write to the same filesystem; `sync` runs before every run; the page cache is not dropped, so MinIO serves both from memory alike. " +
		"Each child's wall time is measured from fork to exit, its peak RSS and CPU time come from `getrusage` (`ru_maxrss` of the child; " +
		"for `aws`, the Python process). Throughput is object bytes / wall time. " +
		"*+ fsync* is the wall time plus an fsync of the file the contender left behind, timed right after it exits: " +
		"lifeboat has already fsynced its `.dump`, `aws s3 cp` leaves its file in the page cache, to be written back later.\n\n")
	if c.warmup {
		w("Before the first round every contender ran once, untimed. ")
	}
	w("While the rounds ran: %s.\n\n", m.Load)
	w("Lifeboat settings:\n\n")
	for _, tl := range tools {
		w("- %s: %s\n", tl.Name, tl.Note)
	}
	w("\n")

	w("| Object | Contender | Wall time, s | Throughput, MiB/s | Peak RSS, MiB | CPU, s | + fsync, s | Lifeboat's download phase, s |\n")
	w("| --- | --- | --: | --: | --: | --: | --: | --: |\n")
	var verdicts []string
	for _, o := range objs {
		awsStats := summarize(res[o.ID]["aws s3 cp"])
		for _, tl := range tools {
			if !tl.runsOn(o) || len(res[o.ID][tl.Name]) == 0 {
				continue
			}
			st := summarize(res[o.ID][tl.Name])
			transfer := "–"
			if st.Transfer > 0 {
				transfer = fmt.Sprintf("%.2f", st.Transfer.Seconds())
			}
			w("| %s | %s | %.2f (%.2f–%.2f) | %.0f (%.0f–%.0f) | %.1f (max %.1f) | %.2f | %.2f | %s |\n",
				o.Label, tl.Name, st.Wall.Seconds(), st.WallMin.Seconds(), st.WallMax.Seconds(),
				mibps(o.Size, st.Wall), mibps(o.Size, st.WallMax), mibps(o.Size, st.WallMin),
				mib(st.RSS), mib(st.RSSMax), st.CPU.Seconds(), st.Durable.Seconds(), transfer)
			if !strings.HasPrefix(tl.Name, "lifeboat") {
				continue
			}
			ratio := awsStats.Wall.Seconds() / st.Wall.Seconds()
			speed := "**not met**"
			if ratio >= 1 {
				speed = "met"
			}
			mem := "**not met**"
			if float64(st.RSSMax) < rssTarget {
				mem = "met"
			}
			verdicts = append(verdicts, fmt.Sprintf(
				"- %s, %s: throughput lifeboat / aws = **%.2f** (medians; ≥ 1 wanted: %s), %.2f counting the fsync; peak RSS at most %.1f MiB (< 100 MB wanted: %s).",
				o.Label, tl.Name, ratio, speed, awsStats.Durable.Seconds()/st.Durable.Seconds(), mib(st.RSSMax), mem))
			if ss := res[o.ID]["aws s3 cp + gunzip"]; len(ss) > 0 {
				g := summarize(ss)
				verdicts = append(verdicts, fmt.Sprintf(
					"  - against `aws s3 cp` + `gzip -d` (the same plain `.dump` at the end, unchecked): %.2f, %.2f counting the fsync.",
					g.Wall.Seconds()/st.Wall.Seconds(), g.Durable.Seconds()/st.Durable.Seconds()))
			}
		}
	}
	w("\n")
	for _, v := range verdicts {
		w("%s\n", v)
	}
	w("\n<details><summary>Every run</summary>\n\n")
	w("| Round | Object | Contender | Wall, s | MiB/s | Peak RSS, MiB | CPU, s | fsync after, s |\n| --: | --- | --- | --: | --: | --: | --: | --: |\n")
	for r := 1; r <= rounds; r++ {
		for _, o := range objs {
			for i := range tools {
				tl := tools[(i+r-1)%len(tools)] // the order they ran in
				for _, s := range res[o.ID][tl.Name] {
					if s.Round == r {
						w("| %d | %s | %s | %.2f | %.0f | %.1f | %.2f | %.2f |\n", r, o.ID, tl.Name, s.Wall.Seconds(),
							mibps(o.Size, s.Wall), mib(s.MaxRSS), s.CPU.Seconds(), s.SyncAfter.Seconds())
					}
				}
			}
		}
	}
	w("\n</details>\n")
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
