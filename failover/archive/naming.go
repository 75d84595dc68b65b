package archive

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Scheme names the naming convention a key follows.
const (
	SchemeHerokuBackups    = "heroku-database-backups"        // YYYY-MM-DD_HH-MM_TZ__APP_DB.dump[.gz]
	SchemeHerokuBackupsOld = "heroku-database-backups-legacy" // YYYY-MM-DD-HH-MM-APP-DB.dump.gz (before Dec 2020)
	SchemePgbackupsArchive = "pgbackups-archive"              // pgbackups/ENV/YYYY-MM-DD-HH-MM-SS-+0000.dump
	SchemeTimestamped      = "timestamped"                    // some other name with a recognisable date-time
	SchemeUnknown          = "unknown"                        // no time in the name
)

// Wrapping says how the pg_dump archive is packed inside an object.
const (
	WrapNone  = "none"   // the object is the .dump itself
	WrapGzip  = "gzip"   // .dump.gz
	WrapTarGz = "tar.gz" // .tgz / .tar.gz holding a .dump
	WrapGPG   = "gpg"    // symmetric gpg: readable with s3.passphrase_file
	WrapAge   = "age"    // age-encrypted (lifeboat capture): readable with s3.identity_file
)

// Name is what the object key says about an archive.
type Name struct {
	Scheme string `json:"scheme"`
	// Time is the capture time the name carries, zero when it has none.
	Time time.Time `json:"time,omitempty"`
	// Zone is the time-zone abbreviation as written in the name.
	Zone string `json:"zone,omitempty"`
	// ZoneKnown is false when Zone was not recognised and UTC was assumed.
	ZoneKnown bool `json:"zone_known"`
	// ArchiveCopy is true for "archive__" keys: a copy of an existing
	// Heroku backup made at Time, not a capture at Time.
	ArchiveCopy bool   `json:"archive_copy"`
	App         string `json:"app,omitempty"`
	Database    string `json:"database,omitempty"`
	// Wrap is what the extension suggests; the first bytes decide.
	Wrap string `json:"wrap"`
}

