// Command demo runs Lifeboat end to end on this machine against local
// stand-ins for the real services: an S3 server in this process (gofakes3,
// see bucketServer) playing the bucket that heroku-database-backups fills,
// and a throwaway Postgres cluster playing the Heroku database whose
// archives land there. It narrates each lifeboat command it runs, and with
// -keep leaves the standby running to explore. Start it with `make demo`
// (scripts/demo.sh), which installs what it needs first.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	keep := flag.Bool("keep", false, "leave the standby's containers running at the end, to explore them with bin/lifeboat")
	clean := flag.Bool("clean", false, "only remove the Docker objects a demo left (after -keep), then exit")
	flag.Parse()
	if *clean {
		if err := removeKept(); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return
	}
	d, err := testenv.NewStandalone(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	code := demo(d, *bin, *keep)
	d.Close()
	os.Exit(code)
}

const (
	bucket = "heroku-backups"
	// app is the demo app's name in lifeboat.yaml: not the tests' "shop",
	// so that a standby kept with -keep and the e2e tests never share a
	// container name.
	app = "demo-shop"
)

func demo(t *testenv.Standalone, bin string, keep bool) (code int) {
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
	started := time.Now()
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin = abs
	step("Starting a local S3 server to stand in for the backup bucket")
	accessKey := "demo-" + strings.ToLower(rand.Text()[:12])
	srv, err := startBucketServer(accessKey)
	if err != nil {
		t.Fatal(err)
	}
	s3 := testenv.UseS3(t, srv.Endpoint, accessKey, rand.Text(), srv)
	s3.CreateBucket(t, bucket)
	fmt.Printf("  %s, bucket %s (an S3 API served by this demo; Lifeboat talks to it as to AWS)\n", s3.Endpoint, bucket)

	step("Making real pg_dump archives of a Heroku-shaped database (schemas app, billing; extensions in heroku_ext)")
	pg := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, pg, "shop", 5000)
	counts := pg.RowCounts(t, "shop")
	fmt.Printf("  source database: %d tables, %d rows in app.accounts\n", len(counts), counts["app.accounts"])
	archiveBytes := pg.Dump(t, "shop", "--exclude-schema=heroku_ext")

	step("Uploading them under heroku-database-backups keys, with the usual clutter")
	prefix := "backups/" + app + "/DATABASE_URL/"
	now := time.Now().UTC()
	key := func(ago time.Duration, gz bool) string {
		return prefix + filepath.Base(testenv.HerokuKey(app, "DATABASE_URL", now.Add(-ago), "UTC", gz))
	}
	// Each archive's pg_dump header says it was captured when its name says.
	captured := func(ago time.Duration) []byte {
		return testenv.Gzip(t, testenv.WithCreatedAt(t, archiveBytes, now.Add(-ago).Truncate(time.Minute)))
	}
	legacy := prefix + now.Add(-50*time.Hour).Format("2006-01-02-15-04") + "-" + app + "-DATABASE_URL.dump.gz"
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
	if err := removeDocker(t.Context(), eng); err != nil { // leftovers of an earlier demo
		t.Fatal(err)
	}

	step("A stand-in for the Internet, for the drill's egress probe: a server on a Docker network the demo creates")
	probe, control := startWorld(t, eng, appImage)
	fmt.Printf("  lifeboat-%s: the example app's web, published at %s\n", world, probe)
	fmt.Printf("  from a container on an ordinary Docker network (one with egress): %s\n", control)
	if strings.HasPrefix(control, "connected") {
		fmt.Println("  A drill runs on an internal network: the same connection must fail from inside it.")
	} else {
		fmt.Println("  NOTE: even a network with egress cannot reach it on this machine (Docker runs without its")
		fmt.Println("  userland proxy?), so the drill's \"no egress\" check below proves less than it should here.")
	}

	step("Writing lifeboat.yaml")
	state := filepath.Join(t.Dir(), "state")
	os.RemoveAll(state)
	creds := s3.WriteCredentialsFile(t, t.Dir())
	envFile := filepath.Join(t.Dir(), app+".env")
	if err := os.WriteFile(envFile, []byte("# config vars on the VPS (mode 0600)\nRAILS_ENV=production\nMAIL_API_KEY=not-on-the-standby\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	publish := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(t.Dir(), "lifeboat.yaml")
	body := fmt.Sprintf(`state_dir: %s
apps:
  - name: %s
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
      # This machine may have no Internet: the demo's stand-in for it, which
      # a Docker network with egress reaches (shown above).
      egress_probes: ["%s"]
    app:
      image: %s
      port: 5000
      health: {path: /health, timeout: 60s}
      publish: %s
      env_file: %s
      drop_vars: [MAIL_API_KEY]
`, state, app, bucket, prefix, s3.Endpoint, creds, probe, appImage, publish, envFile)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("  %s (the credentials file and the .env file beside it are mode 0600):\n\n", cfg)
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		fmt.Printf("    %s\n", line)
	}
	// Every command below finds the config the way a user's would.
	fmt.Printf("\n$ export LIFEBOAT_CONFIG=%s\n", cfg)

	lb := func(want int, args ...string) {
		t.Helper()
		fmt.Printf("\n$ lifeboat %s\n", strings.Join(args, " "))
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LIFEBOAT_CONFIG="+cfg)
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
			t.Fatalf("lifeboat %s exited %d, expected %d", strings.Join(args, " "), got, want)
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
	cached, _ := filepath.Glob(filepath.Join(state, app, "archives", "*.dump"))
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
	showEgressCheck(t, state, probe, control)
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
	lb(0, "refresh") // does nothing while serving, and says why

	step("AWS is back: failback dumps the standby's data and says how to bring it home")
	lb(0, "failback")
	lb(0, "failback", "--complete")

	step(fmt.Sprintf("Done in %s", time.Since(started).Round(time.Second)))
	fmt.Printf("  Config and state are under %s\n", t.Dir())
	fmt.Printf("  The drill's evidence page: %s (open it in a browser)\n", reportHTML)
	explore := fmt.Sprintf("LIFEBOAT_CONFIG=%s %s", cfg, relToWD(bin))
	if keep {
		fmt.Printf("\n  The standby is still running (its database and web container). Go on exploring:\n\n")
		fmt.Printf("    %s ps\n\n", explore)
		fmt.Println("  and generations, drills, report latest, db psql, check, failover --dry-run… (`help` lists them).")
		fmt.Println("  The demo's S3 server stopped with it: what reads the bucket reports an outage, as above.")
		fmt.Println("  `make demo-clean` removes the demo's containers, volumes and networks; the next `make demo` does too.")
		return 0
	}
	if err := removeDocker(t.Context(), eng); err != nil {
		t.Fatal(err)
	}
	fmt.Println("  The demo's containers, volumes and networks were removed; the records stay:")
	fmt.Printf("\n    %s drills\n\n", explore)
	fmt.Println("  To leave the standby running and explore it (ps, db psql, check…): make demo KEEP=1")
	return 0
}

// relToWD returns path relative to the working directory when it is below
// it (bin/lifeboat), else path.
func relToWD(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// showEgressCheck prints the drill's "no egress" check next to the control
// made before: the same address, reached from a network with egress, not
// from the drill's.
func showEgressCheck(t *testenv.Standalone, state, probe, control string) {
	reports, _ := filepath.Glob(filepath.Join(state, app, "drills", "*.json"))
	if len(reports) == 0 {
		t.Fatalf("no drill report under %s", state)
	}
	b, err := os.ReadFile(reports[len(reports)-1]) // ids sort by time
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Checks []struct {
			Kind, Detail string
			OK           bool
		}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checks {
		if c.Kind == "egress" {
			fmt.Printf("\n  The drill's egress check (ok: %v): %s\n", c.OK, c.Detail)
			fmt.Printf("  The control, from an ordinary Docker network, to the same %s: %s\n", probe, control)
			return
		}
	}
	t.Fatalf("the drill report %s has no egress check", reports[len(reports)-1])
}

// show prints what the app answers, at url or at the web URL the stack record holds.
func show(t *testenv.Standalone, state, title, url string) {
	fmt.Printf("\n  %s:\n", title)
	if url == "" {
		var rec struct {
			WebURL string `json:"web_url"`
		}
		b, err := os.ReadFile(filepath.Join(state, app, "stack.json"))
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

// removeKept removes the Docker objects of the demo's app, for -clean.
func removeKept() error {
	ctx := context.Background()
	eng, err := engine.New(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := removeDocker(ctx, eng); err != nil {
		return err
	}
	fmt.Printf("removed the Docker objects labelled %s=%s or %s\n", engine.LabelApp, app, world)
	return nil
}

// removeDocker removes every Docker object of the demo's app, and those
// that played the outside world.
func removeDocker(ctx context.Context, eng *engine.Engine) error {
	return errors.Join(removeLabelled(ctx, eng, app), removeLabelled(ctx, eng, world))
}

func removeLabelled(ctx context.Context, eng *engine.Engine, appLabel string) error {
	filter := map[string]string{engine.LabelApp: appLabel}
	var errs []error
	cs, err := eng.ListContainers(ctx, filter, true)
	errs = append(errs, err)
	for _, c := range cs {
		errs = append(errs, eng.RemoveContainer(ctx, c.ID, true))
	}
	vs, err := eng.ListVolumes(ctx, filter)
	errs = append(errs, err)
	for _, v := range vs {
		errs = append(errs, eng.RemoveVolume(ctx, v.Name))
	}
	ns, err := eng.ListNetworks(ctx, filter)
	errs = append(errs, err)
	for _, n := range ns {
		errs = append(errs, eng.RemoveNetwork(ctx, n.Name))
	}
	return errors.Join(errs...)
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
