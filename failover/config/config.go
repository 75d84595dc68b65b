// Package config loads and validates lifeboat.yaml: global settings and one
// block per app. It owns the search order of the config file, the LIFEBOAT_*
// environment overrides, the defaults, and error messages that name the key.
package config

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/notify"
	"github.com/lifeboat-dr/lifeboat/failover/units"
	"github.com/lifeboat-dr/lifeboat/internal/suggest"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Named errors. Every error returned by Load wraps one of them.
var (
	// ErrNotFound: no config file at any of the searched places.
	ErrNotFound = errors.New("no config file found")
	// ErrInvalid: the file was read but a key is missing or wrong.
	ErrInvalid = errors.New("invalid config")
	// ErrNoSuchApp: --app names an app the config does not have, or it was
	// left out while several apps are configured.
	ErrNoSuchApp = errors.New("no such app")
)

// DefaultStateDir is where state lives unless state_dir says otherwise.
const DefaultStateDir = "/var/lib/lifeboat"

// SearchPaths are tried in order when neither --config nor LIFEBOAT_CONFIG is set.
var SearchPaths = []string{"./lifeboat.yaml", "/etc/lifeboat/lifeboat.yaml"}

// Config is the whole resolved config file.
type Config struct {
	// StateDir holds locks, caches, generations and reports.
	StateDir string `mapstructure:"state_dir" json:"state_dir" yaml:"state_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `mapstructure:"log_level" json:"log_level" yaml:"log_level"`
	// Apps are the apps this VPS keeps a standby of.
	Apps []App `mapstructure:"apps" json:"apps" yaml:"apps"`
	// Notify is where drill, refresh, failover and check results go.
	Notify notify.Config `mapstructure:"notify" json:"notify" yaml:"notify"`
	// Metrics configures the Prometheus textfile written after each run.
	Metrics Metrics `mapstructure:"metrics" json:"metrics" yaml:"metrics"`
	// Serve configures `lifeboat serve`.
	Serve Serve `mapstructure:"serve" json:"serve" yaml:"serve"`

	// Path is the file the config was read from.
	Path string `mapstructure:"-" json:"path" yaml:"-"`
}

// Metrics configures the metrics file.
type Metrics struct {
	// TextfileDir is node_exporter's textfile-collector directory;
	// lifeboat writes lifeboat_{app}.prom there after each run. Empty: none.
	TextfileDir string `mapstructure:"textfile_dir" json:"textfile_dir" yaml:"textfile_dir"`
}

// Serve configures the HTTP server.
type Serve struct {
	// Listen is the address of the status page, /metrics and the hooks.
	Listen string `mapstructure:"listen" json:"listen" yaml:"listen"`
	// HookSecretFile holds the key (mode 0600, at least 16 bytes) that
	// signs hook requests: X-Lifeboat-Signature: t=<unix seconds>,v1=<hex
	// HMAC-SHA256 of "<t>.<METHOD>.<path>.<body>">. Empty: hooks are disabled.
	HookSecretFile string `mapstructure:"hook_secret_file" json:"hook_secret_file" yaml:"hook_secret_file"`
	// GitHubSignatures also accepts GitHub's X-Hub-Signature-256 (an HMAC
	// of the body only, with the same key), each X-GitHub-Delivery once.
	GitHubSignatures bool `mapstructure:"github_signatures" json:"github_signatures" yaml:"github_signatures"`
	// PublicURL is how people reach the server, for links in notifications.
	PublicURL string `mapstructure:"public_url" json:"public_url" yaml:"public_url"`
}

// App is one app's settings.
type App struct {
	Name     string   `mapstructure:"name" json:"name" yaml:"name"`
	S3       S3       `mapstructure:"s3" json:"s3" yaml:"s3"`
	Cache    Cache    `mapstructure:"cache" json:"cache" yaml:"cache"`
	Download Download `mapstructure:"download" json:"download" yaml:"download"`
	Database Database `mapstructure:"database" json:"database" yaml:"database"`
	Stack    Stack    `mapstructure:"app" json:"app" yaml:"app"`
	Failback Failback `mapstructure:"failback" json:"failback" yaml:"failback"`
	// RTOTarget and RPOTarget are what drills are judged against: how long
	// a recovery may take, how old the recovered data may be.
	RTOTarget units.Duration `mapstructure:"rto_target" json:"rto_target" yaml:"rto_target"`
	RPOTarget units.Duration `mapstructure:"rpo_target" json:"rpo_target" yaml:"rpo_target"`
	Drill     Drill          `mapstructure:"drill" json:"drill" yaml:"drill"`
	Check     ChainCheck     `mapstructure:"check" json:"check" yaml:"check"`
	// Schedule is when systemd timers run the app's jobs.
	Schedule Schedule `mapstructure:"schedule" json:"schedule" yaml:"schedule"`
	// Capture is Lifeboat making the archives itself (lifeboat capture).
	Capture Capture `mapstructure:"capture" json:"capture" yaml:"capture"`
	// Bucket is the lifecycle and the checks of the bucket itself.
	Bucket Bucket `mapstructure:"bucket" json:"bucket" yaml:"bucket"`
	// Vault is the history of verified archives on the VPS.
	Vault Vault `mapstructure:"vault" json:"vault" yaml:"vault"`
	// Mirror is a second provider that gets a copy of each verified archive.
	Mirror Mirror `mapstructure:"mirror" json:"mirror" yaml:"mirror"`

	// StateDir is this app's own directory under the global state_dir.
	StateDir string `mapstructure:"-" json:"state_dir" yaml:"-"`
}

// S3 says where the app's backup archives are.
type S3 struct {
	Bucket string `mapstructure:"bucket" json:"bucket" yaml:"bucket"`
	// Prefix is the folder the backup job writes to, e.g.
	// "backups/your-app/HEROKU_POSTGRESQL_NAVY_URL/"; a missing trailing
	// "/" is added (and said).
	Prefix string `mapstructure:"prefix" json:"prefix" yaml:"prefix"`
	// Subfolders makes objects in folders below the prefix candidates too;
	// by default only objects directly in it are.
	Subfolders bool   `mapstructure:"subfolders" json:"subfolders" yaml:"subfolders"`
	Region     string `mapstructure:"region" json:"region" yaml:"region"`
	// Endpoint and PathStyle are for S3-compatible stores (MinIO, R2, B2…).
	Endpoint  string `mapstructure:"endpoint" json:"endpoint" yaml:"endpoint"`
	PathStyle bool   `mapstructure:"path_style" json:"path_style" yaml:"path_style"`
	// CredentialsFile is an AWS shared-credentials file of mode 0600; when
	// empty the AWS default chain (env, ~/.aws, instance role) is used.
	CredentialsFile string `mapstructure:"credentials_file" json:"credentials_file" yaml:"credentials_file"`
	// Profile selects the section of the credentials file. Empty lets the
	// AWS SDK pick ($AWS_PROFILE, else "default"); it is left empty here
	// because a profile set explicitly changes the SDK's precedence (it
	// would win over AWS_ACCESS_KEY_ID), and Redacted shows the one used.
	Profile string `mapstructure:"profile" json:"profile" yaml:"profile"`
	// RestoreTier and RestoreDays are used when an archive is in GLACIER or
	// DEEP_ARCHIVE: Expedited, Standard or Bulk; days the copy stays readable.
	RestoreTier string `mapstructure:"restore_tier" json:"restore_tier" yaml:"restore_tier"`
	RestoreDays int    `mapstructure:"restore_days" json:"restore_days" yaml:"restore_days"`
	// Timeout bounds each S3 request that is not a data transfer, so an
	// outage is reported in seconds.
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
	// IdentityFile holds the age identities (mode 0600) that open
	// age-encrypted archives (.dump.age, see capture.encrypt).
	IdentityFile string `mapstructure:"identity_file" json:"identity_file" yaml:"identity_file"`
	// PassphraseFile holds the passphrase (mode 0600) of symmetric gpg
	// archives (.gpg), as forks of heroku-database-backups write.
	PassphraseFile string `mapstructure:"passphrase_file" json:"passphrase_file" yaml:"passphrase_file"`
}

// Cache is the local archive cache on the VPS.
type Cache struct {
	// Dir defaults to {state_dir}/{app}/archives.
	Dir string `mapstructure:"dir" json:"dir" yaml:"dir"`
	// Keep is how many verified archives to keep (newest first).
	Keep int `mapstructure:"keep" json:"keep" yaml:"keep"`
	// MinFree is the room a fetch leaves free on the cache's file system,
	// for the database volumes that usually share it: a share ("10%") or a
	// size ("20GiB").
	MinFree units.FreeSpace `mapstructure:"min_free" json:"min_free" yaml:"min_free"`
}

// Download tunes the transfer from S3.
type Download struct {
	Concurrency int            `mapstructure:"concurrency" json:"concurrency" yaml:"concurrency"`
	PartSize    units.ByteSize `mapstructure:"part_size" json:"part_size" yaml:"part_size"`
	// BandwidthLimit caps the transfer rate in bytes per second; 0 means none.
	BandwidthLimit units.ByteSize `mapstructure:"bandwidth_limit" json:"bandwidth_limit" yaml:"bandwidth_limit"`
	// Retries is how often a failed part is tried again.
	Retries int `mapstructure:"retries" json:"retries" yaml:"retries"`
	// CheckedCandidates caps how many objects are opened to read their
	// pg_dump header when looking for the newest valid archive.
	CheckedCandidates int `mapstructure:"checked_candidates" json:"checked_candidates" yaml:"checked_candidates"`
	// MaxUnpackedSize stops a fetch whose dump grows past it; 0: no limit
	// (cache.min_free still applies).
	MaxUnpackedSize units.ByteSize `mapstructure:"max_unpacked_size" json:"max_unpacked_size" yaml:"max_unpacked_size"`
	// MaxUnpackRatio stops unpacking a gzip once the dump is this many
	// times the object bytes read (past the first 64MiB): a decompression bomb.
	MaxUnpackRatio float64 `mapstructure:"max_unpack_ratio" json:"max_unpack_ratio" yaml:"max_unpack_ratio"`
	// MaxTOCSize and MaxFieldSize bound the memory the pg_dump reader may
	// use for an archive's table of contents, and for one string of it.
	MaxTOCSize   units.ByteSize `mapstructure:"max_toc_size" json:"max_toc_size" yaml:"max_toc_size"`
	MaxFieldSize units.ByteSize `mapstructure:"max_field_size" json:"max_field_size" yaml:"max_field_size"`
}

// DumpLimits are the pg_dump reader's limits of this config.
func (d Download) DumpLimits() dump.Limits {
	return dump.Limits{MaxTOCSize: int64(d.MaxTOCSize), MaxFieldSize: int64(d.MaxFieldSize)}
}

// FetchLimits are what one archive may cost a fetch of this app.
func (a *App) FetchLimits() archive.Limits {
	bytes, percent, _ := a.Cache.MinFree.Parse()
	return archive.Limits{
		Dump:            a.Download.DumpLimits(),
		MaxUnpackedSize: int64(a.Download.MaxUnpackedSize),
		MaxRatio:        a.Download.MaxUnpackRatio,
		KeepFree:        archive.FreeSpace{Bytes: bytes, Percent: percent},
		AllowPlainSQL:   a.Database.AllowPlainSQL,
	}
}

// Database is how the standby database is restored and verified.
type Database struct {
	// Image is the Postgres image; "auto" picks postgres:{major} from the
	// archive header's server version.
	Image string `mapstructure:"image" json:"image" yaml:"image"`
	// Name is the database the archive is restored into (default: the app name).
	Name string `mapstructure:"name" json:"name" yaml:"name"`
	// Jobs is pg_restore --jobs; 0 means the number of CPUs.
	Jobs int `mapstructure:"jobs" json:"jobs" yaml:"jobs"`
	// Publish, e.g. "127.0.0.1:5433", publishes the current generation's
	// port on the host (127.0.0.1 only). Empty: not published.
	Publish string `mapstructure:"publish" json:"publish" yaml:"publish"`
	// KeepGenerations is how many previous verified generations are kept
	// (stopped) for rollback.
	KeepGenerations int `mapstructure:"keep_generations" json:"keep_generations" yaml:"keep_generations"`
	// ReadyTimeout bounds the wait for a new database container to accept
	// connections.
	ReadyTimeout units.Duration `mapstructure:"ready_timeout" json:"ready_timeout" yaml:"ready_timeout"`
	// RestoreTimeout bounds pg_restore; 0 means no limit.
	RestoreTimeout units.Duration `mapstructure:"restore_timeout" json:"restore_timeout" yaml:"restore_timeout"`
	// ExpectedErrors are regular expressions; pg_restore errors matching one
	// of them do not fail the generation (they are still reported).
	ExpectedErrors []string `mapstructure:"expected_errors" json:"expected_errors" yaml:"expected_errors"`
	// Analyze runs ANALYZE after the restore so the app gets good plans.
	Analyze *bool `mapstructure:"analyze" json:"analyze" yaml:"analyze"`
	// DataTemplate starts each new generation from a data directory
	// initialized once per image (default true) instead of running initdb.
	DataTemplate *bool `mapstructure:"data_template" json:"data_template" yaml:"data_template"`
	// Amcheck verifies every B-tree index with the amcheck extension.
	Amcheck bool `mapstructure:"amcheck" json:"amcheck" yaml:"amcheck"`
	// ShmSize is the container's /dev/shm (parallel queries need more than
	// Docker's 64MiB default).
	ShmSize units.ByteSize `mapstructure:"shm_size" json:"shm_size" yaml:"shm_size"`
	// Checks are the app's own SQL checks: each must return a single true.
	Checks []Check `mapstructure:"checks" json:"checks" yaml:"checks"`
	// Drift is how much row counts may change since the previous verified
	// restore; Expect the minimums the data must hold.
	Drift  Drift  `mapstructure:"drift" json:"drift" yaml:"drift"`
	Expect Expect `mapstructure:"expect" json:"expect" yaml:"expect"`
	// AllowPlainSQL restores plain-SQL dumps (pg_dump -Fp) with psql
	// -v ON_ERROR_STOP=1. Off by default: a plain dump is a script that
	// can only be verified by running it, with a superuser's rights in the
	// database container.
	AllowPlainSQL bool `mapstructure:"allow_plain_sql" json:"allow_plain_sql" yaml:"allow_plain_sql"`
}

// Stack is the app itself: its image, processes and config vars.
type Stack struct {
	// Image is the app's image: any registry, or a local tag. Empty: no app
	// stack (database only).
	Image string `mapstructure:"image" json:"image" yaml:"image"`
	// Processes are the Procfile's process types with their commands and
	// counts. Empty: the image's Procfile.
	Processes map[string]Process `mapstructure:"processes" json:"processes" yaml:"processes"`
	// StandbyProcesses run while the standby waits (not serving). Default:
	// web only; workers start at failover, so that a standby never works off
	// jobs of the restored database.
	StandbyProcesses []string `mapstructure:"standby_processes" json:"standby_processes" yaml:"standby_processes"`
	// Release runs before the processes start and must succeed ("" = the
	// Procfile's release, if any; "none" = no release phase).
	Release string `mapstructure:"release" json:"release" yaml:"release"`
	// Port is the port web listens on inside the container ($PORT).
	Port int `mapstructure:"port" json:"port" yaml:"port"`
	// Health is how web is known to be up.
	Health Health `mapstructure:"health" json:"health" yaml:"health"`
	// Publish is where web is published on the host while serving, e.g.
	// "0.0.0.0:80" (failover) — the address users reach after the DNS change.
	Publish string `mapstructure:"publish" json:"publish" yaml:"publish"`
	// EnvFile holds config vars (KEY=VALUE lines, mode 0600).
	EnvFile string `mapstructure:"env_file" json:"env_file" yaml:"env_file"`
	// Heroku snapshots the config vars from the Heroku Platform API on refresh.
	Heroku Heroku `mapstructure:"heroku" json:"heroku" yaml:"heroku"`
	// DropVars are removed on the standby (e.g. a mail API key).
	DropVars []string `mapstructure:"drop_vars" json:"drop_vars" yaml:"drop_vars"`
	// Vars override or add config vars on the standby.
	Vars map[string]string `mapstructure:"vars" json:"vars" yaml:"vars"`
	// ServingVars override config vars while serving (after failover).
	ServingVars map[string]string `mapstructure:"serving_vars" json:"serving_vars" yaml:"serving_vars"`
}

// Enabled reports whether the app has a stack to run.
func (s Stack) Enabled() bool { return s.Image != "" }

// Process is one Procfile process type.
type Process struct {
	Command string `mapstructure:"command" json:"command" yaml:"command"`
	Count   int    `mapstructure:"count" json:"count" yaml:"count"`
}

// Health configures web's health check.
type Health struct {
	Path     string         `mapstructure:"path" json:"path" yaml:"path"`
	Timeout  units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
	Interval units.Duration `mapstructure:"interval" json:"interval" yaml:"interval"`
}

// Heroku is the Heroku Platform API access used for config-var snapshots.
type Heroku struct {
	// App is the Heroku app name.
	App string `mapstructure:"app" json:"app" yaml:"app"`
	// TokenFile holds an API token (mode 0600).
	TokenFile string `mapstructure:"token_file" json:"token_file" yaml:"token_file"`
	// APIURL defaults to https://api.heroku.com.
	APIURL string `mapstructure:"api_url" json:"api_url" yaml:"api_url"`
}

// Drill configures `lifeboat drill`.
type Drill struct {
	// Retention is how many drill reports are kept; MaxAge drops older ones (0: none).
	Retention int            `mapstructure:"retention" json:"retention" yaml:"retention"`
	MaxAge    units.Duration `mapstructure:"max_age" json:"max_age" yaml:"max_age"`
	// EgressProbes are host:port addresses a drill's network must not
	// reach (tried from inside it).
	EgressProbes []string `mapstructure:"egress_probes" json:"egress_probes" yaml:"egress_probes"`
}

// ChainCheck configures `lifeboat check`, the check of the whole chain.
type ChainCheck struct {
	// MaxArchiveAge: the newest archive in S3 must be younger.
	MaxArchiveAge units.Duration `mapstructure:"max_archive_age" json:"max_archive_age" yaml:"max_archive_age"`
	// MinSizeRatio: the newest archive is suspicious below this fraction of
	// the median size of the recent ones.
	MinSizeRatio float64 `mapstructure:"min_size_ratio" json:"min_size_ratio" yaml:"min_size_ratio"`
	// MaxRefreshAge and MaxDrillAge: the last refresh and the last drill
	// must have succeeded within these.
	MaxRefreshAge units.Duration `mapstructure:"max_refresh_age" json:"max_refresh_age" yaml:"max_refresh_age"`
	MaxDrillAge   units.Duration `mapstructure:"max_drill_age" json:"max_drill_age" yaml:"max_drill_age"`
}

// ScheduleOff disables a scheduled job.
const ScheduleOff = "off"

// Default schedules: the refresh an hour or two after a nightly backup job,
// the drill once a week after that refresh, the check every hour.
const (
	DefaultRefreshSchedule = "*-*-* 04:00:00 UTC"
	DefaultDrillSchedule   = "Sun *-*-* 06:00:00 UTC"
	DefaultCheckSchedule   = "*-*-* *:30:00"
	// DefaultCaptureSchedule is off: most apps already have a backup job
	// filling the bucket; an app whose archives Lifeboat makes sets it.
	DefaultCaptureSchedule = ScheduleOff
)

// Schedule is when the app's jobs run, as systemd timers
// (`lifeboat schedule install`). Each job is a systemd calendar event (the
// syntax of OnCalendar=, see systemd.time(7)), or "off".
type Schedule struct {
	Refresh string `mapstructure:"refresh" json:"refresh" yaml:"refresh"`
	Drill   string `mapstructure:"drill" json:"drill" yaml:"drill"`
	Check   string `mapstructure:"check" json:"check" yaml:"check"`
	// Capture runs `lifeboat capture` (off by default): set it an hour or
	// two before Refresh.
	Capture string `mapstructure:"capture" json:"capture" yaml:"capture"`
	// RandomizedDelay starts each run at a random moment up to this long
	// after its time (RandomizedDelaySec=, fixed per machine), so that the
	// VPSes of a team do not all hit the bucket at once. Default 10m; 0s
	// for none.
	RandomizedDelay *units.Duration `mapstructure:"randomized_delay" json:"randomized_delay" yaml:"randomized_delay"`
	// Timeout bounds a scheduled refresh or drill (TimeoutStartSec=):
	// systemd stops a run that takes longer (Lifeboat cleans up on SIGTERM),
	// so a hung run cannot block the next ones. Default 12h.
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// Jobs returns the scheduled jobs by name (refresh, drill, check), with
// their calendar events; "off" ones included.
func (s Schedule) Jobs() []ScheduledJob {
	return []ScheduledJob{{"refresh", s.Refresh}, {"drill", s.Drill}, {"check", s.Check}, {"capture", s.Capture}}
}

// ScheduledJob is one job of a Schedule.
type ScheduledJob struct {
	Name     string
	Calendar string
}

// Off reports whether the job is disabled.
func (j ScheduledJob) Off() bool { return j.Calendar == ScheduleOff }

// Failback configures `lifeboat failback`.
type Failback struct {
	// S3Prefix, when set, uploads the failback dump to the app's bucket under it.
	S3Prefix string `mapstructure:"s3_prefix" json:"s3_prefix" yaml:"s3_prefix"`
}

// Check is a named SQL query that must return one row with one true value.
type Check struct {
	Name string `mapstructure:"name" json:"name" yaml:"name"`
	SQL  string `mapstructure:"sql" json:"sql" yaml:"sql"`
}

// AnalyzeEnabled reports whether ANALYZE runs after a restore (default true).
func (d Database) AnalyzeEnabled() bool { return d.Analyze == nil || *d.Analyze }

// DataTemplateEnabled reports whether new generations start from a data
// directory template (default true).
func (d Database) DataTemplateEnabled() bool { return d.DataTemplate == nil || *d.DataTemplate }

// Resolve returns the config file path to use: the explicit one, then
// LIFEBOAT_CONFIG, then the first of SearchPaths that exists. A path given
// by --config or LIFEBOAT_CONFIG must exist. Errors wrap ErrNotFound and say
// where configs are searched.
func Resolve(explicit string) (string, error) {
	where := "looked at --config, LIFEBOAT_CONFIG, " + strings.Join(SearchPaths, ", ")
	for _, given := range []struct{ path, from string }{{explicit, "--config"}, {os.Getenv("LIFEBOAT_CONFIG"), "LIFEBOAT_CONFIG"}} {
		if given.path == "" {
			continue
		}
		if _, err := os.Stat(given.path); err != nil {
			return "", fmt.Errorf("%w: %s (from %s) does not exist (configs are searched in this order: --config, LIFEBOAT_CONFIG, %s)",
				ErrNotFound, given.path, given.from, strings.Join(SearchPaths, ", "))
		}
		return given.path, nil
	}
	for _, p := range SearchPaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (%s): copy the example with `lifeboat config example > lifeboat.yaml` and edit it",
		ErrNotFound, where)
}

// Problem is one thing wrong with a config file, named by its key
// (apps[NAME].s3.bucket); Key is empty when the file as a whole is wrong.
type Problem struct {
	Key     string `json:"key"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// InvalidError is every problem found in one config file, reported at
// once: unknown keys (with the key meant, when one is close), values of
// the wrong type, and the checks of Validate. It wraps ErrInvalid.
type InvalidError struct {
	Path     string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(ErrInvalid.Error() + ":")
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(path string, problems ...Problem) error {
	return &InvalidError{Path: path, Problems: problems}
}

// Load reads, overrides from the environment, defaults and validates the
// config file at path (see Resolve). Errors wrap ErrNotFound or ErrInvalid;
// an invalid file's error is an *InvalidError listing every problem.
func Load(path string) (*Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotFound, path, err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, invalid(path, Problem{Message: cleanReadError(err, path)})
	}
	v.SetEnvPrefix("LIFEBOAT")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range []string{"state_dir", "log_level"} {
		_ = v.BindEnv(k)
	}
	apps, perr := appsWithEnv(v.Get("apps"))
	if perr != nil {
		return nil, invalid(path, *perr)
	}
	v.Set("apps", apps)

	var c Config
	err := v.Unmarshal(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.TextUnmarshallerHookFunc(),
	)))
	c.Path = path
	// Unknown keys are found here rather than by mapstructure, which
	// stops collecting them in a block that has a bad value too.
	problems := append(sectionProblems(decodeProblems(err)), unknownKeys(unusedKeys(v.AllSettings(), reflect.TypeOf(c), ""))...)
	if p := c.keepVarCase(path); p != nil {
		problems = append(problems, *p)
	}
	failed := map[string]bool{}
	for i := range problems {
		problems[i].Key = c.namedKey(problems[i].Key)
		failed[problems[i].Key] = true
	}
	c.applyDefaults()
	var verr *InvalidError
	if err := c.Validate(); errors.As(err, &verr) {
		for _, p := range verr.Problems {
			// A value that could not be decoded is left zero: saying
			// so again in Validate's words would only confuse.
			if !failed[p.Key] {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
		return nil, invalid(path, problems...)
	}
	return &c, nil
}

// cleanReadError is the YAML parser's complaint without viper's wrapping.
func cleanReadError(err error, path string) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "While parsing config: ")
	return strings.TrimPrefix(s, path+": ")
}