var (
	// 2024-05-01_03-00_UTC__your-app_HEROKU_POSTGRESQL_NAVY_URL.dump.gz
	reHeroku = regexp.MustCompile(`^(archive__)?(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})_([A-Za-z0-9+\-:]+)__(.+)$`)
	// 2019-03-04-03-00-your-app-DATABASE_URL.dump.gz
	reHerokuOld = regexp.MustCompile(`^(archive__)?(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(.+)$`)
	// 2015-06-01-03-00-12-+0000.dump
	rePgbackups = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-([+-]\d{4})$`)
	// Anything else with 2024-05-01T03:00:00Z, 20240501T030000, 2024-05-01_0300…
	reLoose = regexp.MustCompile(`(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[-:]?(\d{2})(?:[-:]?(\d{2}))?`)
)

// ParseName reads the capture time and naming scheme from an object key.
// It never fails: a key without a recognisable time gets SchemeUnknown.
func ParseName(key string) Name {
	base := path.Base(key)
	n := Name{Scheme: SchemeUnknown, Wrap: WrapNone, ZoneKnown: true}
	stem := base
	for {
		ext := strings.ToLower(path.Ext(stem))
		switch ext {
		case ".gz", ".gzip":
			if n.Wrap == WrapNone {
				n.Wrap = WrapGzip
			}
		case ".tgz":
			n.Wrap = WrapTarGz
		case ".tar":
			if n.Wrap == WrapGzip {
				n.Wrap = WrapTarGz
			}
		case ".gpg", ".pgp", ".asc":
			n.Wrap = WrapGPG
		case ".age":
			n.Wrap = WrapAge
		case ".dump", ".pgdump", ".backup", ".bak", ".pgdmp":
		default:
			ext = ""
		}
		if ext == "" {
			break
		}
		stem = stem[:len(stem)-len(ext)]
	}

	if m := reHeroku.FindStringSubmatch(stem); m != nil {
		zone := m[7]
		loc, known := zoneOffset(zone)
		if t, ok := mkTime(m[2:7], "00", loc); ok {
			n.Scheme, n.Time, n.Zone, n.ZoneKnown = SchemeHerokuBackups, t, zone, known
			n.ArchiveCopy = m[1] != ""
			n.App, n.Database = splitAppDB(m[8], key)
			return n
		}
	}
	if m := rePgbackups.FindStringSubmatch(stem); m != nil {
		off, _ := strconv.Atoi(m[7])
		loc := time.FixedZone(m[7], (off/100)*3600+(off%100)*60)
		if t, ok := mkTime(m[1:6], m[6], loc); ok {
			n.Scheme, n.Time, n.Zone = SchemePgbackupsArchive, t, m[7]
			return n
		}
	}
	if m := reHerokuOld.FindStringSubmatch(stem); m != nil {
		// Heroku dynos run in UTC, and the legacy name carries no zone.
		if t, ok := mkTime(m[2:7], "00", time.UTC); ok {
			n.Scheme, n.Time, n.Zone = SchemeHerokuBackupsOld, t, "UTC"
			n.ArchiveCopy = m[1] != ""
			n.App, n.Database = splitLegacyAppDB(m[7], key)
			return n
		}
	}
	if m := reLoose.FindStringSubmatch(stem); m != nil {
		sec := m[6]
		if sec == "" {
			sec = "00"
		}
		if t, ok := mkTime(m[1:6], sec, time.UTC); ok {
			n.Scheme, n.Time, n.Zone = SchemeTimestamped, t, "UTC"
			n.ArchiveCopy = strings.HasPrefix(stem, "archive__")
			return n
		}
	}
	return n
}

func mkTime(f []string, sec string, loc *time.Location) (time.Time, bool) {
	num := func(s string) int { v, _ := strconv.Atoi(s); return v }
	y, mo, d, h, mi, s := num(f[0]), num(f[1]), num(f[2]), num(f[3]), num(f[4]), num(sec)
	if y < 1990 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
	if t.Day() != d { // 2024-02-31
		return time.Time{}, false
	}
	return t.UTC(), true
}

// splitAppDB splits "your-app_HEROKU_POSTGRESQL_NAVY_URL" using the folder
// names {APP}/{DATABASE}/ when present, since both may contain underscores.
func splitAppDB(s, key string) (app, db string) {
	parts := strings.Split(path.Dir(key), "/")
	if len(parts) >= 2 {
		a, d := parts[len(parts)-2], parts[len(parts)-1]
		if s == a+"_"+d {
			return a, d
		}
	}
	if i := strings.Index(s, "_"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func splitLegacyAppDB(s, key string) (app, db string) {
	parts := strings.Split(path.Dir(key), "/")
	if len(parts) >= 2 {
		a, d := parts[len(parts)-2], parts[len(parts)-1]
		if s == a+"-"+d {
			return a, d
		}
	}
	for _, marker := range []string{"-DATABASE", "-HEROKU_POSTGRESQL"} {
		if i := strings.Index(s, marker); i > 0 {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// zones maps the abbreviations `date +%Z` prints to their UTC offsets.
// Ambiguous ones take their most common meaning (IST = India).
var zones = map[string]int{
	"UTC": 0, "GMT": 0, "Z": 0, "UCT": 0, "WET": 0, "WEST": 1 * 60, "BST": 1 * 60, "IST": 5*60 + 30,
	"CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180,
	"EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
	"PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600, "AST": -240, "ADT": -180,
	"NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
	"JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AWST": 480, "PHT": 480, "WIB": 420, "ICT": 420,
	"ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
	"SAST": 120, "CAT": 120, "EAT": 180, "WAT": 60, "PKT": 300, "GST": 240,
}

var reNumericZone = regexp.MustCompile(`^([+-])(\d{2}):?(\d{2})?$`)

// zoneOffset resolves a %Z abbreviation. Zones without an abbreviation
// print a numeric offset ("+03", "-0430"). Unknown zones fall back to UTC
// with known=false, and the caller reports it.
func zoneOffset(z string) (*time.Location, bool) {
	if m, ok := zones[strings.ToUpper(z)]; ok {
		return time.FixedZone(z, m*60), true
	}
	if m := reNumericZone.FindStringSubmatch(z); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		off := h*3600 + mi*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(z, off), true
	}
	return time.UTC, false
}

// sidecarExts are files written next to archives that are not archives.
var sidecarExts = map[string]bool{
	".sha256": true, ".sha256sum": true, ".md5": true, ".md5sum": true, ".sha1": true, ".sha512": true,
	".json": true, ".txt": true, ".log": true, ".sig": true, ".manifest": true, ".yaml": true, ".yml": true,
}

// IsSidecar reports whether key is a checksum or metadata file rather than an archive.
func IsSidecar(key string) bool {
	return sidecarExts[strings.ToLower(path.Ext(key))]
}
