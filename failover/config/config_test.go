package config

import (
	"errors"
	"github.com/lifeboat-dr/lifeboat/templates"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"16MiB": 16 << 20, "1.5GiB": 3 << 29, "512KB": 512000, "50MiB/s": 50 << 20, "1048576": 1 << 20, "0": 0} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil {
		t.Error("want an error for 'lots'")
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
