// Command bench is Lifeboat's benchmark harness, run by `make bench`
// (scripts/bench.sh, which installs MinIO, PostgreSQL, awscli and the
// Postgres image first and builds bin/lifeboat). It runs the suites named by
// -suites (default all), each against what a user would otherwise do, on
// the same machine, in the same run:
//
//   - fetch: `lifeboat fetch --json` into an empty cache against `aws s3 cp`
//     of the same object (a .dump and a .dump.gz on a local MinIO server);
//   - restore: `lifeboat restore --archive FILE --json` against a bare
//     `docker run postgres:15` + `pg_restore --jobs N` of the same archive;
//   - failover: `lifeboat failover --json` of a warm standby (refreshed
//     beforehand, with the example app), then `failback --complete`, on a
//     demo-size archive and on the large one;
//   - refresh: `lifeboat refresh --force --json` from a fresh state against
//     the same done by hand (`aws s3 cp` + `gzip -d`, a Postgres container +
//     `pg_restore --jobs N`, `docker run` of the app until /health answers);
//   - capture: `lifeboat capture --json` of a local cluster holding the large
//     archive (plain, and age-encrypted) against `pg_dump -Fc` to a file
//     then `aws s3 cp` of it.
//
// It makes (once, then caches under ~/.cache/lifeboat/bench/) a real
// pg_dump custom-format archive of at least -size bytes from a local
// PostgreSQL cluster, and its gzipped copy. Every suite runs -rounds rounds
// (default: 5 for fetch and failover, 3 for restore, refresh and capture), rotating
// which contender goes first, and records each child's wall time and peak
// RSS (getrusage, through a runner: see run). It prints a Markdown section
// per suite for docs/BENCHMARKS.md on stdout and writes each to
// DIR/SUITE.md (and all of them to -out, when given).
//
//	go run ./internal/bench -lifeboat bin/lifeboat [-suites fetch,restore,failover,refresh,cold,capture] [-rounds N] [-size 1GiB] [-jobs 2]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// bucket is the MinIO bucket the archives are uploaded to.
const bucket = "heroku-backups"

// suiteNames are the suites in the order they run.
var suiteNames = []string{"fetch", "restore", "failover", "refresh", "cold", "capture"}

// defaultRounds is each suite's number of rounds when -rounds is not given:
// the restore and the refresh of a 1 GiB archive take a minute a round.
var defaultRounds = map[string]int{"fetch": 5, "restore": 3, "failover": 5, "refresh": 3, "cold": 3, "capture": 3}

func main() {
	if os.Getenv(runnerEnv) == "1" {
		runMeasured(os.Args[1:])
	}
	bin := flag.String("lifeboat", "bin/lifeboat", "the lifeboat binary to measure")
	suitesFlag := flag.String("suites", strings.Join(suiteNames, ","), "suites to run, comma-separated: "+strings.Join(suiteNames, ", "))
	rounds := flag.Int("rounds", 0, "rounds per suite; each runs every contender once (default: fetch 5, restore 3, failover 5, refresh 3, capture 3)")
	sizeFlag := flag.String("size", "1GiB", "least size of the pg_dump archive (e.g. 1GiB, 64MiB)")
	objects := flag.String("objects", "gz,dump", "fetch: objects to fetch: gz (KEY.dump.gz, as heroku-database-backups uploads) and/or dump (plain KEY.dump)")
	tune := flag.String("tune", "", "fetch: extra lifeboat settings to measure besides the defaults, as CONCURRENCYxPART_SIZE, comma-separated (e.g. 8x32MiB,16x8MiB)")
	jobs := flag.Int("jobs", 2, "restore, refresh: pg_restore --jobs, on both sides (lifeboat's database.jobs)")
	pgImage := flag.String("postgres-image", "postgres:15", "restore, failover, refresh: the Postgres image of both sides (lifeboat's database.image auto resolves to it; scripts/build-postgres-image.sh tags it)")
	awsBin := flag.String("aws", "", "the aws CLI (default: aws on PATH; a pyenv shim is resolved)")
	dir := flag.String("dir", ".cache/bench", "work directory (MinIO data, lifeboat state, aws output)")
	out := flag.String("out", "", "also write the whole Markdown report here (each suite's section is always written to DIR/SUITE.md)")
	warmup := flag.Bool("warmup", true, "run each contender once, untimed, before the first round (restore: on the demo-size archive)")
	rev := flag.String("rev", "", "what the lifeboat binary was built from, for the report (default: `git describe --always --dirty` here)")
	hold := flag.Bool("hold", false, "fetch: after the rounds, keep MinIO running and print how to reach it, until interrupted (for profiling)")
	archiveOnly := flag.Bool("archive-only", false, "only make (or find cached) the archive of -size and the demo-size one, then exit: no Docker, no lifeboat binary (start it early, beside other work)")
	flag.Parse()

	size, err := parseSize(*sizeFlag)
	if err != nil {
		usage(err)
	}
	if *rounds < 0 {
		usage(fmt.Errorf("-rounds must be at least 1"))
	}
	if *jobs < 1 || *jobs > 64 {
		usage(fmt.Errorf("-jobs must be 1-64"))
	}
	suites, err := parseSuites(*suitesFlag)
	if err != nil {
		usage(err)
	}
	if *archiveOnly {
		os.Exit(makeArchivesOnly(*dir, size))
	}
	variants := []variant{{Name: "default", Default: true}}
	if *tune != "" {
		for _, s := range strings.Split(*tune, ",") {
			v, err := parseVariant(strings.TrimSpace(s))
			if err != nil {
				usage(err)
			}
			variants = append(variants, v)
		}
	}
	var kinds []string
	for _, k := range strings.Split(*objects, ",") {
		k = strings.TrimSpace(k)
		if k != "gz" && k != "dump" {
			usage(fmt.Errorf("-objects: unknown object %q (gz, dump)", k))
		}
		kinds = append(kinds, k)
	}
	lb, err := filepath.Abs(*bin)
	if err != nil {
		usage(err)
	}
	if _, err := os.Stat(lb); err != nil {
		usage(fmt.Errorf("%v (run `make build` first, or use scripts/bench.sh)", err))
	}
	aws, err := resolveAWS(*awsBin)
	if err != nil {
		usage(err)
	}

	env, err := testenv.NewStandalone(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	// Ctrl-C: stop MinIO and Postgres, remove the benchmark's containers
	// (registered as cleanups) before leaving.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		logf("interrupted: stopping the servers, removing the containers")
		env.Close()
		os.Exit(130)
	}()
	code := bench(env, config{
		lifeboat: lb, aws: aws, suites: suites, roundsFlag: *rounds, size: size, kinds: kinds,
		variants: variants, out: *out, dir: *dir, warmup: *warmup, hold: *hold, rev: *rev,
		jobs: *jobs, pgImage: *pgImage,
	})
	env.Close()
	os.Exit(code)
}