// decodeProblems turns mapstructure's joined errors (a value of the wrong
// type, a size that does not parse) into one problem per key.
func decodeProblems(err error) []Problem {
	if err == nil {
		return nil
	}
	var out []Problem
	var walk func(error)
	walk = func(err error) {
		// Not errors.As: it would stop at the first of the joined errors.
		if de, ok := err.(*mapstructure.DecodeError); ok {
			out = append(out, Problem{Key: de.Name(), Message: typeProblem(de.Unwrap())})
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u)
			return
		}
		// A decode hook's error reads "'key' message".
		msg := cleanDecodeError(err)
		if m := quotedKeyRE.FindStringSubmatch(msg); m != nil {
			out = append(out, Problem{Key: m[1], Message: m[2]})
			return
		}
		out = append(out, Problem{Message: msg})
	}
	walk(err)
	return out
}

// sectionProblems rewrites "expected a map or struct" (a value where the
// config has a section) to name the section's keys and, when a key of the
// same name is elsewhere, that one: "bucket: b" at an app's level meant
// s3.bucket.
func sectionProblems(problems []Problem) []Problem {
	for i, p := range problems {
		if !strings.HasPrefix(p.Message, "expected a map or struct") {
			continue
		}
		t, ok := typeAt(reflect.TypeOf(Config{}), p.Key)
		if !ok {
			continue
		}
		msg := "is a section (" + strings.Join(fieldNames(t), ", ") + "), not a value"
		parent, leaf := "", p.Key
		if i := strings.LastIndex(p.Key, "."); i >= 0 {
			parent, leaf = p.Key[:i], p.Key[i+1:]
		}
		if pt, ok := typeAt(reflect.TypeOf(Config{}), parent); ok {
			var elsewhere []string
			for _, l := range leafKeys(pt, "") {
				if strings.HasSuffix(l, "."+leaf) {
					elsewhere = append(elsewhere, l)
				}
			}
			if len(elsewhere) > 0 {
				msg += " (did you mean " + strings.Join(elsewhere, " or ") + "?)"
			}
		}
		problems[i].Message = msg
	}
	return problems
}

