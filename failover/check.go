package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Finding is one result of CheckChain, with what to do when it failed.
type Finding struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// ChainReport is the result of CheckChain.
type ChainReport struct {
	App       string    `json:"app"`
	CheckedAt time.Time `json:"checked_at"`
	OK        bool      `json:"ok"`
	Findings  []Finding `json:"findings"`
	// NewestArchive facts, for metrics.
	ArchiveKey        string    `json:"archive_key"`
	ArchiveCapturedAt time.Time `json:"archive_captured_at"`
	ArchiveSize       int64     `json:"archive_size"`
}

// CheckChain checks the backup chain as a whole: the newest archive in S3
// is younger than check.max_archive_age, not suspiciously small against the
// recent ones, and readable; the last refresh and the last drill succeeded
// and are recent; the standby database is running. Every finding says what
// to do when it fails.
func (s *Standby) CheckChain(ctx context.Context) *ChainReport {
	r := &ChainReport{App: s.App.Name, CheckedAt: time.Now().UTC(), Findings: []Finding{}}
	fs := (*findings)(&r.Findings)
	now := r.CheckedAt
	s.checkArchive(ctx, r, fs)
	if f, ok := s.captureFinding(now); ok {
		fs.append(f)
	}
	// While serving, refresh stands still by design.
	serving, _ := s.State.Serving()
	s.checkRefresh(now, serving, fs)
	s.checkDrill(now, fs)
	// The data: the last comparison of row counts with the restore before.
	fs.append(s.driftFinding(now))
	s.checkStandby(ctx, fs)
	if s.App.Bucket.Check {
		fs.append(bucketFindings(ctx, s.App)...)
	}
	if s.App.Vault.Enabled {
		fs.append(vaultFinding(s.App))
	}
	if s.App.Mirror.Enabled() {
		fs.append(mirrorFinding(s.App, s.Log))
	}
	s.checkRoom(ctx, fs)
	if serving != nil {
		fs.add("serving", true, "", "failed over since %s: the standby serves users", serving.Since.Format(time.RFC3339))
	}
	r.OK = true
	for _, f := range r.Findings {
		r.OK = r.OK && f.OK
	}
	return r
}

// findings collects a chain check's findings.
type findings []Finding

func (fs *findings) add(name string, ok bool, fix, format string, args ...any) {
	*fs = append(*fs, Finding{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...), Fix: fix})
}

func (fs *findings) append(f ...Finding) { *fs = append(*fs, f...) }

// checkArchive judges the newest archive in S3: there, young enough,
// readable, not much smaller than the ones before; it fills r's archive
// facts.
func (s *Standby) checkArchive(ctx context.Context, r *ChainReport, fs *findings) {
	c, now := s.App.Check, r.CheckedAt
	f, err := NewFetcher(ctx, s.App, s.Log)
	var l *archive.Listing
	if err == nil {
		l, err = archive.Scan(ctx, f.Store, f.Prefix, f.Scan)
	}
	switch {
	case err != nil:
		fs.add("archive in S3", false, "check the bucket, region and credentials (lifeboat archives shows the details)", "cannot list the bucket: %v", err)
	default:
		newest, ok := l.NewestCandidate()
		if !ok {
			fs.add("archive in S3", false, "check that the backup job runs and writes under s3.prefix", "no valid archive under %s", l.Store)
			break
		}
		r.ArchiveKey, r.ArchiveCapturedAt, r.ArchiveSize = newest.Key, newest.CapturedAt, newest.Size
		age := now.Sub(newest.CapturedAt)
		switch {
		case age < -15*time.Minute:
			// A capture time ahead of the clock says nothing about the
			// data's age: it is not fresh, it is unknown.
			fs.add("archive age", false, "check the clocks of the backup job's host and of this VPS", "newest archive %s claims a capture %s in the future", newest.Key, (-age).Round(time.Minute))
		default:
			fs.add("archive age", age <= c.MaxArchiveAge.D(), "the backup job has not produced an archive lately: check Heroku Scheduler and its logs",
				"newest archive %s captured %s ago (limit %s)", newest.Key, age.Round(time.Minute), c.MaxArchiveAge)
		}
		if newest.TimeNote != "" {
			fs.add("capture time", false, "the archive's own capture time was not believed: look at it with lifeboat inspect --key, and at the backup job", "%s", newest.TimeNote)
		}
		fs.add("archive readable", newest.Header != nil, "open it with lifeboat inspect --key", "its first bytes are a pg_dump archive of %q (PostgreSQL %s)",
			headerDB(newest), headerVersion(newest))
		var sizes []int64
		for _, cand := range l.Candidates {
			if cand.Key != newest.Key && (cand.Status == archive.StatusValid || cand.Status == archive.StatusUnchecked) && len(sizes) < 7 {
				sizes = append(sizes, cand.Size)
			}
		}
		if len(sizes) == 0 {
			fs.add("archive size", true, "", "%s; no earlier archive to compare with", report.Bytes(newest.Size))
		} else {
			med := median(sizes)
			ok := float64(newest.Size) >= c.MinSizeRatio*float64(med)
			fs.add("archive size", ok, "a much smaller backup than usual may be missing data: inspect it (lifeboat inspect --key) and check the backup job",
				"%s against a median of %s over the %d archives before it (limit: %.0f%%)", report.Bytes(newest.Size), report.Bytes(med), len(sizes), 100*c.MinSizeRatio)
		}
		for _, w := range l.Warnings {
			fs.add("newer objects", false, "look at them with lifeboat archives; remove failed uploads", "%s", w)
		}
	}
}

