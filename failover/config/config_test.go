package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lifeboat-dr/lifeboat/templates"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lifeboat.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaultsAndPick(t *testing.T) {
	p := write(t, `
state_dir: /srv/lifeboat
apps:
  - name: shop
    s3: {bucket: b1, prefix: backups/shop/DATABASE_URL/}
    download: {part_size: 8MiB, bandwidth_limit: 50MiB/s}
  - name: blog
    s3: {bucket: b2}
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	shop, err := c.App("shop")
	if err != nil {
		t.Fatal(err)
	}
	if shop.Cache.Dir != "/srv/lifeboat/shop/archives" || shop.Download.PartSize != 8<<20 || shop.Download.BandwidthLimit != 50<<20 ||
		shop.S3.Region != "us-east-1" || shop.Cache.Keep != 2 || shop.StateDir != "/srv/lifeboat/shop" {
		t.Fatalf("resolved: %+v", shop)
	}
	if _, err := c.App(""); !errors.Is(err, ErrNoSuchApp) || !strings.Contains(err.Error(), "shop, blog") {
		t.Fatalf("two apps and no --app: %v", err)
	}
	if _, err := c.App("nope"); !errors.Is(err, ErrNoSuchApp) {
		t.Fatalf("unknown app: %v", err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"apps:\n  - name: shop\n":                                                             "apps[shop].s3.bucket: is required",
		"apps:\n  - name: Shop!\n    s3: {bucket: b}\n":                                       "apps[Shop!].name",
		"apps:\n  - name: shop\n    s3: {bucket: b, endpoint: localhost:9000}\n":              "apps[shop].s3.endpoint",
		"apps:\n  - name: shop\n    s3: {bucket: b}\n    download: {part_size: 12 parsecs}\n": "part_size",
		"apps:\n  - name: shop\n    s3: {bucket: b, buckett: c}\n":                            "buckett",
		"state_dir: relative\napps:\n  - name: shop\n    s3: {bucket: b}\n":                   "state_dir: must be an absolute path",
		"apps: []\n": "apps: no app configured",
		"apps:\n  - name: a\n    s3: {bucket: b}\n  - name: a\n    s3: {bucket: b}\n": "used by two apps",
	}
	for body, want := range cases {
		_, err := Load(write(t, body))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: got %v, want ErrInvalid mentioning %q", body, err, want)
		}
	}
}

func TestSecretFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	os.WriteFile(creds, []byte("[default]\n"), 0o644)
	_, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b, credentials_file: "+creds+"}\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "s3.credentials_file") {
		t.Fatalf("got %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	p := write(t, "apps:\n  - name: shop-eu\n    s3: {bucket: b}\n")
	t.Setenv("LIFEBOAT_STATE_DIR", "/tmp/lb-state")
	t.Setenv("LIFEBOAT_APPS_SHOP_EU_S3_BUCKET", "from-env")
	t.Setenv("LIFEBOAT_APP_DOWNLOAD_CONCURRENCY", "3")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps[0]
	if c.StateDir != "/tmp/lb-state" || a.S3.Bucket != "from-env" || a.Download.Concurrency != 3 {
		t.Fatalf("env not applied: state_dir=%s bucket=%s concurrency=%d", c.StateDir, a.S3.Bucket, a.Download.Concurrency)
	}
	t.Setenv("LIFEBOAT_APP_DOWNLOAD_CONCURRENCY", "many")
	if _, err := Load(p); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "concurrency") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestVarsKeepTheirCase(t *testing.T) {
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    app:\n      image: x\n      vars: {RAILS_ENV: production, Mixed_Case: \"1\"}\n      serving_vars: {MAIL_ENABLED: \"true\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Apps[0].Stack
	if v.Vars["RAILS_ENV"] != "production" || v.Vars["Mixed_Case"] != "1" || v.ServingVars["MAIL_ENABLED"] != "true" {
		t.Fatalf("vars %v serving %v", v.Vars, v.ServingVars)
	}
}

// The example that `lifeboat config example` prints is a valid config once
// its secret files exist.
func TestExampleConfigIsValid(t *testing.T) {
	dir := t.TempDir()
	body := templates.ExampleConfig
	for _, f := range []string{"/etc/lifeboat/your-app.env", "/etc/lifeboat/heroku-token"} {
		p := filepath.Join(dir, filepath.Base(f))
		os.WriteFile(p, []byte("X=1\n"), 0o600)
		body = strings.ReplaceAll(body, f, p)
	}
	c, err := Load(write(t, body))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps[0]
	if a.Name != "your-app" || a.Stack.Processes["web"].Count != 1 || len(a.Database.Checks) != 1 || a.Stack.Vars["RAILS_LOG_TO_STDOUT"] != "1" {
		t.Fatalf("example resolved to %+v", a)
	}
}

// TestSecretFileMustBelongToTheUser (issue 8, item 7): a 0600 file owned by
// another user passes a mode check, but that user can rewrite it.
func TestSecretFileMustBelongToTheUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test changes a file's owner: run it as root (as CI does)")
	}
	secret := filepath.Join(t.TempDir(), "hook-secret")
	os.WriteFile(secret, []byte("0123456789abcdef0123"), 0o600)
	os.Chown(secret, 65534, -1)
	_, err := Load(write(t, "serve: {hook_secret_file: "+secret+"}\napps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "serve.hook_secret_file") || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("a 0600 hook secret owned by nobody: %v", err)
	}
}

// TestRedactedMasksVars (item 8): config check must not print config-var
// values, which hold API keys.
func TestRedactedMasksVars(t *testing.T) {
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    app:\n      image: x\n      vars: {STRIPE_KEY: sk_live_4eC39HqLyjWDarjtT1zdp7dc}\n      serving_vars: {MAIL_PASSWORD: hunter2hunter2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	b, _ := yaml.Marshal(r)
	j, _ := json.Marshal(r)
	for _, out := range []string{string(b), string(j)} {
		if strings.Contains(out, "sk_live") || strings.Contains(out, "hunter2") || !strings.Contains(out, "STRIPE_KEY") || !strings.Contains(out, Masked) {
			t.Errorf("printed config:\n%s", out)
		}
	}
	if c.Apps[0].Stack.Vars["STRIPE_KEY"] != "sk_live_4eC39HqLyjWDarjtT1zdp7dc" {
		t.Error("Redacted changed the config itself")
	}
}

// TestStateDirsMustBePrivate (item 6): a state_dir or cache.dir that other
// users may write to is refused, naming the key.
func TestStateDirsMustBePrivate(t *testing.T) {
	open := filepath.Join(t.TempDir(), "state")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	_, err := Load(write(t, "state_dir: "+open+"\napps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "state_dir: ") || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("a world-writable state_dir: %v", err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	os.Mkdir(cache, 0o770)
	os.Chmod(cache, 0o770)
	_, err = Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    cache: {dir: "+cache+"}\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "apps[shop].cache.dir") {
		t.Fatalf("a group-writable cache.dir: %v", err)
	}
}

func TestLimitsAndFreeSpace(t *testing.T) {
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Apps[0].FetchLimits()
	if l.KeepFree.Percent != 10 || l.MaxUnpackedSize != 0 || l.MaxRatio != 200 || l.Dump.MaxTOCSize != 32<<20 || l.Dump.MaxFieldSize != 16<<20 {
		t.Fatalf("default limits: %+v", l)
	}
	c, err = Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    cache: {min_free: 20GiB}\n    download: {max_unpacked_size: 50GiB, max_toc_size: 256MiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Apps[0].FetchLimits(); l.KeepFree.Bytes != 20<<30 || l.MaxUnpackedSize != 50<<30 || l.Dump.MaxTOCSize != 256<<20 {
		t.Fatalf("limits: %+v", l)
	}
	for body, want := range map[string]string{
		"    cache: {min_free: 95%}\n":               "cache.min_free",
		"    cache: {min_free: lots}\n":              "cache.min_free",
		"    download: {max_toc_size: 1KiB}\n":       "download.max_toc_size",
		"    download: {max_field_size: 2GiB}\n":     "download.max_field_size",
		"    download: {max_unpack_ratio: 1}\n":      "download.max_unpack_ratio",
		"    download: {max_unpacked_size: -1GiB}\n": "max_unpacked_size",
	} {
		if _, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n"+body)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", body, err, want)
		}
	}
	if _, err := Load(write(t, "serve: {github_signatures: true}\napps:\n  - name: shop\n    s3: {bucket: b}\n")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "serve.github_signatures") {
		t.Errorf("github_signatures without a secret: %v", err)
	}
}

// `config check` prints Redacted() as YAML: the defaults that apply must be
// in it, not the zero values (analyze: null, "on": [], profile: "").
func TestResolvedConfigShowsDefaults(t *testing.T) {
	t.Setenv("AWS_PROFILE", "")
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`\n\s+analyze: true\n`, `\n\s+"on":\n\s+- failure\n`, `\n\s+profile: default\n`} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("resolved config lacks %q:\n%s", want, out)
		}
	}
	for _, zero := range []string{"analyze: null", `"on": []`, `profile: ""`} {
		if strings.Contains(string(out), zero) {
			t.Errorf("resolved config shows %s", zero)
		}
	}

	// Set values win over the defaults; the SDK's own $AWS_PROFILE is the
	// profile's default.
	t.Setenv("AWS_PROFILE", "backups")
	c, err = Load(write(t, "notify: {on: [success]}\napps:\n  - name: shop\n    s3: {bucket: b}\n    database: {analyze: false}\n  - name: blog\n    s3: {bucket: b, profile: blog}\n"))
	if err != nil {
		t.Fatal(err)
	}
	red := c.Redacted()
	if a := red.Apps[0]; a.Database.AnalyzeEnabled() || a.S3.Profile != "backups" || red.Apps[1].S3.Profile != "blog" || strings.Join(red.Notify.On, ",") != "success" {
		t.Errorf("analyze %v, profiles %q %q, notify.on %v", *a.Database.Analyze, a.S3.Profile, red.Apps[1].S3.Profile, red.Notify.On)
	}
	// The AWS SDK gets no profile it was not given: one set explicitly would
	// take precedence over AWS_ACCESS_KEY_ID.
	if c.Apps[0].S3.Profile != "" {
		t.Errorf("s3.profile resolved to %q in the config itself", c.Apps[0].S3.Profile)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Load(write(t, `
log_levl: info
apps:
  - name: shop
    s3: {buckt: b}
    bucket: b
    cache: {keep: many}
    download: {part_size: 12 parsecs}
`))
	var ie *InvalidError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want an *InvalidError wrapping ErrInvalid", err)
	}
	want := []Problem{
		{"apps[shop].bucket", "is a section (glacier_after, glacier_class, expire_after, abort_multipart_after, check, arn_partition), not a value (did you mean s3.bucket or mirror.bucket?)"},
		{"apps[shop].cache.keep", `"many" is not a whole number`},
		{"apps[shop].download.part_size", `"12 parsecs" is not a size (use e.g. 16MiB, 512KB or a number of bytes)`},
		{"apps[shop].s3.bucket", "is required (the bucket your backup job writes to)"},
		{"apps[shop].s3.buckt", "unknown key (did you mean bucket?)"},
		{"log_levl", "unknown key (did you mean log_level?)"},
	}
	if len(ie.Problems) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d of them", err, len(want))
	}
	for i := range want {
		if ie.Problems[i] != want[i] {
			t.Errorf("problem %d: got %+v, want %+v", i, ie.Problems[i], want[i])
		}
	}
	if !strings.HasPrefix(err.Error(), ie.Path+": invalid config:\n  apps[shop].bucket: is a section") {
		t.Errorf("one style, path first:\n%v", err)
	}
}

func TestResolveSaysWhereConfigsAreSearched(t *testing.T) {
	t.Setenv("LIFEBOAT_CONFIG", "")
	_, err := Resolve("nope.yaml")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope.yaml (from --config) does not exist") ||
		!strings.Contains(err.Error(), "LIFEBOAT_CONFIG, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml") {
		t.Fatalf("--config nope.yaml: %v", err)
	}
	t.Setenv("LIFEBOAT_CONFIG", "/nonexistent/lifeboat.yaml")
	if _, err := Resolve(""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "(from LIFEBOAT_CONFIG) does not exist") {
		t.Fatalf("LIFEBOAT_CONFIG pointing nowhere: %v", err)
	}
}