func usage(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	flag.Usage()
	os.Exit(2)
}

func parseSuites(s string) ([]string, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(suiteNames, name) {
			return nil, fmt.Errorf("-suites: unknown suite %q (%s)", name, strings.Join(suiteNames, ", "))
		}
		want[name] = true
	}
	var out []string
	for _, name := range suiteNames {
		if want[name] {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-suites: no suite named")
	}
	return out, nil
}

type config struct {
	lifeboat, aws string
	suites        []string
	roundsFlag    int
	size          int64
	kinds         []string
	variants      []variant
	out, dir, rev string
	warmup, hold  bool
	jobs          int
	pgImage       string
}

// rounds is how many rounds suite runs.
func (c config) rounds(suite string) int {
	if c.roundsFlag > 0 {
		return c.roundsFlag
	}
	return defaultRounds[suite]
}

// variant is a lifeboat download configuration.
type variant struct {
	Name        string
	Default     bool // the config leaves download.* unset
	Concurrency int
	PartSize    int64
}

// app is the lifeboat app (in the generated config) that fetches object o
// with this variant.
func (v variant) app(o object) string { return o.ID + "-" + v.Name }

func parseVariant(s string) (variant, error) {
	c, p, ok := strings.Cut(s, "x")
	if !ok {
		return variant{}, fmt.Errorf("-tune %q: want CONCURRENCYxPART_SIZE, e.g. 8x32MiB", s)
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 1 || n > 256 {
		return variant{}, fmt.Errorf("-tune %q: concurrency must be 1-256", s)
	}
	ps, err := parseSize(p)
	if err != nil {
		return variant{}, fmt.Errorf("-tune %q: %v", s, err)
	}
	name := fmt.Sprintf("c%d-p%d", n, ps>>10)
	return variant{Name: name, Concurrency: n, PartSize: ps}, nil
}

// object is one uploaded archive.
type object struct {
	ID    string // gz, dump or demo: the lifeboat app name's prefix
	Label string // for the report
	Key   string
	Size  int64
}

// prefix is the S3 prefix that holds only this object.
func (o object) prefix() string { return filepath.Dir(o.Key) + "/" }

// results holds every sample, by object ID, then tool name.
type results map[string]map[string][]sample

// bench runs the suites and writes their reports.
func bench(t *testenv.Standalone, c config) (code int) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(testenv.ErrFatal)
			if !ok {
				panic(r)
			}
			fmt.Fprintln(os.Stderr, "bench failed:", f.Msg)
			code = 1
		}
	}()
	l := newLab(t, c)
	var all strings.Builder
	for _, suite := range c.suites {
		logf("=== suite %s: %d round(s)", suite, c.rounds(suite))
		var md string
		switch suite {
		case "fetch":
			md = fetchSuite(l)
		case "restore":
			md = restoreSuite(l)
		case "failover":
			md = failoverSuite(l)
		case "refresh":
			md = refreshSuite(l)
		case "cold":
			md = coldSuite(l)
		case "capture":
			md = captureSuite(l)
		}
		path := filepath.Join(c.dir, suite+".md")
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		logf("wrote %s", path)
		fmt.Print(md, "\n")
		all.WriteString(md + "\n")
	}
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.out, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		logf("wrote %s", c.out)
	}
	if c.hold && l.s3 != nil {
		logf("holding MinIO at %s for you; interrupt to stop it", l.s3.Endpoint)
		for _, h := range l.holdHints {
			fmt.Fprintln(os.Stderr, "  "+h)
		}
		select {}
	}
	return 0
}

