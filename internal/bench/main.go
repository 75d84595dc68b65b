// Command bench is Lifeboat's fetch benchmark, run by `make bench`
// (scripts/bench.sh, which installs MinIO, PostgreSQL and awscli first and
// builds bin/lifeboat).
//
// It makes (once, then caches under ~/.cache/lifeboat/bench/) a real
// pg_dump custom-format archive of at least -size bytes from a local
// PostgreSQL cluster, and its gzipped copy; uploads both with multipart
// uploads to a local MinIO server under heroku-database-backups keys; then,
// for -rounds rounds, times `lifeboat fetch --json` into an empty cache and
// `aws s3 cp` of the same object, alternating which goes first, and records
// each child's wall time and peak RSS (getrusage). It prints a Markdown
// section for docs/BENCHMARKS.md on stdout and writes it to -out.
//
//	go run ./internal/bench -lifeboat bin/lifeboat [-rounds 5] [-size 1GiB] [-objects gz,dump] [-tune 8x32MiB]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// bucket is the MinIO bucket the archives are uploaded to.
const bucket = "heroku-backups"

func main() {
	if os.Getenv(runnerEnv) == "1" {
		runMeasured(os.Args[1:])
	}
	bin := flag.String("lifeboat", "bin/lifeboat", "the lifeboat binary to measure")
	rounds := flag.Int("rounds", 5, "rounds; each runs every contender once on every object")
	sizeFlag := flag.String("size", "1GiB", "least size of the pg_dump archive (e.g. 1GiB, 64MiB)")
	objects := flag.String("objects", "gz,dump", "objects to fetch: gz (KEY.dump.gz, as heroku-database-backups uploads) and/or dump (plain KEY.dump)")
	tune := flag.String("tune", "", "extra lifeboat settings to measure besides the defaults, as CONCURRENCYxPART_SIZE, comma-separated (e.g. 8x32MiB,16x8MiB)")
	awsBin := flag.String("aws", "", "the aws CLI (default: aws on PATH; a pyenv shim is resolved)")
	dir := flag.String("dir", ".cache/bench", "work directory (MinIO data, lifeboat state, aws output)")
	out := flag.String("out", "", "where to write the Markdown report (default DIR/fetch.md)")
	warmup := flag.Bool("warmup", true, "run each contender once, untimed, before the first round")
	rev := flag.String("rev", "", "what the lifeboat binary was built from, for the report (default: `git describe --always --dirty` here)")
	hold := flag.Bool("hold", false, "after the rounds, keep MinIO running and print how to reach it, until interrupted (for profiling)")
	flag.Parse()

	size, err := parseSize(*sizeFlag)
	if err != nil {
		usage(err)
	}
	if *rounds < 1 {
		usage(fmt.Errorf("-rounds must be at least 1"))
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
	if *out == "" {
		*out = filepath.Join(*dir, "fetch.md")
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
	// Ctrl-C: stop MinIO and Postgres before leaving.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		logf("interrupted: stopping the servers")
		env.Close()
		os.Exit(130)
	}()
	code := bench(env, config{
		lifeboat: lb, aws: aws, rounds: *rounds, size: size, kinds: kinds,
		variants: variants, out: *out, warmup: *warmup, hold: *hold, rev: *rev,
	})
	env.Close()
	os.Exit(code)
}

func usage(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	flag.Usage()
	os.Exit(2)
}

type config struct {
	lifeboat, aws string
	rounds        int
	size          int64
	kinds         []string
	variants      []variant
	out, rev      string
	warmup, hold  bool
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
	ID    string // gz or dump: the lifeboat app name's prefix
	Label string // for the report
	Key   string
	Size  int64
}

// results holds every sample, by object ID, then tool name.
type results map[string]map[string][]sample

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
	arch := loadOrMakeArchive(t, c.size)

	logf("starting MinIO")
	s3 := testenv.StartS3(t)
	s3.CreateBucket(t, bucket)
	captured := time.Now().UTC().Add(-time.Hour)
	var objs []object
	for _, k := range c.kinds {
		o := object{ID: k}
		path := arch.dumpPath()
		if k == "gz" {
			path = arch.gzipPath()
		}
		// heroku-database-backups names: {APP}/{DATABASE}/DATE_TZ__{APP}_{DATABASE}.dump[.gz]
		o.Key = "backups/" + testenv.HerokuKey("bench-"+k, "DATABASE_URL", captured, "UTC", k == "gz")
		o.Size = fileSize(path)
		o.Label = fmt.Sprintf("`.dump.gz`, %s", iec(o.Size))
		if k == "dump" {
			o.Label = fmt.Sprintf("`.dump`, %s", iec(o.Size))
		}
		t0 := time.Now()
		// Multipart, 8 MiB parts and no checksum: what `aws s3 cp` (v1)
		// in heroku-database-backups uploads.
		s3.PutFile(t, bucket, o.Key, path)
		logf("uploaded s3://%s/%s (%s, %.1fs)", bucket, o.Key, iec(o.Size), time.Since(t0).Seconds())
		objs = append(objs, o)
	}

	work := t.TempDir()
	stateDir := filepath.Join(work, "state")
	cfg := writeLifeboatConfig(t, work, stateDir, s3, objs, c.variants)
	c.variants = resolveDefaults(t, c.lifeboat, cfg, objs[0], c.variants)
	awsConfig := filepath.Join(work, "aws-config")
	if err := os.WriteFile(awsConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	awsOut := filepath.Join(work, "aws-out")
	if err := os.MkdirAll(awsOut, 0o755); err != nil {
		t.Fatal(err)
	}
	s3env := []string{
		"AWS_ACCESS_KEY_ID=" + s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3.SecretKey,
		"AWS_DEFAULT_REGION=" + s3.Region,
	}
	var tools []tool
	for _, v := range c.variants {
		tools = append(tools, lifeboatTool(c.lifeboat, cfg, stateDir, v))
	}
	tools = append(tools, awsTool(c.aws, s3.Endpoint, awsConfig, awsOut, s3env),
		awsGunzipTool(c.aws, s3.Endpoint, awsConfig, awsOut, s3env))

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
	for r := 1; r <= c.rounds; r++ {
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
					r, c.rounds, o.ID, tl.Name, s.Wall.Seconds(), mibps(o.Size, s.Wall), mib(s.MaxRSS), s.CPU.Seconds())
			}
		}
	}

	if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
		t.Fatal(err)
	}
	m := machineInfo(c)
	m.Load = load.stop()
	md := report(m, arch, objs, tools, res, c)
	fmt.Print(md)
	if err := os.WriteFile(c.out, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	logf("wrote %s", c.out)
	if c.hold {
		logf("holding MinIO at %s for you; interrupt to stop it", s3.Endpoint)
		fmt.Fprintf(os.Stderr, "  %s --config %s fetch --app %s --json\n", c.lifeboat, cfg, c.variants[0].app(objs[0]))
		fmt.Fprintf(os.Stderr, "  env AWS_CONFIG_FILE=%s %s %s s3 cp s3://%s/%s /tmp/x --endpoint-url %s\n",
			awsConfig, strings.Join(s3env, " "), c.aws, bucket, objs[0].Key, s3.Endpoint)
		select {}
	}
	return 0
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
`, v.app(o), bucket, filepath.Dir(o.Key)+"/", s3.Endpoint, s3.Region, creds)
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