// checkRefresh judges the last refresh (paused while serving).
func (s *Standby) checkRefresh(now time.Time, serving *state.Serving, fs *findings) {
	c := s.App.Check
	if run, err := s.State.LastRun("refresh"); err != nil || run == nil {
		fs.add("last refresh", serving != nil, "run lifeboat refresh, and schedule it (lifeboat schedule install)", "no refresh has run")
	} else {
		age := now.Sub(run.FinishedAt)
		switch {
		case serving != nil:
			fs.add("last refresh", true, "", "paused while serving (since %s); the last one %s %s ago", serving.Since.Format(time.RFC3339), run.Outcome, age.Round(time.Minute))
		case !run.OK:
			fs.add("last refresh", false, "read the error, fix it, run lifeboat refresh", "failed %s ago: %s", age.Round(time.Minute), run.Error)
		case age > c.MaxRefreshAge.D():
			fs.add("last refresh", false, "is the refresh timer running? (lifeboat schedule list)", "succeeded %s ago (limit %s)", age.Round(time.Minute), c.MaxRefreshAge)
		default:
			fs.add("last refresh", true, "", "%s %s ago", run.Outcome, age.Round(time.Minute))
		}
	}

}

// checkDrill judges the last drill.
func (s *Standby) checkDrill(now time.Time, fs *findings) {
	c := s.App.Check
	if rep, err := report.Load(s.State.DrillsDir(), "latest"); err != nil {
		fs.add("last drill", false, "run lifeboat drill, and schedule it (lifeboat schedule install)", "no drill has run")
	} else {
		age := now.Sub(rep.FinishedAt)
		switch {
		case !rep.Pass():
			fs.add("last drill", false, "open its report: lifeboat report latest --html report.html", "drill %s failed %s ago", rep.ID, age.Round(time.Minute))
		case age > c.MaxDrillAge.D():
			fs.add("last drill", false, "is the drill timer running? (lifeboat schedule list)", "passed %s ago (limit %s)", age.Round(time.Minute), c.MaxDrillAge)
		default:
			fs.add("last drill", true, "", "passed %s ago: RTO %s, RPO %s", age.Round(time.Minute),
				report.Span(rep.RTO.Seconds), report.Seconds(rep.RPO.Seconds).Round(time.Minute))
		}
	}

}

// checkStandby judges the standby database's container.
func (s *Standby) checkStandby(ctx context.Context, fs *findings) {
	if g, err := s.CurrentGeneration(); err != nil {
		fs.add("standby database", false, "run lifeboat refresh (or lifeboat restore)", "%v", err)
	} else if s.Engine != nil {
		ctr, err := s.Engine.InspectContainer(ctx, g.Container)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			fs.add("standby database", false, DatabaseGoneAdvice, "generation %d's container %s was removed (by hand?)", g.Number, g.Container)
		case err != nil:
			fs.add("standby database", false, "is Docker running? (lifeboat ps)", "generation %d cannot be inspected: %v", g.Number, err)
		case ctr.State != "running":
			fs.add("standby database", false, "lifeboat up starts it (or lifeboat refresh)", "generation %d is %s", g.Number, ctr.State)
		default:
			fs.add("standby database", true, "", "generation %d running, data captured %s", g.Number, g.Archive.CapturedAt.Format(time.RFC3339))
		}
	}
}

// checkRoom says whether the disks hold the next refresh.
func (s *Standby) checkRoom(ctx context.Context, fs *findings) {
	switch plan, err := s.RoomPlan(ctx); {
	case err != nil:
		fs.add("disk for the next refresh", false, "free space on the disk named (old Docker images, other files), or lower cache.min_free", "%v", err)
	case plan == nil:
		fs.add("disk for the next refresh", true, "", "no archive cached yet: the first fetch and restore check their room as they go")
	default:
		var parts []string
		for _, fs := range plan.Filesystems {
			parts = append(parts, fmt.Sprintf("%s: ~%s needed, %s free, %s kept free", fs.Path, report.Bytes(fs.Need), report.Bytes(fs.Free), report.Bytes(fs.Keep)))
		}
		fs.add("disk for the next refresh", true, "", "%s", strings.Join(parts, "; "))
	}

}

func headerDB(c *archive.Candidate) string {
	if c.Header == nil {
		return "?"
	}
	return c.Header.DatabaseName
}

func headerVersion(c *archive.Candidate) string {
	if c.Header == nil {
		return "?"
	}
	return c.Header.ServerVersion
}

func median(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
