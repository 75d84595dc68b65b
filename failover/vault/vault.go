// Package vault keeps a history of verified archives on the VPS, apart
// from the cache that restores use: every archive a fetch verified is
// kept (a hard link to the cache's file when it can be, else a copy, each
// with its manifest), thinned out by grandfather-father-son retention,
// and re-read against its manifest by Verify so that bit rot is found and
// named. An entry that fails is marked bad, never deleted by Lifeboat.
//
//	{dir}/{captured}_{keyhash}.dump   the pg_dump archive, as verified
//	{dir}/{captured}_{keyhash}.age    or, for an archive that came encrypted
//	{dir}/{captured}_{keyhash}.gpg    (age, gpg), the ciphertext as verified
//	{dir}/{captured}_{keyhash}.json   its Manifest (the commit point)
//
// An archive that came encrypted stays encrypted: the vault keeps the
// downloaded object, whose SHA-256 the manifest has (object_sha256), and a
// restore from it decrypts it with the configured key, as fetch does.
//
// Other files in the directory are left alone.
package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// Named errors.
var (
	// ErrNotFound: no vault entry of that name.
	ErrNotFound = errors.New("no such vault entry")
	// ErrBad: the entry failed verification and is marked bad.
	ErrBad = errors.New("vault entry marked bad")
	// ErrMismatch: a copy read back differs from the manifest.
	ErrMismatch = errors.New("copy differs from its manifest")
	// ErrNoCiphertext: the archive came encrypted and only its decrypted
	// dump is at hand (it was in the cache before the vault was on); the
	// vault keeps no plaintext of an encrypted archive.
	ErrNoCiphertext = errors.New("the archive came encrypted and its ciphertext is no longer on the VPS")
)

// Info is what the vault adds to an archive's manifest.
type Info struct {
	KeptAt time.Time `json:"kept_at"`
	// Linked: the dump is a hard link to the cache's file (same inode,
	// no extra space until the cache lets it go); else a copy.
	Linked bool `json:"linked"`
	// LastVerified is when Verify last read it and found it right.
	LastVerified time.Time `json:"last_verified,omitempty"`
	// Bad is set by Verify when the dump no longer matches; the entry is
	// kept (for forensics, and because a partial archive may still help),
	// never used by restore, and never pruned.
	Bad       bool      `json:"bad"`
	BadReason string    `json:"bad_reason,omitempty"`
	BadSince  time.Time `json:"bad_since,omitempty"`
	// Encrypted is "age" or "gpg" when the entry is the archive's
	// ciphertext (its size and SHA-256: the manifest's object_size and
	// object_sha256), "" when it is the pg_dump archive itself.
	Encrypted string `json:"encrypted,omitempty"`
}

// Manifest is an archive's manifest as the cache wrote it, plus Info.
type Manifest struct {
	archive.Manifest
	Vault Info `json:"vault"`
}

// Entry is one archive in the vault.
type Entry struct {
	// Name identifies it ({captured}_{keyhash}), e.g. for restore --archive vault:NAME.
	Name string `json:"name"`
	Manifest
	Path         string `json:"path"`
	ManifestPath string `json:"manifest_path"`
	// Reasons say why retention keeps it ("newest", "daily 2026-01-05"…);
	// empty for a bad entry, which is kept for being bad.
	Reasons []string `json:"reasons"`
}

// Vault is a directory of kept archives.
type Vault struct {
	Dir  string
	Keep Keep
}

var (
	entryName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}$`)
	entryFile = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}\.(dump|age|gpg|json)$`)
	tempFile  = regexp.MustCompile(`^\.[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}\.(dump|age|gpg|json)\.tmp-[0-9]+$`)
)

// Init creates the directory (0700) and refuses one others may write to.
func (v *Vault) Init() error {
	if err := fsutil.MkdirPrivate(v.Dir); err != nil {
		return fmt.Errorf("vault.dir %s: %w", v.Dir, err)
	}
	return nil
}

func (v *Vault) paths(name string) (dump, manifest string) {
	return filepath.Join(v.Dir, name+".dump"), filepath.Join(v.Dir, name+".json")
}

// file is the entry's kept file: the dump, or the ciphertext of an
// encrypted archive (encrypted is the manifest's, checked: age or gpg).
func (v *Vault) file(name, encrypted string) (string, error) {
	switch encrypted {
	case "":
		return filepath.Join(v.Dir, name+".dump"), nil
	case crypt.Age, crypt.GPG:
		return filepath.Join(v.Dir, name+"."+encrypted), nil
	}
	return "", fmt.Errorf("vault entry %s: unknown encryption %q in its manifest", name, encrypted)
}

// Want is the size and SHA-256 the entry's file must have: the
// ciphertext's for an encrypted archive, else the dump's.
func (m Manifest) Want() (size int64, sha string) {
	if m.Vault.Encrypted != "" {
		return m.ObjectSize, m.ObjectSHA256
	}
	return m.DumpSize, m.DumpSHA256
}

