package config

import (
	"regexp"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// Capture sources (capture.source).
const (
	// CaptureOff: Lifeboat makes no archives; a backup job fills the bucket.
	CaptureOff = ""
	// CapturePgDump: pg_dump against a database URL, in a Postgres
	// container of the server's major version.
	CapturePgDump = "pg_dump"
	// CaptureHeroku: Heroku PGBackups through the Heroku Data API.
	CaptureHeroku = "heroku"
)

// Capture configures `lifeboat capture`: Lifeboat makes the archives
// itself and stores them in the app's bucket (s3.bucket, s3.prefix), in the
// layout heroku-database-backups uses and `fetch` reads.
type Capture struct {
	// Source is "pg_dump", "heroku", or empty (no capture).
	Source string `mapstructure:"source" json:"source" yaml:"source"`
	// DatabaseURLFile holds the database URL pg_dump connects to (mode
	// 0600), e.g. a follower's postgres://… URL. Without it, pg_dump's URL
	// is the config var Database, asked from the Heroku Platform API
	// (app.heroku) at each run.
	DatabaseURLFile string `mapstructure:"database_url_file" json:"database_url_file" yaml:"database_url_file"`
	// Database is the Heroku config var of the database (default
	// DATABASE_URL): it names the archives, as heroku-database-backups does,
	// and picks the database on Heroku.
	Database string `mapstructure:"database" json:"database" yaml:"database"`
	// DataAPIURL is the Heroku Data API (source heroku).
	DataAPIURL string `mapstructure:"data_api_url" json:"data_api_url" yaml:"data_api_url"`
	// Poll is how often a Heroku backup in progress is asked about.
	Poll units.Duration `mapstructure:"poll" json:"poll" yaml:"poll"`
	// HerokuApp names the archives (default app.heroku.app, else the app's name).
	HerokuApp string `mapstructure:"heroku_app" json:"heroku_app" yaml:"heroku_app"`
	// Gzip wraps the dump in gzip (.dump.gz) for readers that expect it.
	Gzip bool `mapstructure:"gzip" json:"gzip" yaml:"gzip"`
	// Image is the pg_dump image; "auto" is postgres:{server major}.
	Image string `mapstructure:"image" json:"image" yaml:"image"`
	// PartSize and Concurrency shape the multipart upload: at most
	// Concurrency × PartSize of the dump is in memory, and an archive can
	// be 10,000 × PartSize at most.
	PartSize    units.ByteSize `mapstructure:"part_size" json:"part_size" yaml:"part_size"`
	Concurrency int            `mapstructure:"concurrency" json:"concurrency" yaml:"concurrency"`
	// MinInterval: a capture hook (POST /hooks/{app}/capture) within this
	// long of the last successful capture's start, or during a capture, is
	// answered "skipped" and starts nothing.
	MinInterval units.Duration `mapstructure:"min_interval" json:"min_interval" yaml:"min_interval"`
	// MaxAge: `check` fails when the last successful capture is older.
	MaxAge units.Duration `mapstructure:"max_age" json:"max_age" yaml:"max_age"`
	// Encrypt encrypts the archive on this machine before it is uploaded.
	Encrypt CaptureEncrypt `mapstructure:"encrypt" json:"encrypt" yaml:"encrypt"`
}

// CaptureEncrypt is client-side encryption of captured archives.
type CaptureEncrypt struct {
	// Recipients are age public keys (age1…, from age-keygen); the archive
	// (.dump.age) opens with any of their identities (s3.identity_file).
	Recipients []string `mapstructure:"recipients" json:"recipients" yaml:"recipients"`
}

// Enabled reports whether Lifeboat captures the app's archives.
func (c Capture) Enabled() bool { return c.Source != CaptureOff }

func (a *App) applyCaptureDefaults() {
	c := &a.Capture
	if c.Database == "" {
		c.Database = "DATABASE_URL"
	}
	if c.HerokuApp == "" {
		c.HerokuApp = a.Stack.Heroku.App
	}
	if c.HerokuApp == "" {
		c.HerokuApp = a.Name
	}
	if c.Image == "" {
		c.Image = "auto"
	}
	if c.DataAPIURL == "" {
		c.DataAPIURL = "https://api.data.heroku.com"
	}
	if c.Poll == 0 {
		c.Poll = units.Duration(5 * time.Second)
	}
	if c.PartSize == 0 {
		c.PartSize = 16 << 20
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.MinInterval == 0 {
		c.MinInterval = units.Duration(15 * time.Minute)
	}
	if c.MaxAge == 0 {
		c.MaxAge = units.Duration(26 * time.Hour)
	}
}

var (
	configVarRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,99}$`)
	imageRefSpace = regexp.MustCompile(`\s`)
)

func validateCapture(c Capture, h Heroku, key string, add func(key, format string, args ...any)) {
	herokuAPI := h.App != "" && h.TokenFile != ""
	switch c.Source {
	case CaptureOff:
		return
	case CapturePgDump:
		if c.DatabaseURLFile != "" {
			if err := checkSecretFile(c.DatabaseURLFile); err != nil {
				add(key+".database_url_file", "%v", err)
			}
		} else if !herokuAPI {
			add(key+".database_url_file", "is required with source pg_dump (a file of mode 0600 holding the postgres:// URL), unless app.heroku.app and app.heroku.token_file let Lifeboat ask Heroku for capture.database at each run")
		}
	case CaptureHeroku:
		if !herokuAPI {
			add(key+".source", "heroku needs app.heroku.app and app.heroku.token_file (the Heroku app and an API token, mode 0600)")
		}
		if !strings.HasPrefix(c.DataAPIURL, "https://") && !strings.HasPrefix(c.DataAPIURL, "http://") {
			add(key+".data_api_url", "must be a URL, got %q", c.DataAPIURL)
		}
		if c.Poll.D() < 100*time.Millisecond {
			add(key+".poll", "must be at least 100ms, got %s", c.Poll)
		}
	default:
		add(key+".source", "must be pg_dump or heroku, or left out (no capture), got %q", c.Source)
	}
	if !configVarRE.MatchString(c.Database) {
		add(key+".database", "must be a config var name such as DATABASE_URL or HEROKU_POSTGRESQL_NAVY_URL, got %q", c.Database)
	}
	if !appNameRE.MatchString(c.HerokuApp) {
		add(key+".heroku_app", "must be a Heroku app name (lower-case letters, digits and -), got %q", c.HerokuApp)
	}
	if c.Image == "" || imageRefSpace.MatchString(c.Image) {
		add(key+".image", "must be an image reference such as postgres:16, or auto")
	}
	if c.PartSize < 5<<20 || c.PartSize > 5<<30 {
		add(key+".part_size", "must be between 5MiB and 5GiB (S3's part limits), got %s", c.PartSize)
	}
	if len(c.Encrypt.Recipients) > 0 {
		if _, err := crypt.Recipients(c.Encrypt.Recipients); err != nil {
			add(key+".encrypt.recipients", "%v", err)
		}
	}
	if c.MinInterval.D() < time.Minute {
		// Archive names have minute resolution: two captures in a minute
		// would want the same key.
		add(key+".min_interval", "must be at least 1m (archive names have minute resolution), got %s", c.MinInterval)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		add(key+".concurrency", "must be between 1 and 64, got %d", c.Concurrency)
	}
}

// validateKeyFiles checks s3.identity_file and s3.passphrase_file: private
// files holding what they should.
func validateKeyFiles(s S3, key string, add func(key, format string, args ...any)) {
	if s.IdentityFile != "" {
		if _, err := crypt.LoadKeys(s.IdentityFile, ""); err != nil {
			add(key+".identity_file", "%v", err)
		}
	}
	if s.PassphraseFile != "" {
		if _, err := crypt.LoadKeys("", s.PassphraseFile); err != nil {
			add(key+".passphrase_file", "%v", err)
		}
	}
}
