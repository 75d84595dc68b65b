package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// maxRehearsalFallbacks bounds how many broken archives a drill skips to
// rehearse an older one.
const maxRehearsalFallbacks = 3

// broken is an archive that was downloaded but failed verification.
type broken struct {
	key, reason string
}

// fetchNewestGood downloads and verifies the newest archive of the listing
// that passes verification, newest first from newest. An archive that fails
// verification is marked broken among the report's candidates and the next
// older one is tried (at most maxRehearsalFallbacks), so that a drill whose
// newest object is broken still shows whether a recovery from the last good
// archive would work. It returns the fetch, the seconds spent on broken
// archives, and the broken ones; its error is the last one's when none
// passes (wrapping archive.ErrVerify), or any other fetch error.
func (d *drill) fetchNewestGood(ctx context.Context, f *archive.Fetcher, l *archive.Listing, newest *archive.Candidate) (*archive.FetchResult, float64, []broken, error) {
	var (
		wasted  float64
		bad     []broken
		lastErr error
	)
	for _, c := range rehearsalOrder(l, newest) {
		if len(bad) > maxRehearsalFallbacks {
			break
		}
		if lastErr != nil {
			d.standby.say("rehearsing the next older archive, %s", textsafe.Escape(c.Key))
		}
		start := time.Now()
		fr, err := f.Fetch(ctx, archive.FetchRequest{Key: c.Key})
		if err == nil {
			return fr, wasted, bad, nil
		}
		if !errors.Is(err, archive.ErrVerify) || ctx.Err() != nil {
			return nil, wasted, bad, err
		}
		wasted += time.Since(start).Seconds()
		reason := err.Error()
		var ve *archive.VerifyError
		if errors.As(err, &ve) {
			reason = ve.Err.Error()
		}
		bad = append(bad, broken{key: c.Key, reason: reason})
		d.markBroken(c.Key, reason)
		d.standby.say("%s failed verification: %s", textsafe.Escape(c.Key), textsafe.Escape(reason))
		lastErr = err
	}
	return nil, wasted, bad, lastErr
}

// rehearsalOrder is newest, then every older candidate that may be an
// archive (valid, or not opened), newest first.
func rehearsalOrder(l *archive.Listing, newest *archive.Candidate) []archive.Candidate {
	out := []archive.Candidate{*newest}
	for _, c := range l.Candidates {
		if c.Key != newest.Key && (c.Status == archive.StatusValid || c.Status == archive.StatusUnchecked) &&
			!c.CapturedAt.After(newest.CapturedAt) {
			out = append(out, c)
		}
	}
	return out
}

// markBroken records among the report's candidates that key failed
// verification.
func (d *drill) markBroken(key, reason string) {
	for i := range d.rep.Candidates {
		if d.rep.Candidates[i].Key == key {
			d.rep.Candidates[i].Status = report.CandidateBroken
			d.rep.Candidates[i].SkipReason = "downloaded, but failed verification: " + reason
		}
	}
}

// rehearsedInstead records in the report that the drill rehearsed an older
// archive because the newer ones are broken: the drill fails (the backup job
// needs a look), and says whether the last good archive recovers and how
// old its data is.
func (d *drill) rehearsedInstead(bad []broken) {
	if len(bad) == 0 {
		return
	}
	rep := d.rep
	var keys, what []string
	for _, b := range bad {
		keys = append(keys, b.key)
		what = append(what, fmt.Sprintf("%s (%s)", b.key, b.reason))
	}
	rep.Archive.InsteadOf = keys
	subject := "The newest archive in the bucket is broken: " + what[0]
	if len(bad) > 1 {
		subject = fmt.Sprintf("The %d newest archives in the bucket are broken: %s", len(bad), strings.Join(what, "; "))
	}
	rep.Failures = append(rep.Failures, fmt.Sprintf("%s. The backup job needs a look (its logs, and lifeboat inspect --key %s --verify). "+
		"The drill rehearsed the newest archive that verifies instead, %s, captured %s: its data was %s old; the phases, checks and RPO below are that rehearsal's.",
		subject, bad[0].key, rep.Archive.Key, rep.Archive.CapturedAt.UTC().Format("2006-01-02 15:04 MST"), report.Duration(rep.Archive.AgeSeconds)))
}