// fetchSuite times `lifeboat fetch` against `aws s3 cp` of the same objects.
func fetchSuite(l *lab) string {
	t, c := l.t, l.c
	rounds := c.rounds("fetch")
	var objs []object
	for _, k := range c.kinds {
		objs = append(objs, l.object(k))
	}

	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cfg := writeLifeboatConfig(t, work, stateDir, l.minio(), objs, c.variants)
	c.variants = resolveDefaults(t, c.lifeboat, cfg, objs[0], c.variants)
	awsConfig, s3env := l.awsEnv()
	awsOut := filepath.Join(work, "aws-out")
	if err := os.MkdirAll(awsOut, 0o755); err != nil {
		t.Fatal(err)
	}
	endpoint := l.minio().Endpoint
	var tools []tool
	for _, v := range c.variants {
		tools = append(tools, lifeboatTool(c.lifeboat, cfg, stateDir, v))
	}
	tools = append(tools, awsTool(c.aws, endpoint, awsConfig, awsOut, s3env),
		awsGunzipTool(c.aws, endpoint, awsConfig, awsOut, s3env))

	if c.warmup {
		logf("warm-up (untimed): each contender once on %s", objs[0].Key)
		for _, tl := range tools {
			if !tl.runsOn(objs[0]) {
				continue
			}
			if _, err := tl.run(objs[0], 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	res := results{}
	load := startLoad()
	for r := 1; r <= rounds; r++ {
		for _, o := range objs {
			// Alternate who goes first: rotate the contenders by round.
			for i := range tools {
				tl := tools[(i+r-1)%len(tools)]
				if !tl.runsOn(o) {
					continue
				}
				s, err := tl.run(o, r)
				if err != nil {
					t.Fatalf("round %d, %s, %s: %v", r, o.ID, tl.Name, err)
				}
				s.Round = r
				if res[o.ID] == nil {
					res[o.ID] = map[string][]sample{}
				}
				res[o.ID][tl.Name] = append(res[o.ID][tl.Name], s)
				logf("round %d/%d  %-5s %-24s %6.2fs  %7.1f MiB/s  peak RSS %6.1f MiB  CPU %5.2fs",
					r, rounds, o.ID, tl.Name, s.Wall.Seconds(), mibps(o.Size, s.Wall), mib(s.MaxRSS), s.CPU.Seconds())
			}
		}
	}

	m := machineInfo(c)
	m.Load = load.stop()
	l.holdHints = append(l.holdHints,
		fmt.Sprintf("%s --config %s fetch --app %s --json", c.lifeboat, cfg, c.variants[0].app(objs[0])),
		fmt.Sprintf("env AWS_CONFIG_FILE=%s %s %s s3 cp s3://%s/%s /tmp/x --endpoint-url %s",
			awsConfig, strings.Join(s3env, " "), c.aws, bucket, objs[0].Key, endpoint))
	return report(m, l.arch, objs, tools, res, c, rounds)
}

// writeLifeboatConfig writes a lifeboat.yaml with one app per (object,
// variant): each app's prefix holds only its object, so that `lifeboat
// fetch --app A` goes the whole way a scheduled refresh goes (list, pick the
// newest by its pg_dump header, download, verify, store).
func writeLifeboatConfig(t *testenv.Standalone, dir, stateDir string, s3 *testenv.S3, objs []object, vs []variant) string {
	creds := s3.WriteCredentialsFile(t, dir)
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir: %s\napps:\n", stateDir)
	for _, o := range objs {
		for _, v := range vs {
			fmt.Fprintf(&b, `  - name: %s
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      region: %s
      credentials_file: %s
    cache:
      keep: 1
`, v.app(o), bucket, o.prefix(), s3.Endpoint, s3.Region, creds)
			if !v.Default {
				fmt.Fprintf(&b, "    download:\n      concurrency: %d\n      part_size: %d\n", v.Concurrency, v.PartSize)
			}
		}
	}
	path := filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
