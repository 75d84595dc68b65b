package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

type vaultEntryJSON struct {
	Name         string   `json:"name"`
	Key          string   `json:"key"`
	Path         string   `json:"path"`
	ObjectSHA256 string   `json:"object_sha256"`
	DumpSHA256   string   `json:"dump_sha256"`
	Reasons      []string `json:"reasons"`
	Vault        struct {
		Linked    bool   `json:"linked"`
		Bad       bool   `json:"bad"`
		Encrypted string `json:"encrypted"`
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
    rpo_target: 1000h
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

	// A drill rehearses it too, saying the archive came from the vault.
	code, out, errOut = lb(t, "--config", cfgPath, "drill", "--archive", "vault:"+older.Name, "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Result != "pass" {
		t.Fatalf("drill --archive vault:%s: exit %d %v\n%s\n%s", older.Name, code, err, out, errOut)
	}
	if rep.Archive.Source != "vault" || rep.Archive.Key != older.Key || rep.Archive.SHA256 != older.DumpSHA256 || len(rep.Tables) == 0 {
		t.Errorf("drill of vault:%s: archive %+v, %d tables", older.Name, rep.Archive, len(rep.Tables))
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

// TestVaultKeepsEncryptedArchivesEncrypted (a real run): an age-encrypted
// archive fetched with s3.identity_file is kept in the vault as the
// ciphertext fetch verified, never as the decrypted dump; gone from the
// cache, it is restored from the vault (decrypted with the identity) into
// a real database with the source's exact row counts; without the key,
// restore names s3.identity_file; vault verify re-reads the ciphertext.
func TestVaultKeepsEncryptedArchivesEncrypted(t *testing.T) {
	const app = "vaultage"
	testenv.RequirePostgresImage(t)
	t.Cleanup(func() { removeAppObjects(t, app) })
	s3srv := testenv.StartS3(t)
	s3srv.CreateBucket(t, bucket)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(t.TempDir(), "age-identity")
	if err := os.WriteFile(identity, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	prefix := "backups/" + app + "/DATABASE_URL/"
	creds := s3srv.WriteCredentialsFile(t, t.TempDir())
	config := func(s3extra string) string {
		p := filepath.Join(t.TempDir(), "lifeboat.yaml")
		cfg := fmt.Sprintf(`state_dir: %s
log_level: warn
apps:
  - name: %s
    s3: {bucket: %s, prefix: %s, endpoint: %s, path_style: true, credentials_file: %s, timeout: 5s%s}
    cache: {keep: 1}
    database: {image: auto, jobs: 2}
    vault: {enabled: true}
`, stateDir, app, bucket, prefix, s3srv.Endpoint, creds, s3extra)
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgPath, noKey := config(", identity_file: "+identity), config("")

	d := sourceDump(t)
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(testenv.WithCreatedAt(t, d, time.Now().Add(-2*time.Hour)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	key := prefix + filepath.Base(testenv.HerokuKey(app, "DATABASE_URL", time.Now().Add(-2*time.Hour), "UTC", false)) + ".age"
	s3srv.Put(t, bucket, key, ct.Bytes())
	code, out, errOut := lb(t, "--config", cfgPath, "fetch", "--json")
	var fr archive.FetchResult
	if err := json.Unmarshal([]byte(out), &fr); err != nil || code != 0 || fr.Entry == nil {
		t.Fatalf("fetch: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	if strings.Contains(errOut, "vault") {
		t.Errorf("fetch warned about the vault: %s", errOut)
	}

	// The vault holds the ciphertext, byte for byte, and says so.
	l := vaultList(t, cfgPath)
	if len(l) != 1 || l[0].Key != key || l[0].Vault.Encrypted != "age" || !strings.HasSuffix(l[0].Path, ".age") {
		t.Fatalf("vault after an encrypted fetch: %+v", l)
	}
	kept, err := os.ReadFile(l[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(kept, []byte("age-encryption.org/v1\n")) || bytes.Contains(kept, []byte("PGDMP")) || !bytes.Equal(kept, ct.Bytes()) {
		t.Fatalf("the vault entry is not the age ciphertext fetched (%d bytes, starts %q)", len(kept), kept[:min(len(kept), 24)])
	}
	if sum := sha256.Sum256(ct.Bytes()); l[0].ObjectSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest object_sha256 %s, the ciphertext's is %x", l[0].ObjectSHA256, sum)
	}
	des, _ := os.ReadDir(filepath.Dir(l[0].Path))
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".dump") {
			t.Errorf("the vault holds a decrypted dump: %s", de.Name())
		}
	}

	// The archive leaves the cache: the vault is all there is.
	os.Remove(fr.Entry.Path)
	os.Remove(fr.Entry.ManifestPath)

	// Without the key, restore says which key it needs.
	if code, _, errOut := lb(t, "--config", noKey, "restore", "--archive", "vault:"+l[0].Name); code != exitFailed || !strings.Contains(errOut, "s3.identity_file") {
		t.Errorf("restore from the vault without the identity: exit %d: %s", code, errOut)
	}
	code, out, errOut = lb(t, "--config", cfgPath, "restore", "--archive", "vault:"+l[0].Name, "--json")
	if code != 0 {
		t.Fatalf("restore --archive vault:%s: exit %d\n%s\n%s", l[0].Name, code, out, errOut)
	}
	var rr struct {
		Generation struct {
			Archive struct {
				Key string `json:"key"`
			} `json:"archive"`
			Tables []struct {
				Schema, Name string
				Rows         int64
			} `json:"tables"`
		} `json:"generation"`
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Generation.Archive.Key != key {
		t.Errorf("restored %q, want %q", rr.Generation.Archive.Key, key)
	}
	got := map[string]int64{}
	for _, tr := range rr.Generation.Tables {
		got[tr.Schema+"."+tr.Name] = tr.Rows
	}
	for table, n := range rowCounts {
		if got[table] != n {
			t.Errorf("restored %s has %d rows, the source %d", table, got[table], n)
		}
	}

	// vault verify re-reads the ciphertext; a flipped byte is found.
	if code, out, errOut := lb(t, "--config", cfgPath, "vault", "verify"); code != 0 || !strings.Contains(out, "age ciphertext") {
		t.Errorf("vault verify: exit %d\n%s\n%s", code, out, errOut)
	}
	kept[len(kept)/2] ^= 0x01
	if err := os.WriteFile(l[0].Path, kept, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := lb(t, "--config", cfgPath, "vault", "verify"); code != exitFailed || !strings.Contains(out, "BAD  "+l[0].Name) {
		t.Errorf("vault verify after bit rot: exit %d\n%s\n%s", code, out, errOut)
	}
}
