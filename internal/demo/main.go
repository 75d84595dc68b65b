// Command demo runs Lifeboat end to end on this machine against local
// stand-ins for the real services: a MinIO server playing the S3 bucket that
// heroku-database-backups fills, and a throwaway Postgres cluster playing the
// Heroku database whose archives land there. It narrates each lifeboat
// command it runs. Start it with `make demo`, which installs what it needs.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func main() {
	bin := flag.String("lifeboat", "bin/lifeboat", "the lifeboat binary to demonstrate")
	dir := flag.String("dir", ".cache/demo", "where the demo keeps its config, state and servers")
	flag.Parse()
	d, err := testenv.NewStandalone(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	code := demo(d, *bin)
	d.Close()
	os.Exit(code)
}

const bucket = "heroku-backups"

func demo(t *testenv.Standalone, bin string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(testenv.ErrFatal)
			if !ok {
				panic(r)
			}
			fmt.Fprintln(os.Stderr, "demo failed:", f.Msg)
			code = 1
		}
	}()
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin = abs
	step("Starting a local S3 server (MinIO) to stand in for the backup bucket")
	s3 := testenv.StartS3(t)
	s3.CreateBucket(t, bucket)
	fmt.Printf("  %s, bucket %s\n", s3.Endpoint, bucket)

	step("Making real pg_dump archives of a Heroku-shaped database (schemas app, billing; extensions in heroku_ext)")
	pg := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, pg, "shop", 5000)
	counts := pg.RowCounts(t, "shop")
	fmt.Printf("  source database: %d tables, %d rows in app.accounts\n", len(counts), counts["app.accounts"])
	archiveBytes := pg.Dump(t, "shop", "--exclude-schema=heroku_ext")

	step("Uploading them under heroku-database-backups keys, with the usual clutter")
	prefix := "backups/shop/DATABASE_URL/"
	now := time.Now().UTC()
	key := func(ago time.Duration, gz bool) string {
		return prefix + filepath.Base(testenv.HerokuKey("shop", "DATABASE_URL", now.Add(-ago), "UTC", gz))
	}
	// Each archive's pg_dump header says it was captured when its name says.
	captured := func(ago time.Duration) []byte {
		return testenv.Gzip(t, testenv.WithCreatedAt(t, archiveBytes, now.Add(-ago).Truncate(time.Minute)))
	}
	legacy := prefix + now.Add(-50*time.Hour).Format("2006-01-02-15-04") + "-shop-DATABASE_URL.dump.gz"
	newest := key(time.Hour, true)
	gz := captured(time.Hour)
	sum := sha256.Sum256(gz)
	cutShort := key(30*time.Minute, true)
	zeroByte := key(10*time.Minute, true)
	uploads := []struct {
		key  string
		body []byte
		note string
	}{
		{legacy, captured(50 * time.Hour), "legacy (pre-2020) naming scheme"},
		{key(26*time.Hour, true), captured(26 * time.Hour), "yesterday's backup"},
		{newest, gz, "the newest good backup"},
		{newest + ".sha256", []byte(hex.EncodeToString(sum[:]) + "  " + filepath.Base(newest) + "\n"), "its checksum sidecar"},
		{cutShort, captured(30 * time.Minute)[:len(gz)/3], "a newer upload that was cut short"},
		{zeroByte, nil, "a zero-byte object from a failed upload"},
	}
	for _, u := range uploads {
		s3.Put(t, bucket, u.key, u.body, testenv.WithSHA256Checksum())
		fmt.Printf("  %-80s %s\n", strings.TrimPrefix(u.key, prefix), u.note)
	}

	step("Building the app's image (a small Heroku-style Go app, FROM scratch: no registry needed)")
	eng, err := engine.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	const appImage = "lifeboat-demo/shop:latest"
	if err := imagebuild.ExampleApp(t.Context(), eng, root, appImage); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("  %s (Procfile: web, worker, release)\n", appImage)
	removeDocker(t, eng) // leftovers of an earlier demo

	step("Writing lifeboat.yaml")
	state := filepath.Join(t.Dir(), "state")
	os.RemoveAll(state)
	creds := s3.WriteCredentialsFile(t, t.Dir())
	envFile := filepath.Join(t.Dir(), "shop.env")
	if err := os.WriteFile(envFile, []byte("# config vars on the VPS (mode 0600)\nRAILS_ENV=production\nMAIL_API_KEY=not-on-the-standby\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	publish := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(t.Dir(), "lifeboat.yaml")
	body := fmt.Sprintf(`state_dir: %s
apps:
  - name: shop
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      credentials_file: %s
      timeout: 5s
    cache:
      keep: 2
    download:
      concurrency: 4
      part_size: 1MiB
    database:
      image: auto          # postgres:15, from the archive's header
      checks:
        - name: accounts exist
          sql: select count(*) > 0 from app.accounts
    rto_target: 15m
    rpo_target: 26h
    drill:
      # The demo machine has no Internet: probe the standby's own network instead
      # (a drill's network must not reach it either).
      egress_probes: ["%s"]
    app:
      image: %s
      port: 5000
      health: {path: /health, timeout: 60s}
      publish: %s
      env_file: %s
      drop_vars: [MAIL_API_KEY]
`, state, bucket, prefix, s3.Endpoint, creds, s3Probe(s3.Endpoint), appImage, publish, envFile)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("  %s\n", cfg)

	lb := func(want int, args ...string) {
		t.Helper()
		args = append([]string{"--config", cfg}, args...)
		fmt.Printf("\n$ lifeboat %s\n", strings.Join(args[2:], " "))
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		err := cmd.Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("(exit %d)\n", got)
		if got != want {
			t.Fatalf("lifeboat %s exited %d, expected %d", strings.Join(args[2:], " "), got, want)
		}
	}
	step("Lifeboat: what is in the bucket, and which archive would it pick?")
	lb(0, "config", "check")
	lb(0, "archives")
	step("Lifeboat: fetch the newest valid archive, verified, into the local cache")
	fmt.Println("  (the cut-short upload looks like an archive until it is read to the end: fetch")
	fmt.Println("   falls back to the newest one that verifies, and exits 1 so that someone looks)")
	lb(1, "fetch")
	step("Someone removes the failed uploads; fetch has nothing left to do")
	for _, k := range []string{cutShort, zeroByte} {
		if _, err := s3.Client.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	cached, _ := filepath.Glob(filepath.Join(state, "shop", "archives", "*.dump"))
	if len(cached) != 1 {
		t.Fatalf("expected one cached archive, found %v", cached)
	}
	lb(0, "inspect", cached[0])
	lb(0, "fetch")

	step("The nightly job: refresh restores a new verified database generation and boots the app on it")
	lb(0, "refresh")
	lb(0, "generations")
	lb(0, "ps")
	show(t, state, "The standby app answers (over its internal network; nothing is published while waiting)", "")

	step("A DR drill: restore and boot in an isolated network, timed, with an evidence report")
	lb(0, "drill", "--triggered-by", "make demo")
	reportHTML := filepath.Join(t.Dir(), "drill-report.html")
	lb(0, "report", "latest", "--html", reportHTML)
	lb(0, "drills")
	step("The chain as a whole")
	lb(0, "check")

	step("AWS is down: S3 is unreachable; fetch says so, and names what the VPS already has")
	s3.Stop(t)
	lb(1, "fetch")
	step("Failover: serve from what is on the VPS")
	lb(0, "failover", "--dry-run")
	lb(0, "failover")
	show(t, state, "Users now reach the app on "+publish, "http://"+publish+"/")
	lb(1, "refresh")

	step("AWS is back: failback dumps the standby's data and says how to bring it home")
	lb(0, "failback")
	lb(0, "failback", "--complete")

	step("Done")
	fmt.Printf("  Config and state are under %s\n", t.Dir())
	fmt.Printf("  The drill's evidence page: %s (open it in a browser)\n", reportHTML)
	removeDocker(t, eng)
	fmt.Println("  The demo's containers, volumes and networks were removed.")
	return 0
}

// show prints what the app answers, at url or at the web URL the stack record holds.
func show(t *testenv.Standalone, state, title, url string) {
	fmt.Printf("\n  %s:\n", title)
	if url == "" {
		var rec struct {
			WebURL string `json:"web_url"`
		}
		b, err := os.ReadFile(filepath.Join(state, "shop", "stack.json"))
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil || rec.WebURL == "" {
			t.Fatalf("no web URL recorded: %v", err)
		}
		url = strings.TrimSuffix(rec.WebURL, "/health") + "/"
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("  $ curl %s\n  %s\n", url, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

// removeDocker removes every Docker object of the demo's app.
func removeDocker(t *testenv.Standalone, eng *engine.Engine) {
	ctx := context.Background()
	filter := map[string]string{engine.LabelApp: "shop"}
	cs, _ := eng.ListContainers(ctx, filter, true)
	for _, c := range cs {
		eng.RemoveContainer(ctx, c.ID, true)
	}
	vs, _ := eng.ListVolumes(ctx, filter)
	for _, v := range vs {
		eng.RemoveVolume(ctx, v.Name)
	}
	ns, _ := eng.ListNetworks(ctx, filter)
	for _, n := range ns {
		eng.RemoveNetwork(ctx, n.Name)
	}
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

// s3Probe is an address a drill must not reach: the local S3 server, on the
// host's loopback, stands in for "the Internet" on a machine without it.
func s3Probe(endpoint string) string {
	return strings.TrimPrefix(endpoint, "http://")
}
