package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/config"
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
// else a path, as it is.
func ResolveArchive(app *config.App, arg string) (string, error) {
	name, ok := strings.CutPrefix(arg, VaultPrefix)
	if !ok {
		return arg, nil
	}
	v, err := Vault(app)
	if err != nil {
		return "", err
	}
	e, err := v.Get(name)
	if err != nil {
		return "", err
	}
	return e.Path, nil
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
