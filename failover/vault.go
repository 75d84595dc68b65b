package failover

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/vault"
)

// ErrVaultOff is returned by the vault commands when vault.enabled is false.
var ErrVaultOff = errors.New("the vault is off (vault.enabled: false)")

// VaultPrefix marks a vault entry where an archive file is expected
// (restore --archive vault:NAME, drill --archive vault:NAME).
const VaultPrefix = "vault:"

// Vault returns the app's vault. Errors: ErrVaultOff.
func Vault(app *config.App) (*vault.Vault, error) {
	if !app.Vault.Enabled {
		return nil, fmt.Errorf("%w: set vault.enabled: true for %s", ErrVaultOff, app.Name)
	}
	return &vault.Vault{Dir: app.Vault.Dir, Keep: vault.Keep{
		Daily: app.Vault.Keep.Daily, Weekly: app.Vault.Keep.Weekly, Monthly: app.Vault.Keep.Monthly,
	}}, nil
}

// afterVerify is what happens to every archive a fetch verified, besides
// the cache: the vault keeps it, the mirror gets a copy (each when
// configured). Failures are warnings.
func afterVerify(app *config.App, log *slog.Logger) func(context.Context, archive.Entry) []string {
	if !app.Vault.Enabled && !app.Mirror.Enabled() {
		return nil
	}
	return func(ctx context.Context, e archive.Entry) []string {
		var warnings []string
		if app.Vault.Enabled {
			warnings = append(warnings, keepInVault(ctx, app, e, log)...)
		}
		if app.Mirror.Enabled() {
			warnings = append(warnings, mirrorVerified(ctx, app, e, log)...)
		}
		return warnings
	}
}

// keepInVault keeps a verified archive in the vault.
func keepInVault(ctx context.Context, app *config.App, e archive.Entry, log *slog.Logger) []string {
	v, err := Vault(app)
	if err != nil {
		return []string{err.Error()}
	}
	added, pruned, err := v.Add(ctx, e)
	if err != nil {
		log.Error("the vault could not keep the archive", "key", e.Key, "err", err)
		return []string{fmt.Sprintf("the vault could not keep %s: %v", e.Key, err)}
	}
	if added {
		log.Info("kept in the vault", "key", e.Key, "dir", v.Dir)
	}
	if len(pruned) > 0 {
		log.Info("the vault's retention removed older archives", "names", strings.Join(pruned, ", "))
	}
	return nil
}

// ResolveArchive turns an --archive argument into a file path: "vault:NAME"
// is the vault entry NAME (refused when marked bad: vault.ErrBad), anything
// else a path, as it is. An entry kept encrypted is decrypted into the
// cache with s3.identity_file or s3.passphrase_file, as fetch does, and
// checked against its manifest (both checksums); the path is then the
// cache's. Errors: crypt.ErrNoKey (naming the key to set), crypt's
// other errors and archive.ErrChecksum, wrapped in archive.ErrEncrypted.
func ResolveArchive(ctx context.Context, app *config.App, arg string) (string, error) {
	name, ok := strings.CutPrefix(arg, VaultPrefix)
	if !ok {
		return arg, nil
	}
	v, err := Vault(app)
	if err != nil {
		return "", err
	}
	e, err := v.Get(name)
	if err != nil || e.Vault.Encrypted == "" {
		return e.Path, err
	}
	return decryptVaultEntry(ctx, app, e)
}

// decryptVaultEntry puts the encrypted vault entry e, decrypted and
// verified, into the cache (unless it is there already) and returns the
// cache's dump.
func decryptVaultEntry(ctx context.Context, app *config.App, e vault.Entry) (string, error) {
	c := Cache(app)
	if ce, ok := c.Find(e.Key, e.ETag); ok && ce.DumpSHA256 == e.DumpSHA256 {
		return ce.Path, nil
	}
	keys, err := crypt.LoadKeys(app.S3.IdentityFile, app.S3.PassphraseFile)
	if err != nil {
		return "", err
	}
	lim := app.FetchLimits()
	lim.Keys = keys
	if err := fsutil.MkdirPrivate(c.PartialDir()); err != nil {
		return "", err
	}
	tmp := filepath.Join(c.PartialDir(), archive.PartialName(e.Key)+".unpack")
	os.Remove(tmp)
	want, _ := hex.DecodeString(e.ObjectSHA256)
	un, err := archive.Unpack(ctx, e.Path, tmp, e.Wrap, archive.Expect{Size: e.ObjectSize, SHA256: want}, lim)
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("vault entry %s: %w", e.Name, err)
	}
	if un.DumpSHA256 != e.DumpSHA256 || un.DumpSize != e.DumpSize {
		os.Remove(tmp)
		return "", fmt.Errorf("vault entry %s: %w: it decrypts to %d bytes, sha256 %s; the manifest says %d bytes, sha256 %s",
			e.Name, archive.ErrChecksum, un.DumpSize, un.DumpSHA256, e.DumpSize, e.DumpSHA256)
	}
	m := e.Manifest.Manifest
	m.Verified = append(slices.Clip(m.Verified), "vault-decrypted")
	ce, err := c.Commit(tmp, m)
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return ce.Path, nil
}

// vaultEntry returns the vault entry whose dump is at path, if the vault
// is on and has one: a restore checks the file against its manifest.
func vaultEntry(app *config.App, path string) (vault.Entry, bool) {
	v, err := Vault(app)
	if err != nil {
		return vault.Entry{}, false
	}
	return v.Find(path)
}

// cachedAt returns the cache entry whose dump is at path, if any.
func cachedAt(app *config.App, path string) (archive.Entry, bool) {
	l, _ := Cache(app).List()
	for _, e := range l {
		if e.Path == path {
			return e, true
		}
	}
	return archive.Entry{}, false
}

// vaultFinding says for `lifeboat check` what the vault holds: entries
// marked bad fail it (lifeboat vault verify marks them).
func vaultFinding(app *config.App) Finding {
	v, err := Vault(app)
	if err != nil {
		return Finding{Name: "vault", Detail: err.Error(), Fix: "check vault.*"}
	}
	l, err := v.List()
	if err != nil {
		return Finding{Name: "vault", Detail: err.Error(), Fix: "check vault.dir"}
	}
	var bad []string
	for _, e := range l {
		if e.Vault.Bad {
			bad = append(bad, e.Name)
		}
	}
	switch {
	case len(bad) > 0:
		return Finding{Name: "vault", Detail: fmt.Sprintf("%d of %d entries marked bad: %s", len(bad), len(l), strings.Join(bad, ", ")),
			Fix: "lifeboat vault list says why; look at the disk (smartctl, dmesg); the entries stay until you remove them"}
	case len(l) == 0:
		return Finding{Name: "vault", OK: true, Detail: "empty: the next fetch or refresh keeps its archive there"}
	default:
		return Finding{Name: "vault", OK: true, Detail: fmt.Sprintf("%d entries, the newest captured %s", len(l), l[0].CapturedAt.Format(time.RFC3339))}
	}
}
