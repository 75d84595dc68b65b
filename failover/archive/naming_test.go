package archive

import (
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		key       string
		scheme    string
		at        time.Time
		copy      bool
		app, db   string
		wrap      string
		zoneKnown bool
	}{
		{"backups/your-app/HEROKU_POSTGRESQL_NAVY_URL/2024-05-01_03-00_UTC__your-app_HEROKU_POSTGRESQL_NAVY_URL.dump.gz",
			SchemeHerokuBackups, utc("2024-05-01 03:00:00"), false, "your-app", "HEROKU_POSTGRESQL_NAVY_URL", WrapGzip, true},
		{"backups/my_app/DATABASE_URL/archive__2024-05-02_10-30_PDT__my_app_DATABASE_URL.dump",
			SchemeHerokuBackups, utc("2024-05-02 17:30:00"), true, "my_app", "DATABASE_URL", WrapNone, true},
		{"x/2024-01-15_23-45_CET__app_DATABASE_URL.dump.gz", SchemeHerokuBackups, utc("2024-01-15 22:45:00"), false, "app", "DATABASE_URL", WrapGzip, true},
		{"x/2024-01-15_23-45_+0530__app_DATABASE_URL.dump.gz", SchemeHerokuBackups, utc("2024-01-15 18:15:00"), false, "app", "DATABASE_URL", WrapGzip, true},
		{"x/2024-01-15_23-45_-03__app_DATABASE_URL.dump.gz", SchemeHerokuBackups, utc("2024-01-16 02:45:00"), false, "app", "DATABASE_URL", WrapGzip, true},
		{"x/2024-01-15_23-45_XYZT__app_DATABASE_URL.tgz", SchemeHerokuBackups, utc("2024-01-15 23:45:00"), false, "app", "DATABASE_URL", WrapTarGz, false},
		{"backups/your-app/DATABASE_URL/2019-03-04-03-00-your-app-DATABASE_URL.dump.gz",
			SchemeHerokuBackupsOld, utc("2019-03-04 03:00:00"), false, "your-app", "DATABASE_URL", WrapGzip, true},
		{"pgbackups/production/2015-06-01-03-00-12-+0000.dump", SchemePgbackupsArchive, utc("2015-06-01 03:00:12"), false, "", "", WrapNone, true},
		{"pgbackups/production/2015-06-01-03-00-12--0500.dump", SchemePgbackupsArchive, utc("2015-06-01 08:00:12"), false, "", "", WrapNone, true},
		{"dumps/db-20240501T030000Z.dump.tar.gz", SchemeTimestamped, utc("2024-05-01 03:00:00"), false, "", "", WrapTarGz, true},
		{"dumps/latest.dump.gz.gpg", SchemeUnknown, time.Time{}, false, "", "", WrapGPG, true},
		{"dumps/2024-02-31_03-00_UTC__a_B.dump", SchemeUnknown, time.Time{}, false, "", "", WrapNone, true},
	}
	for _, c := range cases {
		n := ParseName(c.key)
		if n.Scheme != c.scheme || !n.Time.Equal(c.at) || n.ArchiveCopy != c.copy || n.App != c.app || n.Database != c.db || n.Wrap != c.wrap || n.ZoneKnown != c.zoneKnown {
			t.Errorf("ParseName(%q) = %+v\nwant scheme=%s time=%s copy=%v app=%q db=%q wrap=%s zoneKnown=%v",
				c.key, n, c.scheme, c.at, c.copy, c.app, c.db, c.wrap, c.zoneKnown)
		}
	}
}

func TestArchiveCopySortsAfterDatesByName(t *testing.T) {
	// The reason the name never decides "newest": archive__ sorts after
	// every date, so a plain string sort would pick an old copy.
	a := "archive__2020-01-01_00-00_UTC__a_DB.dump"
	b := "2024-05-01_03-00_UTC__a_DB.dump"
	if !(a > b) {
		t.Fatal("premise broken")
	}
	if !ParseName(a).Time.Before(ParseName(b).Time) {
		t.Fatal("archive copy from 2020 must be older than a 2024 capture")
	}
}

func TestIsSidecar(t *testing.T) {
	for key, want := range map[string]bool{
		"a/x.dump.gz.sha256": true, "a/x.dump.md5": true, "a/x.json": true, "a/x.dump.gz": false, "a/x.dump": false,
	} {
		if IsSidecar(key) != want {
			t.Errorf("IsSidecar(%q) != %v", key, want)
		}
	}
}