// Add keeps the verified cache entry e in the vault, unless it is there
// already, and then applies retention. An archive that came encrypted
// (e.Wrap age… or gpg…) is kept as its ciphertext, e.Object, checked
// against the manifest's object_sha256; without e.Object it is not kept
// (ErrNoCiphertext). It returns the names retention
// removed. The dump is hard-linked when the vault shares the cache's file
// system, else copied and the copy read back against the manifest's
// SHA-256; the manifest is written last (the commit point), so a crash
// leaves at most a dump without manifest, which is never listed and is
// replaced by the next Add of the same archive.
func (v *Vault) Add(ctx context.Context, e archive.Entry) (added bool, pruned []string, err error) {
	if err := v.Init(); err != nil {
		return false, nil, err
	}
	v.cleanTemps()
	name := archive.BaseName(e.Key, e.CapturedAt)
	dumpPath, manPath := v.paths(name)
	var have Manifest
	if fsutil.ReadJSON(manPath, &have) == nil && have.DumpSHA256 == e.DumpSHA256 && have.DumpSHA256 != "" {
		pruned, err = v.Prune()
		return false, pruned, err
	}
	kind, _ := archive.SplitWrap(e.Wrap)
	src, wantSize, wantSHA := e.Path, e.DumpSize, e.DumpSHA256
	if kind != "" {
		if e.Object == "" {
			return false, nil, fmt.Errorf("%w: %s is in the cache only decrypted; the vault keeps encrypted archives encrypted, so it keeps the next one fetched", ErrNoCiphertext, e.Key)
		}
		src, wantSize, wantSHA = e.Object, e.ObjectSize, e.ObjectSHA256
		if dumpPath, err = v.file(name, kind); err != nil {
			return false, nil, err
		}
	}
	tmp := filepath.Join(v.Dir, fmt.Sprintf(".%s.tmp-%d", filepath.Base(dumpPath), os.Getpid()))
	os.Remove(tmp)
	// The cache's dump may be shared (a hard link); the downloaded object
	// is about to be discarded, and is checked as it is copied.
	linked := kind == "" && os.Link(src, tmp) == nil
	if !linked {
		if err := copyVerified(ctx, src, tmp, wantSHA, wantSize); err != nil {
			os.Remove(tmp)
			return false, nil, err
		}
	}
	if err := fsutil.CommitFile(tmp, dumpPath); err != nil {
		os.Remove(tmp)
		return false, nil, err
	}
	m := Manifest{Manifest: e.Manifest, Vault: Info{KeptAt: time.Now().UTC(), Linked: linked, Encrypted: kind}}
	m.DumpFile = filepath.Base(dumpPath)
	if err := fsutil.WriteJSONAtomic(manPath, m, 0o600); err != nil {
		os.Remove(dumpPath)
		return false, nil, err
	}
	pruned, err = v.Prune()
	return true, pruned, err
}

