package report

import (
	"fmt"
	"time"
)

// base is the start of the first sample drill.
var base = time.Date(2026, 10, 27, 4, 30, 0, 0, time.UTC)

// sample returns a realistic, finalized drill of "shop", the i-th of a
// nightly series; pass decides whether everything went well.
func sample(i int, pass bool) *Report {
	start := base.Add(time.Duration(i) * 24 * time.Hour)
	r := New()
	r.ID = NewID("shop", start)
	r.ToolVersion = "v0.9.0"
	r.Host = "lifeboat-1.linode.example"
	r.App = "shop"
	r.Trigger = TriggerSchedule
	r.TriggeredBy = "systemd timer lifeboat-drill-shop.timer"
	r.StartedAt = start
	captured := time.Date(start.Year(), start.Month(), start.Day(), 3, 0, 0, 0, time.UTC)
	size := int64(1_180_000_000 + i*9_500_000)
	r.Archive = Archive{
		Key:        fmt.Sprintf("backups/shop/HEROKU_POSTGRESQL_NAVY_URL/%s__shop_HEROKU_POSTGRESQL_NAVY_URL.dump.gz", captured.Format("2006-01-02_15-04_UTC")),
		Size:       size,
		SHA256:     "9f2c4e6d1b8a7f3e5c0d2b4a6e8f1c3d5b7a9e0f2c4d6b8a0e1f3c5d7b9a2e4f",
		CapturedAt: captured,
		Source:     SourceS3,
	}
	r.Candidates = []Candidate{
		{Key: r.Archive.Key, Size: size, CapturedAt: captured, Status: "valid"},
		{Key: r.Archive.Key + ".sha256", Size: 98, CapturedAt: captured, Status: "skipped", SkipReason: "sidecar file (sha256), not an archive"},
		{Key: "backups/shop/HEROKU_POSTGRESQL_NAVY_URL/archive__2024-05-01_03-00_UTC__shop_HEROKU_POSTGRESQL_NAVY_URL.dump", Size: 990_000_000,
			CapturedAt: time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC), Status: "valid", SkipReason: "older than the newest valid archive"},
		{Key: "backups/shop/HEROKU_POSTGRESQL_NAVY_URL/" + captured.Add(-24*time.Hour).Format("2006-01-02_15-04_UTC") + "__shop_HEROKU_POSTGRESQL_NAVY_URL.dump.gz",
			Size: size - 9_500_000, CapturedAt: captured.Add(-24 * time.Hour), Status: "unchecked", SkipReason: "not opened: older than the newest valid archive"},
		{Key: "backups/shop/HEROKU_POSTGRESQL_NAVY_URL/upload-failed.dump.gz", Size: 0, Status: "skipped", SkipReason: "zero-byte object (a failed upload?)"},
	}
	jitter := float64(i%7) * 4.5
	durs := []struct {
		name string
		secs float64
	}{
		{PhaseLocate, 1.8}, {PhaseDownload, 41 + jitter}, {PhaseVerify, 12.4}, {PhaseDatabaseStart, 3.1},
		{PhaseRestore, 214 + 2*jitter + float64(i)*1.5}, {PhaseChecks, 26.5}, {PhaseRelease, 8.2},
		{PhaseAppBoot, 4.4}, {PhaseHealth, 6.9}, {PhaseTeardown, 5.2},
	}
	var at float64
	for _, d := range durs {
		r.Phases = append(r.Phases, Phase{Name: d.name, StartedOffsetSeconds: at, Seconds: d.secs, OK: true})
		at += d.secs
	}
	r.Restore = RestoreSummary{
		Errors:         []string{},
		ExpectedErrors: []string{`pg_restore: error: could not execute query: ERROR:  must be owner of extension plpgsql`},
		Warnings:       []string{"pg_restore: warning: errors ignored on restore: 1"},
	}
	tables := []Table{
		{"public", "users", 184_233}, {"public", "orders", 1_902_114}, {"public", "order_items", 5_733_001},
		{"public", "products", 12_480}, {"public", "payments", 1_877_950}, {"public", "sessions", 0},
		{"public", "schema_migrations", 214}, {"heroku_ext", "pg_stat_statements_info", 1},
	}
	r.Tables = tables
	for _, t := range tables {
		r.Checks = append(r.Checks, Check{Name: t.Schema + "." + t.Name, Kind: KindTable, OK: true,
			Detail: fmt.Sprintf("%d rows, as in the archive", t.Rows)})
	}
	r.Checks = append(r.Checks,
		Check{Name: "orders_id_seq", Kind: KindSequence, OK: true, Detail: "next value 1902115 > max(orders.id) 1902114"},
		Check{Name: "recent orders", Kind: KindSQL, OK: true, Detail: "select count(*) > 0 from orders where created_at > now() - interval '2 days': true"},
		Check{Name: "btree indexes", Kind: KindAmcheck, OK: true, Detail: "41 indexes pass bt_index_check"},
		Check{Name: "no egress", Kind: KindEgress, OK: true, Detail: "internal network lifeboat-shop-drill; connections to 1.1.1.1:443, 8.8.8.8:53 from inside it fail"},
		Check{Name: "app health", Kind: KindHealth, OK: true, Detail: "web answered /healthz with 2xx after 6.9s"},
	)
	r.AppHealth = AppHealth{Image: "registry.heroku.com/shop/web:latest", ImageID: "sha256:4b1d9c0e7f2a3b5c6d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c",
		Healthy: true, URL: "http://172.20.0.3:5000/healthz", Detail: "/healthz answered 2xx"}
	r.Notifications = []Notification{{Channel: "slack", OK: true, Seconds: 0.42}, {Channel: "healthchecks", OK: true, Seconds: 0.18}}
	r.RTO.TargetSeconds = 600
	r.RPO.TargetSeconds = 26 * 3600
	if !pass {
		// The restore broke: a missing role in the dump.
		r.Phases = r.Phases[:5]
		r.Phases[4].OK = false
		r.Phases[4].Error = `pg_restore: error: could not execute query: ERROR:  relation "public.orders" does not exist`
		r.Phases = append(r.Phases, Phase{Name: PhaseTeardown, StartedOffsetSeconds: r.Phases[4].StartedOffsetSeconds + r.Phases[4].Seconds, Seconds: 3.0, OK: true})
		r.Restore.Errors = []string{`pg_restore: error: could not execute query: ERROR:  relation "public.orders" does not exist`,
			`pg_restore: error: COPY failed for table "order_items": ERROR:  insert or update violates foreign key constraint`}
		r.Checks = r.Checks[:1]
		r.Checks = append(r.Checks, Check{Name: "public.orders", Kind: KindTable, OK: false, Detail: "missing after the restore (1902114 rows in the archive)"})
		r.Tables = r.Tables[:2]
		r.AppHealth.Healthy = false
		r.AppHealth.URL = ""
		r.AppHealth.Detail = ""
		r.Notifications[0] = Notification{Channel: "email", OK: false, Error: "dial tcp 10.0.0.5:587: connect: connection refused", Seconds: 10}
	}
	r.Finalize()
	return r
}

// series returns n nightly drills, oldest first; the ones in fail fail.
func series(n int, fail ...int) []*Report {
	failed := map[int]bool{}
	for _, i := range fail {
		failed[i] = true
	}
	out := make([]*Report, n)
	for i := range out {
		out[i] = sample(i, !failed[i])
	}
	return out
}
