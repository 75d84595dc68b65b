package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// appImage is the tag the example app's image is built under for the
// failover and refresh suites.
const appImage = "lifeboat-bench/exampleapp:latest"

// bareLabel labels the containers, volumes and networks the by-hand
// contenders create (io.lifeboat.app=bench-bare), so that the end of the
// run, or an interrupted one, finds and removes them like lifeboat's own.
const bareLabel = "bench-bare"

// lab is what the suites share: the archives, and the servers and images,
// made or started when a suite first needs them and stopped or removed by
// the Standalone's cleanups.
type lab struct {
	t *testenv.Standalone
	c config
	// arch is the large archive (-size); demo the demo-size one.
	arch archiveSet
	demo *archiveSet
	s3   *testenv.S3
	// objs are the uploaded objects, by kind (gz, dump, demo).
	objs      map[string]object
	eng       *engine.Engine
	appBuilt  bool
	awsConfig string
	// holdHints are the commands -hold prints.
	holdHints []string
}

func newLab(t *testenv.Standalone, c config) *lab {
	l := &lab{t: t, c: c, objs: map[string]object{}}
	l.arch = loadOrMakeArchive(t, c.size)
	return l
}

// minio starts the MinIO server and creates the bucket, once.
func (l *lab) minio() *testenv.S3 {
	if l.s3 == nil {
		logf("starting MinIO")
		l.s3 = testenv.StartS3(l.t)
		l.s3.CreateBucket(l.t, bucket)
	}
	return l.s3
}

// object uploads the archive of kind gz (the large .dump.gz), dump (the
// large .dump), demo or demo-gz (the demo-size ones), once, under a
// heroku-database-backups key in a prefix of its own.
func (l *lab) object(kind string) object {
	if o, ok := l.objs[kind]; ok {
		return o
	}
	s3 := l.minio()
	captured := time.Now().UTC().Add(-time.Hour)
	o := object{ID: kind}
	var path string
	switch kind {
	case "gz":
		path = l.arch.gzipPath()
		o.Label = fmt.Sprintf("`.dump.gz`, %s", iec(fileSize(path)))
	case "dump":
		path = l.arch.dumpPath()
		o.Label = fmt.Sprintf("`.dump`, %s", iec(fileSize(path)))
	case "demo":
		path = l.demoArchive().dumpPath()
		o.Label = fmt.Sprintf("demo-size `.dump`, %s", iec(fileSize(path)))
	case "demo-gz":
		path = l.demoArchive().gzipPath()
		o.Label = fmt.Sprintf("demo-size `.dump.gz`, %s", iec(fileSize(path)))
	default:
		l.t.Fatalf("unknown object kind %q", kind)
	}
	// heroku-database-backups names: {APP}/{DATABASE}/DATE_TZ__{APP}_{DATABASE}.dump[.gz]
	gz := strings.HasSuffix(path, ".gz")
	o.Key = "backups/" + testenv.HerokuKey("bench-"+kind, "DATABASE_URL", captured, "UTC", gz)
	o.Size = fileSize(path)
	t0 := time.Now()
	// Multipart, 8 MiB parts and no checksum: what `aws s3 cp` (v1)
	// in heroku-database-backups uploads.
	s3.PutFile(l.t, bucket, o.Key, path)
	logf("uploaded s3://%s/%s (%s, %.1fs)", bucket, o.Key, iec(o.Size), time.Since(t0).Seconds())
	l.objs[kind] = o
	return o
}

// awsEnv returns an empty AWS config file (the CLI's defaults) and the
// environment that points the aws CLI at MinIO.
func (l *lab) awsEnv() (configFile string, env []string) {
	s3 := l.minio()
	if l.awsConfig == "" {
		l.awsConfig = filepath.Join(l.t.TempDir(), "aws-config")
		if err := os.WriteFile(l.awsConfig, nil, 0o600); err != nil {
			l.t.Fatal(err)
		}
	}
	return l.awsConfig, []string{
		"AWS_ACCESS_KEY_ID=" + s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3.SecretKey,
		"AWS_DEFAULT_REGION=" + s3.Region,
	}
}

// demoArchive is the demo-size archive, made (and cached) when first needed.
func (l *lab) demoArchive() archiveSet {
	if l.demo == nil {
		a := loadOrMakeDemoArchive(l.t)
		l.demo = &a
	}
	return *l.demo
}

// engine connects to the Docker Engine, once.
func (l *lab) engine() *engine.Engine {
	if l.eng == nil {
		eng, err := engine.New(l.t.Context())
		if err != nil {
			l.t.Fatal(err)
		}
		l.eng = eng
		l.t.Cleanup(func() { eng.Close() })
	}
	return l.eng
}

