package failover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
)

// FailbackOptions tune Failback.
type FailbackOptions struct {
	// StopApp stops the app before the dump, so that no write made after
	// it is lost (users see the app down until DNS points back at Heroku).
	StopApp bool
	// Complete switches the standby back to waiting after the operator
	// restored the dump into Heroku and moved DNS back: the app returns to
	// standby mode and refresh runs again.
	Complete bool
}

// FailbackResult says what Failback did.
type FailbackResult struct {
	Generation int    `json:"generation"`
	File       string `json:"file"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	TOCEntries int    `json:"toc_entries"`
	DataTables int    `json:"data_tables"`
	// Uploaded is the S3 key of the uploaded dump, with a presigned URL
	// (valid 12 hours) that Heroku can fetch.
	Uploaded     string   `json:"uploaded"`
	PresignedURL string   `json:"presigned_url"`
	Commands     []string `json:"commands"`
	Completed    bool     `json:"completed"`
	Seconds      float64  `json:"seconds"`
}

// Failback takes the data written during the outage home: a pg_dump
// (custom format) of the serving database into the state dir, verified by
// reading its TOC to the end, optionally uploaded to S3, with the commands
// that restore it into Heroku Postgres.
func (s *Standby) Failback(ctx context.Context, o FailbackOptions) (*FailbackResult, error) {
	start := time.Now()
	res := &FailbackResult{Commands: []string{}}
	if o.Complete {
		return res, s.completeFailback(ctx, res)
	}
	g, err := s.CurrentGeneration()
	if err != nil {
		return res, err
	}
	res.Generation = g.Number
	if err := s.ensureDatabaseRunning(ctx, g); err != nil {
		return res, err
	}
	if o.StopApp {
		s.say("stopping the app so that nothing is written after the dump")
		if err := s.removeApp(ctx, 0); err != nil {
			return res, err
		}
	}
	dir := s.State.FailbackDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	name := fmt.Sprintf("%s-%s.dump", s.App.Name, time.Now().UTC().Format("20060102T150405Z"))
	final := filepath.Join(dir, name)
	tmp := final + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return res, err
	}
	s.say("pg_dump of generation %d into %s", g.Number, final)
	var stderr strings.Builder
	code, err := s.Engine.Exec(ctx, g.Container, []string{"pg_dump", "--format=custom", "--username", g.User, "--dbname", g.Database},
		engine.ExecOptions{User: "root", Stdout: f, Stderr: &stderr})
	cerr := f.Close()
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_dump exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("failback dump: %w", err)
	}
	// Trust nothing: read it back to its end.
	rf, err := os.Open(tmp)
	if err != nil {
		return res, err
	}
	h := sha256.New()
	a, err := s.App.Download.DumpLimits().Verify(ctx, io.TeeReader(rf, h))
	st, _ := rf.Stat()
	rf.Close()
	if err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("failback dump does not verify: %w", err)
	}
	if err := fsutil.CommitFile(tmp, final); err != nil {
		return res, err
	}
	res.File, res.Size, res.SHA256 = final, st.Size(), hex.EncodeToString(h.Sum(nil))
	res.TOCEntries, res.DataTables = len(a.Entries), len(a.Summary().DataTables)

	if p := s.App.Failback.S3Prefix; p != "" {
		st, err := OpenStore(ctx, s.App)
		if err != nil {
			return res, err
		}
		key := path.Join(p, name)
		s.say("uploading to s3://%s/%s", st.Bucket(), key)
		url, err := st.Upload(ctx, key, final, 12*time.Hour)
		if err != nil {
			return res, fmt.Errorf("the dump is at %s, but the upload failed: %w", final, err)
		}
		res.Uploaded, res.PresignedURL = key, url
	}
	res.Commands = s.failbackCommands(res)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (s *Standby) failbackCommands(r *FailbackResult) []string {
	app := s.App.Stack.Heroku.App
	if app == "" {
		app = "YOUR-HEROKU-APP"
	}
	cmds := []string{
		"# 1. Stop writes on Heroku's side while its database is replaced:",
		"heroku maintenance:on -a " + app,
	}
	if r.PresignedURL != "" {
		cmds = append(cmds,
			"# 2. Restore the standby's data into Heroku Postgres (Heroku downloads it from S3):",
			fmt.Sprintf("heroku pg:backups:restore '%s' DATABASE_URL -a %s --confirm %s", r.PresignedURL, app, app))
	} else {
		cmds = append(cmds,
			"# 2. Restore the standby's data into Heroku Postgres (Heroku's own advice for pg_restore):",
			fmt.Sprintf(`pg_restore --verbose --clean --no-acl --no-owner -d "$(heroku config:get DATABASE_URL -a %s)" %s`, app, r.File))
	}
	return append(cmds,
		"# 3. Bring Heroku back and move DNS back to it:",
		"heroku maintenance:off -a "+app,
		"# 4. Once users reach Heroku again, put the standby back to waiting:",
		"lifeboat failback --complete --app "+s.App.Name)
}

// completeFailback returns the standby to waiting.
func (s *Standby) completeFailback(ctx context.Context, res *FailbackResult) error {
	sv, err := s.State.Serving()
	if err != nil {
		return err
	}
	if sv == nil {
		return fmt.Errorf("not failed over: nothing to complete")
	}
	if err := s.State.ClearServing(); err != nil {
		return err
	}
	res.Completed = true
	if s.App.Stack.Enabled() {
		g, err := s.CurrentGeneration()
		if err != nil {
			return err
		}
		img, _, err := s.appImage(ctx, false)
		if err != nil {
			return err
		}
		if _, err := s.startApp(ctx, g, stack.ModeStandby, img, false); err != nil {
			return fmt.Errorf("back to standby mode, but the app did not start: %w", err)
		}
	}
	return nil
}
