package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestMirrorCatchesUpAfterAnOutage: archives verified by fetch are copied
// to a second MinIO with its own credentials; while that one is stopped a
// fetch still succeeds (a warning), check says the mirror is behind and
// mirror check lists what it lacks; the next fetch, with the mirror back,
// catches up.
func TestMirrorCatchesUpAfterAnOutage(t *testing.T) {
	w := newWorld(t, "")
	second := testenv.StartS3(t)
	second.CreateBucket(t, "offsite")
	cfg := mustRead(t, w.cfgPath) + fmt.Sprintf(`    mirror:
      bucket: offsite
      endpoint: %s
      path_style: true
      credentials_file: %s
      timeout: 3s
      part_size: 5MiB
`, second.Endpoint, second.WriteCredentialsFile(t, t.TempDir()))
	if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	archiveAt := func(ago time.Duration) (string, []byte) {
		a := dumptest.New(16)
		at := time.Now().UTC().Add(-ago)
		a.Tm = [7]int{at.Second(), at.Minute(), at.Hour(), at.Day(), int(at.Month()) - 1, at.Year() - 1900, 0}
		a.AddTables(1, "CREATE TABLE x ();", []string{strings.Repeat("row\n", 1<<20)}) // a few MiB: a multipart copy
		body := gzipBytes(t, a)
		key := w.key(ago, true)
		w.s3.Put(t, bucket, key, body)
		return key, body
	}
	mirrorCheck := func() (int, []string) {
		t.Helper()
		code, out, errOut := lb(t, "--config", w.cfgPath, "mirror", "check", "--json")
		var doc struct {
			Lacks []struct {
				Key string `json:"key"`
				Why string `json:"why"`
			} `json:"lacks"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("mirror check --json: %v\n%s\n%s", err, out, errOut)
		}
		var keys []string
		for _, l := range doc.Lacks {
			keys = append(keys, l.Key)
		}
		return code, keys
	}

	first, firstBody := archiveAt(26 * time.Hour)
	if code, _, errOut := lb(t, "--config", w.cfgPath, "fetch"); code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, errOut)
	}
	if got := second.Get(t, "offsite", first); !bytes.Equal(got, firstBody) {
		t.Fatalf("the mirror holds %d bytes, not the archive's %d", len(got), len(firstBody))
	}
	if code, lacks := mirrorCheck(); code != 0 || len(lacks) != 0 {
		t.Fatalf("mirror check: exit %d, lacks %v", code, lacks)
	}

	// The mirror goes down; the refresh's fetch does not.
	second.Stop(t)
	next, nextBody := archiveAt(2 * time.Hour)
	start := time.Now()
	code, out, errOut := lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != 0 || !strings.Contains(out, "mirror") || !strings.Contains(out, "retried next run") {
		t.Fatalf("fetch with the mirror down: exit %d\n%s\n%s", code, out, errOut)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the mirror being down cost the fetch %v", d)
	}
	_, findings := runCheck(t, w)
	if f := findings["mirror"]; f.OK || !strings.Contains(f.Detail, "1 verified archive(s) behind") || !strings.Contains(f.Detail, next) {
		t.Errorf("check with the mirror behind: %+v", f)
	}
	if code, lacks := mirrorCheck(); code != exitFailed || len(lacks) != 2 {
		t.Errorf("mirror check with the mirror down: exit %d, lacks %v (it cannot tell: all unknown)", code, lacks)
	}

	second.Start(t)
	if code, lacks := mirrorCheck(); code != exitFailed || len(lacks) != 1 || lacks[0] != next {
		t.Errorf("mirror check with the mirror back: exit %d, lacks %v, want [%s]", code, lacks, next)
	}
	// The next run catches up (the archive is already cached: it is
	// handed to the mirror all the same).
	if code, _, errOut := lb(t, "--config", w.cfgPath, "fetch"); code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, errOut)
	}
	if got := second.Get(t, "offsite", next); !bytes.Equal(got, nextBody) {
		t.Fatalf("after catching up the mirror holds %d bytes, not the archive's %d", len(got), len(nextBody))
	}
	if code, lacks := mirrorCheck(); code != 0 {
		t.Errorf("mirror check after catching up: exit %d, lacks %v", code, lacks)
	}
	_, findings = runCheck(t, w)
	if f := findings["mirror"]; !f.OK {
		t.Errorf("check after catching up: %+v", f)
	}
}