// exampleApp builds the example app's image (internal/exampleapp, FROM
// scratch, with its Procfile: web, worker, release), once, and returns its tag.
func (l *lab) exampleApp() string {
	if !l.appBuilt {
		root, err := imagebuild.ModuleRoot()
		if err != nil {
			l.t.Fatal(err)
		}
		t0 := time.Now()
		if err := imagebuild.ExampleApp(l.t.Context(), l.engine(), root, appImage); err != nil {
			l.t.Fatal(err)
		}
		logf("built %s (%.1fs)", appImage, time.Since(t0).Seconds())
		l.appBuilt = true
	}
	return appImage
}

// track removes every Docker object of these apps now (leftovers of an
// earlier, interrupted run) and again when the benchmark ends.
func (l *lab) track(apps ...string) {
	for _, app := range apps {
		l.removeDocker(app)
		l.t.Cleanup(func() {
			// Also runs on Ctrl-C, while an interrupted lifeboat may still
			// be discarding its generation: try again, report, do not panic.
			var err error
			for try := 0; try < 5; try++ {
				if err = l.tryRemoveDocker(app); err == nil {
					return
				}
				time.Sleep(time.Second)
			}
			logf("%v", err)
		})
	}
}

// removeDocker removes every container (with its anonymous volumes),
// volume and network labelled io.lifeboat.app=app: lifeboat has no command
// that deletes a generation, and the by-hand contenders label theirs alike.
func (l *lab) removeDocker(app string) {
	if err := l.tryRemoveDocker(app); err != nil {
		l.t.Fatal(err)
	}
}

// tryRemoveDocker is removeDocker returning its error.
func (l *lab) tryRemoveDocker(app string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng := l.engine()
	filter := map[string]string{engine.LabelApp: app}
	var errs []error
	cs, err := eng.ListContainers(ctx, filter, true)
	errs = append(errs, err)
	for _, c := range cs {
		errs = append(errs, ignoreNotFound(eng.RemoveContainer(ctx, c.ID, true)))
	}
	vs, err := eng.ListVolumes(ctx, filter)
	errs = append(errs, err)
	for _, v := range vs {
		errs = append(errs, ignoreNotFound(eng.RemoveVolume(ctx, v.Name)))
	}
	ns, err := eng.ListNetworks(ctx, filter)
	errs = append(errs, err)
	for _, n := range ns {
		errs = append(errs, ignoreNotFound(eng.RemoveNetwork(ctx, n.Name)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the Docker objects of %s: %w", app, err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return err
}

// resetApp removes an app's Docker objects and its state directory (but
// its data template and image facts, which a host keeps per image), then
// syncs, so that the next run starts from nothing and does not pay for the
// writeback of the previous one.
func (l *lab) resetApp(app, stateDir string) error {
	l.removeDocker(app)
	dir := filepath.Join(stateDir, app)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, e := range entries {
		// What a host keeps per image, not per run: the data directory
		// template of the Postgres image and what was read out of the app
		// image (made by the warm-up), as the image itself stays.
		if e.Name() == "templates" || e.Name() == "image-facts.json" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	syscall.Sync()
	return nil
}

// primeTemplate makes app's data template as a host has it before any
// refresh or failover (a host makes it once per image): an untimed
// `lifeboat restore` of the demo-size archive, then resetApp, which keeps
// the template. Without it the first timed round of a suite that removes
// the state directory also pays for making it (about 5 s), which a
// one-round run cannot leave out of its median.
func (l *lab) primeTemplate(cfg, app, stateDir string) {
	if err := l.resetApp(app, stateDir); err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command(l.c.lifeboat, "--config", cfg, "restore", "--app", app, "--archive", l.demoArchive().dumpPath(), "--json")
	cmd.Env = cleanEnv()
	if _, out, err := run(cmd); err != nil {
		l.t.Fatalf("%s: making the data template: %v %s", app, err, tail(string(out), 10))
	}
	if err := l.resetApp(app, stateDir); err != nil {
		l.t.Fatal(err)
	}
}

// warmFile reads a file to its end, so that whoever reads it next finds it
// in the page cache (every contender then starts from the same cache).
func warmFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// httpStatus GETs url and returns the status code (0 when unreachable).
func httpStatus(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// dockerInfo describes the Docker Engine and the Postgres image, for the report.
func dockerInfo(image string) string {
	var parts []string
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})").Output(); err == nil {
		parts = append(parts, "Docker Engine "+firstLine(string(out)))
	}
	if out, err := exec.Command("docker", "image", "inspect", "--format",
		`{{.Id}} {{index .Config.Labels "io.lifeboat.postgres-version"}}`, image).Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) >= 1 {
			id := strings.TrimPrefix(f[0], "sha256:")
			if len(id) > 12 {
				id = id[:12]
			}
			s := fmt.Sprintf("image `%s` (%s", image, id)
			if len(f) >= 2 {
				s += fmt.Sprintf(", Debian's postgresql-15 %s: `lifeboat/postgres:15`, built by scripts/build-postgres-image.sh", f[1])
			}
			parts = append(parts, s+")")
		}
	}
	return strings.Join(parts, "; ")
}
