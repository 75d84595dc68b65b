package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

type vaultEntryJSON struct {
	Name    string   `json:"name"`
	Key     string   `json:"key"`
	Path    string   `json:"path"`
	Reasons []string `json:"reasons"`
	Vault   struct {
		Linked bool `json:"linked"`
		Bad    bool `json:"bad"`
	} `json:"vault"`
}

func vaultList(t *testing.T, cfgPath string) []vaultEntryJSON {
	t.Helper()
	code, out, errOut := lb(t, "--config", cfgPath, "vault", "list", "--json")
	var doc struct {
		Entries []vaultEntryJSON `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("vault list --json: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	return doc.Entries
}

// TestVaultKeepsVerifiedArchives (a real run): two fetches from MinIO with
// a cache of one; the vault keeps both, as hard links; the older one,
// gone from the cache, is restored from the vault into a real database;
// a flipped byte is found by vault verify, marked bad, and refused by
// restore.
func TestVaultKeepsVerifiedArchives(t *testing.T) {
	const app = "vaultshop"
	testenv.RequirePostgresImage(t)
	t.Cleanup(func() { removeAppObjects(t, app) })
	s3srv := testenv.StartS3(t)
	s3srv.CreateBucket(t, bucket)
	stateDir := t.TempDir()
	prefix := "backups/" + app + "/DATABASE_URL/"
	cfgPath := filepath.Join(t.TempDir(), "lifeboat.yaml")
	cfg := fmt.Sprintf(`state_dir: %s
log_level: warn
apps:
  - name: %s
    s3: {bucket: %s, prefix: %s, endpoint: %s, path_style: true, credentials_file: %s, timeout: 5s}
    cache: {keep: 1}
    database: {image: auto, jobs: 2}
    vault:
      enabled: true
      keep: {daily: 7, weekly: 4, monthly: 12}
`, stateDir, app, bucket, prefix, s3srv.Endpoint, s3srv.WriteCredentialsFile(t, t.TempDir()))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := lb(t, "--config", cfgPath, "vault", "list"); code != 0 || errOut != "" {
		t.Fatalf("vault list of an empty vault: exit %d: %s", code, errOut)
	}

	d := sourceDump(t)
	now := time.Now().UTC()
	var keys []string
	for _, ago := range []time.Duration{50 * time.Hour, 2 * time.Hour} {
		key := prefix + filepath.Base(testenv.HerokuKey(app, "DATABASE_URL", now.Add(-ago), "UTC", true))
		s3srv.Put(t, bucket, key, testenv.Gzip(t, testenv.WithCreatedAt(t, d, now.Add(-ago))))
		if code, _, errOut := lb(t, "--config", cfgPath, "fetch"); code != 0 {
			t.Fatalf("fetch: exit %d: %s", code, errOut)
		}
		keys = append(keys, key)
	}
	l := vaultList(t, cfgPath)
	if len(l) != 2 || l[0].Key != keys[1] || l[1].Key != keys[0] {
		t.Fatalf("vault after two fetches: %+v", l)
	}
	if !slices.Contains(l[0].Reasons, "newest") || len(l[1].Reasons) == 0 || !strings.HasPrefix(l[1].Reasons[0], "daily ") {
		t.Errorf("reasons: %v / %v", l[0].Reasons, l[1].Reasons)
	}
	for _, e := range l {
		if !e.Vault.Linked {
			t.Errorf("%s is a copy, though vault and cache share a file system", e.Name)
		}
	}
	older := l[1]

	// The older archive left the cache (keep: 1); the vault restores it.
	code, out, errOut := lb(t, "--config", cfgPath, "restore", "--archive", "vault:"+older.Name, "--json")
	var rr struct {
		Generation struct {
			Status  string `json:"status"`
			Archive struct {
				Key string `json:"key"`
			} `json:"archive"`
		} `json:"generation"`
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil || code != 0 {
		t.Fatalf("restore --archive vault:%s: exit %d %v\n%s\n%s", older.Name, code, err, out, errOut)
	}
	if rr.Generation.Archive.Key != older.Key {
		t.Errorf("restored %q, want the vault entry's key %q", rr.Generation.Archive.Key, older.Key)
	}

	// Bit rot: one flipped byte in the middle of the older dump.
	b, err := os.ReadFile(older.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(older.Path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = lb(t, "--config", cfgPath, "vault", "verify")
	if code != exitFailed || !strings.Contains(out, "BAD  "+older.Name) || !strings.Contains(out, "ok   "+l[0].Name) || !strings.Contains(errOut, "1 of 2") {
		t.Errorf("vault verify after bit rot: exit %d\n%s\n%s", code, out, errOut)
	}
	l = vaultList(t, cfgPath)
	if len(l) != 2 || !l[1].Vault.Bad || l[0].Vault.Bad {
		t.Errorf("after verify: %+v", l)
	}
	if code, _, errOut := lb(t, "--config", cfgPath, "restore", "--archive", "vault:"+older.Name); code != exitFailed || !strings.Contains(errOut, "marked bad") {
		t.Errorf("restore of a bad entry: exit %d: %s", code, errOut)
	}
	if code, _, errOut := lb(t, "--config", cfgPath, "restore", "--archive", "vault:20990101T000000Z_00000000"); code != exitUsage {
		t.Errorf("restore of an unknown entry: exit %d: %s", code, errOut)
	}
}
