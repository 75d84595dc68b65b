// Command demo runs Lifeboat end to end on this machine against local
// stand-ins for the real services: a MinIO server playing the S3 bucket that
// heroku-database-backups fills, and a throwaway Postgres cluster playing the
// Heroku database whose archives land there. It narrates each lifeboat
// command it runs. Start it with `make demo`, which installs what it needs.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

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

	step("Writing lifeboat.yaml")
	state := filepath.Join(t.Dir(), "state")
	os.RemoveAll(state)
	creds := s3.WriteCredentialsFile(t, t.TempDir())
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
`, state, bucket, prefix, s3.Endpoint, creds)
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
	step("S3 goes down: fetch says so, and names what the VPS already has")
	s3.Stop(t)
	lb(1, "fetch")

	step("Done")
	fmt.Printf("  The verified archive is %s\n  Config and state are under %s\n", cached[0], t.Dir())
	return 0
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
