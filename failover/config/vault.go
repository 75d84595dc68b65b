package config

import (
	"path/filepath"
)

// Vault is the history of verified archives kept on the VPS (`lifeboat
// vault`), apart from the cache that restores use.
type Vault struct {
	// Enabled keeps every archive fetch, refresh and drill verify.
	Enabled bool `mapstructure:"enabled" json:"enabled" yaml:"enabled"`
	// Dir defaults to {state_dir}/{app}/vault (when enabled). On the cache's file system
	// an entry is a hard link to the cache's file (no extra space while
	// the cache keeps it); elsewhere a copy.
	Dir string `mapstructure:"dir" json:"dir" yaml:"dir"`
	// Keep is the grandfather-father-son retention; 0 takes the default.
	Keep VaultKeep `mapstructure:"keep" json:"keep" yaml:"keep"`
}

// VaultKeep counts the archives kept: the newest of each of the last
// Daily days, Weekly ISO weeks and Monthly months that have one (UTC).
type VaultKeep struct {
	Daily   int `mapstructure:"daily" json:"daily" yaml:"daily"`
	Weekly  int `mapstructure:"weekly" json:"weekly" yaml:"weekly"`
	Monthly int `mapstructure:"monthly" json:"monthly" yaml:"monthly"`
}

func (v *Vault) applyDefaults(stateDir string) {
	// Only a vault in use names a directory (the schedule's units give
	// the runs write access to every directory the config names).
	if v.Dir == "" && v.Enabled {
		v.Dir = filepath.Join(stateDir, "vault")
	}
	if v.Keep.Daily == 0 {
		v.Keep.Daily = 7
	}
	if v.Keep.Weekly == 0 {
		v.Keep.Weekly = 4
	}
	if v.Keep.Monthly == 0 {
		v.Keep.Monthly = 12
	}
}

func (v Vault) validate(key, cacheDir string, add func(key, format string, args ...any)) {
	switch {
	case !v.Enabled && v.Dir == "":
	case !filepath.IsAbs(v.Dir):
		add(key+".dir", "must be an absolute path, got %q", v.Dir)
	case filepath.Clean(v.Dir) == filepath.Clean(cacheDir):
		add(key+".dir", "must not be cache.dir (the cache prunes its own files)")
	default:
		if err := checkStateDir(v.Dir); err != nil {
			add(key+".dir", "%v", err)
		}
	}
	for _, k := range []struct {
		name string
		n    int
	}{{"daily", v.Keep.Daily}, {"weekly", v.Keep.Weekly}, {"monthly", v.Keep.Monthly}} {
		if k.n < 0 || k.n > 1000 {
			add(key+".keep."+k.name, "must be between 0 (the default) and 1000, got %d", k.n)
		}
	}
}