// typeProblem says what a value of the wrong type should have been.
func typeProblem(err error) string {
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("%q is not %s", fmt.Sprint(pe.Value), typeWord(pe.Expected.Type()))
	case errors.As(err, &ue):
		return fmt.Sprintf("must be %s, got %s", typeWord(ue.Expected.Type()), typeWord(reflect.TypeOf(ue.Value)))
	}
	return cleanDecodeError(err)
}

func typeWord(t reflect.Type) string {
	if t == nil {
		return "nothing"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value)"
	}
	return t.String()
}

var quotedKeyRE = regexp.MustCompile(`^'([^']+)' (.*)$`)

// unusedKeys lists the keys of raw (the decoded YAML) that t has no field
// for, as paths like apps[0].s3.buckt.
func unusedKeys(raw any, t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if reflect.PointerTo(t).Implements(textUnmarshaler) {
			return nil
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fieldByTag(t, k)
			if !ok {
				out = append(out, join(k))
				continue
			}
			out = append(out, unusedKeys(m[k], f.Type, join(k))...)
		}
	case reflect.Slice:
		list, _ := raw.([]any)
		for i, item := range list {
			out = append(out, unusedKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i))...)
		}
	case reflect.Map:
		m, _ := raw.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, unusedKeys(m[k], t.Elem(), join(k))...)
		}
	}
	return out
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// unknownKeys names each key the config does not have, with the one
// probably meant: a close spelling at the same level, or the same name at
// another level (bucket → s3.bucket).
func unknownKeys(unused []string) []Problem {
	var out []Problem
	for _, k := range unused {
		parent, leaf := "", k
		if i := strings.LastIndex(k, "."); i >= 0 {
			parent, leaf = k[:i], k[i+1:]
		}
		t, ok := typeAt(reflect.TypeOf(Config{}), parent)
		msg := "unknown key"
		if ok {
			hint := suggest.Phrase(leaf, fieldNames(t), nil)
			if hint == "" {
				var elsewhere []string
				for _, l := range leafKeys(t, "") {
					if strings.HasSuffix(l, "."+leaf) {
						elsewhere = append(elsewhere, l)
					}
				}
				if len(elsewhere) > 0 {
					hint = " (did you mean " + strings.Join(elsewhere, " or ") + "?)"
				}
			}
			msg += hint
		}
		out = append(out, Problem{Key: k, Message: msg})
	}
	return out
}