// copyVerified copies src to dst (mode 0600), hashing what it writes, and
// fails with ErrMismatch when size or SHA-256 differ from the manifest's.
func copyVerified(ctx context.Context, src, dst, wantSHA string, wantSize int64) error {
	in, err := fsutil.OpenNoFollow(src, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fsutil.OpenNoFollow(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxReader{ctx, in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying %s into the vault: %w", filepath.Base(src), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != wantSize || (wantSHA != "" && got != wantSHA) {
		return fmt.Errorf("%w: %s: %d bytes, sha256 %s; the manifest says %d bytes, sha256 %s", ErrMismatch, filepath.Base(src), n, got, wantSize, wantSHA)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// cleanTemps removes the temp files of interrupted writes.
func (v *Vault) cleanTemps() {
	des, _ := os.ReadDir(v.Dir)
	for _, de := range des {
		if de.Type().IsRegular() && tempFile.MatchString(de.Name()) {
			os.Remove(filepath.Join(v.Dir, de.Name()))
		}
	}
}

// List returns the entries, newest capture first, each with the reasons
// retention keeps it.
func (v *Vault) List() ([]Entry, error) {
	des, err := os.ReadDir(v.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.Type().IsRegular() || !entryFile.MatchString(de.Name()) || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		name := strings.TrimSuffix(de.Name(), ".json")
		_, manPath := v.paths(name)
		var m Manifest
		if err := fsutil.ReadJSON(manPath, &m); err != nil || m.Version == 0 {
			continue
		}
		dumpPath, err := v.file(name, m.Vault.Encrypted)
		if err != nil {
			continue
		}
		out = append(out, Entry{Name: name, Manifest: m, Path: dumpPath, ManifestPath: manPath, Reasons: []string{}})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CapturedAt.Equal(out[j].CapturedAt) {
			return out[i].CapturedAt.After(out[j].CapturedAt)
		}
		return out[i].Name > out[j].Name
	})
	// Retention counts good entries only: a bad one never takes the slot
	// of a good one.
	var good []int
	var times []time.Time
	for i, e := range out {
		if !e.Vault.Bad {
			good = append(good, i)
			times = append(times, e.CapturedAt)
		}
	}
	for k, reasons := range Reasons(times, v.Keep) {
		out[good[k]].Reasons = append(out[good[k]].Reasons, reasons...)
	}
	return out, nil
}

// Prune removes the good entries retention does not keep, manifest first
// (so a crash never leaves a listed entry without its dump), and returns
// their names. Bad entries are never removed.
func (v *Vault) Prune() ([]string, error) {
	l, err := v.List()
	if err != nil {
		return nil, err
	}
	removed := []string{}
	for _, e := range l {
		if e.Vault.Bad || len(e.Reasons) > 0 {
			continue
		}
		if err := os.Remove(e.ManifestPath); err != nil {
			return removed, err
		}
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e.Name)
	}
	if len(removed) > 0 {
		if err := fsutil.SyncDir(v.Dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// Get returns the entry called name. Errors: ErrNotFound; ErrBad (with
// the entry) when it is marked bad.
func (v *Vault) Get(name string) (Entry, error) {
	if !entryName.MatchString(name) {
		return Entry{}, fmt.Errorf("%w: %q (names look like 20240501T030000Z_1a2b3c4d: see lifeboat vault list)", ErrNotFound, name)
	}
	l, err := v.List()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range l {
		if e.Name == name {
			if e.Vault.Bad {
				return e, fmt.Errorf("%w: %s: %s", ErrBad, name, e.Vault.BadReason)
			}
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q in %s (see lifeboat vault list)", ErrNotFound, name, v.Dir)
}

// Find returns the entry whose dump is at path, if any.
func (v *Vault) Find(path string) (Entry, bool) {
	l, _ := v.List()
	for _, e := range l {
		if e.Path == path {
			return e, true
		}
	}
	return Entry{}, false
}

// Check is the result of verifying one entry.
type Check struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	OK   bool   `json:"ok"`
	// Detail says what was found: the bytes and hash read, or what differs.
	Detail string `json:"detail"`
	// Marked is "bad" when this run marked it bad, "good" when an entry
	// marked bad before reads right again, else "".
	Marked string `json:"marked,omitempty"`
}

// Verify re-reads every entry's file against its manifest (size and
// SHA-256: of the ciphertext for an encrypted archive, see Manifest.Want). An entry that differs, or whose dump is gone, is marked bad
// in its manifest (and so never used and never pruned); one that reads
// right gets LastVerified. It returns one Check per entry.
func (v *Vault) Verify(ctx context.Context) ([]Check, error) {
	l, err := v.List()
	if err != nil {
		return nil, err
	}
	checks := []Check{}
	for _, e := range l {
		if err := ctx.Err(); err != nil {
			return checks, err
		}
		c := Check{Name: e.Name, Key: e.Key}
		n, sum, rerr := hashFile(ctx, e.Path)
		what, wantSize, wantSHA := "dump", e.DumpSize, e.DumpSHA256
		if e.Vault.Encrypted != "" {
			what = e.Vault.Encrypted + " ciphertext"
			wantSize, wantSHA = e.Want()
		}
		switch {
		case errors.Is(rerr, context.Canceled) || errors.Is(rerr, context.DeadlineExceeded):
			return checks, rerr
		case rerr != nil:
			c.Detail = fmt.Sprintf("cannot read the %s: %v", what, rerr)
		case n != wantSize:
			c.Detail = fmt.Sprintf("the %s is %d bytes, the manifest says %d", what, n, wantSize)
		case sum != wantSHA:
			c.Detail = fmt.Sprintf("the %s's SHA-256 is %s, the manifest says %s: bit rot or an outside change", what, sum, wantSHA)
		default:
			c.OK = true
			c.Detail = fmt.Sprintf("%d bytes, sha256 %s", n, sum)
			if e.Vault.Encrypted != "" {
				c.Detail = what + ", " + c.Detail
			}
		}
		m := e.Manifest
		now := time.Now().UTC()
		switch {
		case c.OK:
			if m.Vault.Bad {
				c.Marked = "good"
				c.Detail += fmt.Sprintf(" (marked bad since %s: %s; it reads right again)", m.Vault.BadSince.Format(time.RFC3339), m.Vault.BadReason)
				m.Vault.Bad, m.Vault.BadReason, m.Vault.BadSince = false, "", time.Time{}
			}
			m.Vault.LastVerified = now
		case !m.Vault.Bad:
			c.Marked = "bad"
			m.Vault.Bad, m.Vault.BadReason, m.Vault.BadSince = true, c.Detail, now
		}
		if err := fsutil.WriteJSONAtomic(e.ManifestPath, m, 0o600); err != nil {
			return checks, err
		}
		checks = append(checks, c)
	}
	return checks, nil
}

func hashFile(ctx context.Context, path string) (int64, string, error) {
	f, err := fsutil.OpenNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	return n, hex.EncodeToString(h.Sum(nil)), err
}