var indexRE = regexp.MustCompile(`\[[^\]]*\]`)

// typeAt is the struct type found at a decoded key path such as
// apps[0].s3, following mapstructure tags through slices and pointers.
func typeAt(t reflect.Type, path string) (reflect.Type, bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if path == "" {
		return t, t.Kind() == reflect.Struct
	}
	for _, seg := range strings.Split(indexRE.ReplaceAllString(path, ""), ".") {
		f, ok := fieldByTag(t, seg)
		if !ok {
			return nil, false
		}
		t = f.Type
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
	}
	return t, t.Kind() == reflect.Struct
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		if strings.Split(t.Field(i).Tag.Get("mapstructure"), ",")[0] == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("mapstructure"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

var appIndexRE = regexp.MustCompile(`^apps\[(\d+)\]`)

// namedKey writes apps[0].x as apps[NAME].x, the way Validate names keys.
func (c *Config) namedKey(key string) string {
	m := appIndexRE.FindStringSubmatch(key)
	if m == nil {
		return key
	}
	i, _ := strconv.Atoi(m[1])
	if i < len(c.Apps) && c.Apps[i].Name != "" {
		return "apps[" + c.Apps[i].Name + "]" + key[len(m[0]):]
	}
	return key
}

// keepVarCase re-reads the config vars maps (app.vars, app.serving_vars)
// and database.expect.rows with their keys' case intact: viper lowercases
// every key, and environment variable and table names are case-sensitive.
func (c *Config) keepVarCase(path string) *Problem {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Problem{Message: err.Error()}
	}
	var raw struct {
		Apps []struct {
			App struct {
				Vars        map[string]string `yaml:"vars"`
				ServingVars map[string]string `yaml:"serving_vars"`
			} `yaml:"app"`
			Database struct {
				Expect struct {
					Rows map[string]int64 `yaml:"rows"`
				} `yaml:"expect"`
			} `yaml:"database"`
		} `yaml:"apps"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return &Problem{Key: "apps[].app.vars", Message: fmt.Sprintf("app.vars and app.serving_vars must map names to strings, database.expect.rows table names to numbers: %v", err)}
	}
	for i := range c.Apps {
		if i < len(raw.Apps) {
			c.Apps[i].Stack.Vars = raw.Apps[i].App.Vars
			c.Apps[i].Stack.ServingVars = raw.Apps[i].App.ServingVars
			// Table names are case-sensitive too ("Users" is not "users").
			c.Apps[i].Database.Expect.Rows = raw.Apps[i].Database.Expect.Rows
		}
	}
	return nil
}

// appsWithEnv applies LIFEBOAT_APPS_<APP>_<KEY> (and, when there is only one
// app, LIFEBOAT_APP_<KEY>) environment overrides to the raw apps list.
func appsWithEnv(raw any) ([]any, *Problem) {
	list, ok := raw.([]any)
	if raw != nil && !ok {
		return nil, &Problem{Key: "apps", Message: "must be a list of apps, each with a name"}
	}
	leaves := leafKeys(reflect.TypeOf(App{}), "")
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, &Problem{Key: fmt.Sprintf("apps[%d]", i), Message: "must be a mapping with name, s3, …"}
		}
		name, _ := m["name"].(string)
		prefixes := []string{"LIFEBOAT_APPS_" + envName(name) + "_"}
		if len(list) == 1 {
			prefixes = append(prefixes, "LIFEBOAT_APP_")
		}
		for _, leaf := range leaves {
			for _, p := range prefixes {
				if val, ok := os.LookupEnv(p + envName(leaf)); ok {
					setPath(m, strings.Split(leaf, "."), val)
					break
				}
			}
		}
	}
	return list, nil
}

// EnvNames lists the environment variables that override keys of the named
// app, for documentation and `config check`.
func EnvNames(app string) []string {
	var out []string
	for _, leaf := range leafKeys(reflect.TypeOf(App{}), "") {
		out = append(out, "LIFEBOAT_APPS_"+envName(app)+"_"+envName(leaf))
	}
	return out
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

func envName(s string) string { return strings.ToUpper(nonAlnum.ReplaceAllString(s, "_")) }

func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" || tag == "name" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			out = append(out, leafKeys(f.Type, key)...)
			continue
		case reflect.Map, reflect.Slice:
			// Lists and maps (checks, processes, vars) are set in the file.
			continue
		}
		out = append(out, key)
	}
	return out
}

func setPath(m map[string]any, path []string, val string) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = val
}

func cleanDecodeError(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "decoding failed due to the following error(s):\n\n", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Serve.Listen == "" {
		c.Serve.Listen = "127.0.0.1:8077"
	}
	if len(c.Notify.On) == 0 {
		c.Notify.On = []string{notify.OnFailure}
	}
	for i := range c.Apps {
		a := &c.Apps[i]
		a.StateDir = filepath.Join(c.StateDir, a.Name)
		if a.Cache.Dir == "" {
			a.Cache.Dir = filepath.Join(a.StateDir, "archives")
		}
		if a.Cache.Keep == 0 {
			a.Cache.Keep = 2
		}
		if a.Cache.MinFree == "" {
			a.Cache.MinFree = "10%"
		}
		if a.Download.MaxUnpackRatio == 0 {
			a.Download.MaxUnpackRatio = archive.DefaultMaxRatio
		}
		if a.Download.MaxTOCSize == 0 {
			a.Download.MaxTOCSize = units.ByteSize(dump.DefaultLimits.MaxTOCSize)
		}
		if a.Download.MaxFieldSize == 0 {
			a.Download.MaxFieldSize = units.ByteSize(dump.DefaultLimits.MaxFieldSize)
		}
		if a.S3.Region == "" {
			a.S3.Region = "us-east-1"
		}
		if a.S3.RestoreTier == "" {
			a.S3.RestoreTier = "Standard"
		}
		if a.S3.RestoreDays == 0 {
			a.S3.RestoreDays = 3
		}
		if a.S3.Timeout == 0 {
			a.S3.Timeout = units.Duration(30e9)
		}
		if a.Download.Concurrency == 0 {
			a.Download.Concurrency = max(4, 2*runtime.NumCPU())
		}
		if a.Download.PartSize == 0 {
			a.Download.PartSize = 16 << 20
		}
		if a.Download.Retries == 0 {
			a.Download.Retries = 5
		}
		if a.Download.CheckedCandidates == 0 {
			a.Download.CheckedCandidates = 20
		}
		if a.Database.Image == "" {
			a.Database.Image = "auto"
		}
		if a.Database.Name == "" {
			a.Database.Name = strings.ReplaceAll(a.Name, "-", "_")
		}
		if a.Database.KeepGenerations == 0 {
			a.Database.KeepGenerations = 1
		}
		if a.Database.ReadyTimeout == 0 {
			a.Database.ReadyTimeout = units.Duration(2 * time.Minute)
		}
		if a.Database.Analyze == nil {
			analyze := true
			a.Database.Analyze = &analyze
		}
		if a.Database.ShmSize == 0 {
			a.Database.ShmSize = 256 << 20
		}
		if a.Database.Drift.MaxShrink == nil {
			shrink := DefaultMaxShrink
			a.Database.Drift.MaxShrink = &shrink
		}
		if a.Database.Drift.MinRows == nil {
			floor := int64(DefaultMinRows)
			a.Database.Drift.MinRows = &floor
		}
		if a.Stack.Port == 0 {
			a.Stack.Port = 5000
		}
		if a.Stack.Health.Path == "" {
			a.Stack.Health.Path = "/"
		}
		if a.Stack.Health.Timeout == 0 {
			a.Stack.Health.Timeout = units.Duration(2 * time.Minute)
		}
		if a.Stack.Health.Interval == 0 {
			a.Stack.Health.Interval = units.Duration(time.Second)
		}
		if a.Stack.StandbyProcesses == nil {
			a.Stack.StandbyProcesses = []string{"web"}
		}
		if a.Stack.Heroku.APIURL == "" {
			a.Stack.Heroku.APIURL = "https://api.heroku.com"
		}
		if a.Stack.Publish == "" {
			a.Stack.Publish = "0.0.0.0:80"
		}
		if a.RTOTarget == 0 {
			a.RTOTarget = units.Duration(time.Hour)
		}
		if a.RPOTarget == 0 {
			a.RPOTarget = units.Duration(26 * time.Hour)
		}
		if a.Drill.Retention == 0 {
			a.Drill.Retention = 90
		}
		if a.Drill.EgressProbes == nil {
			a.Drill.EgressProbes = []string{"1.1.1.1:443", "8.8.8.8:53"}
		}
		if a.Check.MaxArchiveAge == 0 {
			a.Check.MaxArchiveAge = units.Duration(26 * time.Hour)
		}
		if a.Check.MinSizeRatio == 0 {
			a.Check.MinSizeRatio = 0.5
		}
		if a.Check.MaxRefreshAge == 0 {
			a.Check.MaxRefreshAge = units.Duration(26 * time.Hour)
		}
		if a.Check.MaxDrillAge == 0 {
			a.Check.MaxDrillAge = units.Duration(8 * 24 * time.Hour)
		}
		a.Schedule.applyDefaults()
		a.applyCaptureDefaults()
		a.Bucket.applyDefaults()
		a.Vault.applyDefaults(a.StateDir)
		a.Mirror.applyDefaults()
	}
}

var dbNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func validateDatabase(d Database, key string, add func(key, format string, args ...any)) {
	if strings.ContainsAny(d.Image, " \t") || d.Image == "" {
		add(key+".image", "must be an image reference such as postgres:15, or auto")
	}
	if !dbNameRE.MatchString(d.Name) {
		add(key+".name", "%q must be lower-case letters, digits and _ (a Postgres identifier)", d.Name)
	}
	if d.Jobs < 0 || d.Jobs > 64 {
		add(key+".jobs", "must be between 0 (= number of CPUs) and 64, got %d", d.Jobs)
	}
	if d.Publish != "" {
		if _, _, err := ParsePublish(d.Publish); err != nil {
			add(key+".publish", "%v", err)
		}
	}
	if d.KeepGenerations < 0 {
		add(key+".keep_generations", "must not be negative")
	}
	for i, re := range d.ExpectedErrors {
		if _, err := regexp.Compile(re); err != nil {
			add(fmt.Sprintf("%s.expected_errors[%d]", key, i), "not a regular expression: %v", err)
		}
	}
	names := map[string]bool{}
	for i, c := range d.Checks {
		ck := fmt.Sprintf("%s.checks[%d]", key, i)
		if c.Name == "" {
			add(ck+".name", "is required")
		} else if names[c.Name] {
			add(ck+".name", "%q is used twice", c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.SQL) == "" {
			add(ck+".sql", "is required (a query returning one true value, e.g. select count(*) > 0 from users)")
		}
	}
}

var processNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)

func validateStack(s Stack, key string, add func(key, format string, args ...any)) {
	if !s.Enabled() {
		return
	}
	for name, p := range s.Processes {
		if !processNameRE.MatchString(name) {
			add(key+".processes."+name, "process type names are lower-case letters, digits, - and _")
		}
		if strings.TrimSpace(p.Command) == "" {
			add(key+".processes."+name+".command", "is required")
		}
		if p.Count < 0 || p.Count > 20 {
			add(key+".processes."+name+".count", "must be between 0 and 20, got %d", p.Count)
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		add(key+".port", "must be a port number, got %d", s.Port)
	}
	if !strings.HasPrefix(s.Health.Path, "/") {
		add(key+".health.path", "must start with /, got %q", s.Health.Path)
	}
	if _, _, err := ParseHostPort(s.Publish); err != nil {
		add(key+".publish", "%v", err)
	}
	if s.EnvFile != "" {
		if err := checkSecretFile(s.EnvFile); err != nil {
			add(key+".env_file", "%v", err)
		}
	}
	if s.Heroku.App != "" || s.Heroku.TokenFile != "" {
		if s.Heroku.App == "" {
			add(key+".heroku.app", "is required with heroku.token_file")
		}
		if s.Heroku.TokenFile == "" {
			add(key+".heroku.token_file", "is required with heroku.app (a file of mode 0600 holding an API token)")
		} else if err := checkSecretFile(s.Heroku.TokenFile); err != nil {
			add(key+".heroku.token_file", "%v", err)
		}
	}
}

// ParseHostPort parses "0.0.0.0:80", "127.0.0.1:8080" or "8080" (all addresses).
func ParseHostPort(s string) (host string, port int, err error) {
	host, portStr := "0.0.0.0", s
	if i := strings.LastIndex(s, ":"); i >= 0 {
		host, portStr = s[:i], s[i+1:]
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: the host must be an IP address", s)
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	return host, port, nil
}

// ParsePublish parses a publish address "127.0.0.1:5433" or "5433". Only
// the loopback address is allowed: the standby database must not be
// reachable from the network.
func ParsePublish(s string) (host string, port int, err error) {
	host, portStr := "127.0.0.1", s
	if i := strings.LastIndex(s, ":"); i >= 0 {
		host, portStr = s[:i], s[i+1:]
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if host != "127.0.0.1" {
		return "", 0, fmt.Errorf("%q: only 127.0.0.1 may be used, so the database is not exposed to the network", s)
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	return host, port, nil
}

var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks every key and returns all problems at once, each naming
// its key; the error wraps ErrInvalid.
func (c *Config) Validate() error {
	var problems []Problem
	add := func(key, format string, args ...any) {
		problems = append(problems, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if !filepath.IsAbs(c.StateDir) {
		add("state_dir", "must be an absolute path, got %q", c.StateDir)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if len(c.Apps) == 0 {
		add("apps", "no app configured: add at least one entry with a name and an s3 bucket")
	}
	for _, e := range c.Notify.Validate("notify") {
		key, msg, _ := strings.Cut(e, ": ")
		add(key, "%s", msg)
	}
	if d := c.Metrics.TextfileDir; d != "" && !filepath.IsAbs(d) {
		add("metrics.textfile_dir", "must be an absolute path, got %q", d)
	}
	if _, _, err := net.SplitHostPort(c.Serve.Listen); err != nil {
		add("serve.listen", "must be host:port, got %q", c.Serve.Listen)
	}
	if f := c.Serve.HookSecretFile; f != "" {
		if err := checkSecretFile(f); err != nil {
			add("serve.hook_secret_file", "%v", err)
		}
	} else if c.Serve.GitHubSignatures {
		add("serve.github_signatures", "needs serve.hook_secret_file (the key GitHub signs with)")
	}
	if err := checkStateDir(c.StateDir); err != nil {
		add("state_dir", "%v", err)
	}
	seen := map[string]bool{}
	for i, a := range c.Apps {
		key := fmt.Sprintf("apps[%d]", i)
		if a.Name != "" {
			key = fmt.Sprintf("apps[%s]", a.Name)
		}
		switch {
		case a.Name == "":
			add(key+".name", "is required")
		case !appNameRE.MatchString(a.Name):
			add(key+".name", "%q must be lower-case letters, digits, - and _ (it names directories and Docker objects)", a.Name)
		case seen[a.Name]:
			add(key+".name", "%q is used by two apps", a.Name)
		}
		seen[a.Name] = true
		if a.S3.Bucket == "" {
			add(key+".s3.bucket", "is required (the bucket your backup job writes to)")
		}
		if strings.HasPrefix(a.S3.Prefix, "/") {
			add(key+".s3.prefix", "must not start with / (S3 keys have no leading slash), got %q", a.S3.Prefix)
		}
		if a.S3.Endpoint != "" && !strings.HasPrefix(a.S3.Endpoint, "http://") && !strings.HasPrefix(a.S3.Endpoint, "https://") {
			add(key+".s3.endpoint", "must be a URL starting with http:// or https://, got %q", a.S3.Endpoint)
		}
		if f := a.S3.CredentialsFile; f != "" {
			if err := checkSecretFile(f); err != nil {
				add(key+".s3.credentials_file", "%v", err)
			}
		}
		validateKeyFiles(a.S3, key+".s3", add)
		switch a.S3.RestoreTier {
		case "Expedited", "Standard", "Bulk":
		default:
			add(key+".s3.restore_tier", "must be Expedited, Standard or Bulk, got %q", a.S3.RestoreTier)
		}
		if a.S3.RestoreDays < 1 {
			add(key+".s3.restore_days", "must be at least 1, got %d", a.S3.RestoreDays)
		}
		if !filepath.IsAbs(a.Cache.Dir) {
			add(key+".cache.dir", "must be an absolute path, got %q", a.Cache.Dir)
		}
		if a.Cache.Keep < 1 {
			add(key+".cache.keep", "must be at least 1, got %d", a.Cache.Keep)
		}
		if _, _, err := a.Cache.MinFree.Parse(); err != nil {
			add(key+".cache.min_free", "%v", err)
		}
		if err := checkStateDir(a.Cache.Dir); err != nil {
			add(key+".cache.dir", "%v", err)
		}
		if a.Download.MaxUnpackedSize < 0 {
			add(key+".download.max_unpacked_size", "must be 0 (no limit) or a size, got %s", a.Download.MaxUnpackedSize)
		}
		if a.Download.MaxUnpackRatio < 2 {
			add(key+".download.max_unpack_ratio", "must be at least 2, got %g", a.Download.MaxUnpackRatio)
		}
		if a.Download.MaxTOCSize < 1<<20 || a.Download.MaxTOCSize > 16<<30 {
			add(key+".download.max_toc_size", "must be between 1MiB and 16GiB, got %s", a.Download.MaxTOCSize)
		}
		if a.Download.MaxFieldSize < 64<<10 || a.Download.MaxFieldSize > 1<<30 || a.Download.MaxFieldSize > a.Download.MaxTOCSize {
			add(key+".download.max_field_size", "must be between 64KiB and 1GiB, and at most download.max_toc_size, got %s", a.Download.MaxFieldSize)
		}
		if a.Download.Concurrency < 1 || a.Download.Concurrency > 256 {
			add(key+".download.concurrency", "must be between 1 and 256, got %d", a.Download.Concurrency)
		}
		if a.Download.PartSize < 1<<20 || a.Download.PartSize > 5<<30 {
			add(key+".download.part_size", "must be between 1MiB and 5GiB, got %s", a.Download.PartSize)
		}
		if a.Download.BandwidthLimit < 0 || (a.Download.BandwidthLimit > 0 && a.Download.BandwidthLimit < 64<<10) {
			add(key+".download.bandwidth_limit", "must be 0 (unlimited) or at least 64KiB/s, got %s", a.Download.BandwidthLimit)
		}
		if a.Download.Retries < 0 {
			add(key+".download.retries", "must not be negative")
		}
		if a.Download.CheckedCandidates < 1 {
			add(key+".download.checked_candidates", "must be at least 1")
		}
		validateDatabase(a.Database, key+".database", add)
		validateDataChecks(a.Database, key+".database", add)
		validateStack(a.Stack, key+".app", add)
		if a.Drill.Retention < 1 {
			add(key+".drill.retention", "must be at least 1")
		}
		if a.Check.MinSizeRatio < 0 || a.Check.MinSizeRatio >= 1 {
			add(key+".check.min_size_ratio", "must be between 0 and 1, got %g", a.Check.MinSizeRatio)
		}
		a.Schedule.validate(key+".schedule", add)
		validateCapture(a.Capture, a.Stack.Heroku, key+".capture", add)
		if a.Schedule.Capture != ScheduleOff && !a.Capture.Enabled() {
			add(key+".schedule.capture", "a capture is scheduled (%q) but capture.source is not set: set capture.source (pg_dump or heroku), or schedule.capture: off", a.Schedule.Capture)
		}
		a.Bucket.validate(key+".bucket", add)
		a.Vault.validate(key+".vault", a.Cache.Dir, add)
		a.Mirror.validate(key+".mirror", a.S3, add)
	}
	if len(problems) == 0 {
		return nil
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
	return invalid(c.Path, problems...)
}

// App returns the app called name. An empty name is allowed when exactly one
// app is configured. The error wraps ErrNoSuchApp and lists the names.
func (c *Config) App(name string) (*App, error) {
	var names []string
	for i := range c.Apps {
		if c.Apps[i].Name == name {
			return &c.Apps[i], nil
		}
		names = append(names, c.Apps[i].Name)
	}
	if name == "" {
		if len(c.Apps) == 1 {
			return &c.Apps[0], nil
		}
		return nil, fmt.Errorf("%w: %d apps are configured (%s): pick one with --app", ErrNoSuchApp, len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%w: %q is not in %s (configured: %s)", ErrNoSuchApp, name, c.Path, strings.Join(names, ", "))
}

func checkSecretFile(path string) error { return fsutil.CheckSecretFile(path) }

// checkStateDir checks a directory Lifeboat writes to, when it exists
// already (else Lifeboat creates it, mode 0700): no other user may write
// to it, or own it.
func checkStateDir(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return fsutil.CheckPrivateDir(path)
}

// Masked stands for a secret value in printed config.
const Masked = "********"

// Redacted returns a copy fit for printing: secrets are only ever named by
// path in the config, except config-var values (app.vars,
// app.serving_vars), which are masked here, as are notifier secrets given
// inline. Defaults that another library resolves (the AWS profile) are shown
// as it will resolve them.
func (c *Config) Redacted() Config {
	out := *c
	out.Apps = append([]App(nil), c.Apps...)
	for i := range out.Apps {
		st := &out.Apps[i].Stack
		st.Vars, st.ServingVars = maskValues(st.Vars), maskValues(st.ServingVars)
		if out.Apps[i].S3.Profile == "" {
			out.Apps[i].S3.Profile = cmp.Or(os.Getenv("AWS_PROFILE"), "default")
		}
	}
	out.Notify = c.Notify.Redacted()
	return out
}

func maskValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = Masked
	}
	return out
}
