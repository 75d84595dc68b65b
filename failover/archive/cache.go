package archive

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// ErrCacheEmpty is returned by Cache.Newest when no verified archive is cached.
var ErrCacheEmpty = errors.New("no verified archive in the local cache")

// ManifestVersion is the version of the manifest format written now.
const ManifestVersion = 1

// Manifest describes one verified archive in the cache. It is written next
// to the .dump only after every check passed; a .dump without its manifest
// is never used.
type Manifest struct {
	Version int `json:"version"`
	// Source: where it came from.
	Store        string    `json:"store"`
	Key          string    `json:"key"`
	ETag         string    `json:"etag,omitempty"`
	LastModified time.Time `json:"last_modified"`
	StorageClass string    `json:"storage_class"`
	ObjectSize   int64     `json:"object_size"`
	ObjectSHA256 string    `json:"object_sha256"`
	Wrap         string    `json:"wrap"`
	// The unpacked pg_dump archive.
	DumpFile   string      `json:"dump_file"`
	DumpSize   int64       `json:"dump_size"`
	DumpSHA256 string      `json:"dump_sha256"`
	CapturedAt time.Time   `json:"captured_at"`
	TimeSource string      `json:"time_source"`
	Header     dump.Header `json:"header"`
	TOCEntries int         `json:"toc_entries"`
	DataTables int         `json:"data_tables"`
	// Verified lists every check that passed, e.g. "size", "s3-sha256".
	Verified  []string  `json:"verified"`
	FetchedAt time.Time `json:"fetched_at"`
}

// Entry is a verified archive in the cache.
type Entry struct {
	Manifest
	// Path is the absolute path of the .dump file.
	Path string `json:"path"`
	// ManifestPath is the absolute path of its manifest.
	ManifestPath string `json:"manifest_path"`
	// Object is the downloaded object (the ciphertext of an encrypted
	// archive), verified against the manifest's ObjectSHA256; set only
	// while Fetcher.AfterVerify runs on an archive just fetched, and
	// discarded after it.
	Object string `json:"-"`
}

// Cache is a directory of verified archives and their manifests:
//
//	{dir}/{captured}_{keyhash}.dump   the pg_dump custom archive
//	{dir}/{captured}_{keyhash}.json   its Manifest (the commit point)
//	{dir}/.partial/                   downloads in progress (resumable)
//
// The cache only ever reads, lists and removes files of these names: any
// other file in the directory (the operator's own dumps, say) is left
// alone.
type Cache struct {
	Dir string
}

// The names the cache writes: archives and manifests, the temp files of
// their atomic writes, and downloads in progress.
var (
	cacheName   = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}\.(dump|json)$`)
	cacheTemp   = regexp.MustCompile(`^\.[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}\.(dump|json)\.tmp-[0-9]+$`)
	partialName = regexp.MustCompile(`^\.?[0-9a-f]{16}\.(part|part\.state|unpack)(\.tmp-[0-9]+)?$`)
)

// PartialDir is where downloads in progress live.
func (c *Cache) PartialDir() string { return filepath.Join(c.Dir, ".partial") }

// Init creates the cache directories (mode 0700) and checks that no other
// user may write to them: an error wrapping fsutil.ErrUnsafePath says so.
func (c *Cache) Init() error {
	for _, d := range []string{c.Dir, c.PartialDir()} {
		if err := fsutil.MkdirPrivate(d); err != nil {
			return fmt.Errorf("cache.dir %s: %w", c.Dir, err)
		}
	}
	return nil
}

// BaseName is the file name (without extension) an archive gets in the cache.
func BaseName(key string, captured time.Time) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%s_%x", captured.UTC().Format("20060102T150405Z"), sum[:4])
}

// PartialName is the name of a download in progress of key.
func PartialName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("%x", sum[:8])
}

// List returns the verified archives, newest capture first. A .dump whose
// manifest is missing or disagrees with it is not listed (Clean removes it).
func (c *Cache) List() ([]Entry, error) {
	des, err := os.ReadDir(c.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.Type().IsRegular() || !cacheName.MatchString(de.Name()) || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		m := filepath.Join(c.Dir, de.Name())
		var man Manifest
		if err := fsutil.ReadJSON(m, &man); err != nil || man.Version == 0 || !cacheName.MatchString(man.DumpFile) {
			continue
		}
		p := filepath.Join(c.Dir, man.DumpFile)
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Size() != man.DumpSize {
			continue
		}
		// Manifests written before capture times were bounded by the
		// upload time may carry a header's claim from the future.
		if !man.LastModified.IsZero() && man.CapturedAt.After(man.LastModified.Add(clockSkew)) {
			man.CapturedAt, man.TimeSource = man.LastModified, TimeFromLastModified
		}
		out = append(out, Entry{Manifest: man, Path: p, ManifestPath: m})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CapturedAt.Equal(out[j].CapturedAt) {
			return out[i].CapturedAt.After(out[j].CapturedAt)
		}
		return out[i].FetchedAt.After(out[j].FetchedAt)
	})
	return out, nil
}

// Newest returns the newest verified archive, or ErrCacheEmpty.
func (c *Cache) Newest() (Entry, error) {
	l, err := c.List()
	if err != nil {
		return Entry{}, err
	}
	if len(l) == 0 {
		return Entry{}, fmt.Errorf("%w (%s)", ErrCacheEmpty, c.Dir)
	}
	return l[0], nil
}

// Find returns the cached copy of the object key with this ETag, if any.
func (c *Cache) Find(key, etag string) (Entry, bool) {
	l, _ := c.List()
	for _, e := range l {
		if e.Key == key && (etag == "" || e.ETag == "" || e.ETag == etag) {
			return e, true
		}
	}
	return Entry{}, false
}

// Commit moves a verified dump into the cache: the dump is renamed into
// place first, then the manifest, whose rename is the commit point. A crash
// between the two leaves a dump without manifest, which is never used and
// is removed by Clean.
func (c *Cache) Commit(tmpDump string, m Manifest) (Entry, error) {
	base := BaseName(m.Key, m.CapturedAt)
	m.Version = ManifestVersion
	m.DumpFile = base + ".dump"
	dumpPath := filepath.Join(c.Dir, m.DumpFile)
	manPath := filepath.Join(c.Dir, base+".json")
	if err := fsutil.CommitFile(tmpDump, dumpPath); err != nil {
		return Entry{}, err
	}
	if err := fsutil.WriteJSONAtomic(manPath, m, 0o600); err != nil {
		os.Remove(dumpPath)
		return Entry{}, err
	}
	return Entry{Manifest: m, Path: dumpPath, ManifestPath: manPath}, nil
}

// Prune keeps the newest keep archives and removes the rest, manifest
// first so that a crash never leaves a manifest without its dump. protect
// names a dump path that must survive (the one just fetched).
func (c *Cache) Prune(keep int, protect string) ([]Entry, error) {
	l, err := c.List()
	if err != nil {
		return nil, err
	}
	var removed []Entry
	kept := 0
	for _, e := range l {
		if kept < keep || e.Path == protect {
			kept++
			continue
		}
		if err := os.Remove(e.ManifestPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("prune %s: %w", e.ManifestPath, err)
		}
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("prune %s: %w", e.Path, err)
		}
		removed = append(removed, e)
	}
	return removed, fsutil.SyncDir(c.Dir)
}

// Clean removes leftovers of interrupted runs: dumps without a valid
// manifest and temp files, only ever of the names the cache writes.
// Downloads in .partial are kept for resuming unless older than
// maxPartialAge.
func (c *Cache) Clean(maxPartialAge time.Duration) ([]string, error) {
	valid := map[string]bool{}
	l, err := c.List()
	if err != nil {
		return nil, err
	}
	for _, e := range l {
		valid[e.Path] = true
		valid[e.ManifestPath] = true
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var removed []string
	for _, de := range entries {
		p := filepath.Join(c.Dir, de.Name())
		if de.IsDir() || valid[p] {
			continue
		}
		if cacheName.MatchString(de.Name()) || cacheTemp.MatchString(de.Name()) {
			if os.Remove(p) == nil {
				removed = append(removed, p)
			}
		}
	}
	if parts, err := os.ReadDir(c.PartialDir()); err == nil {
		for _, de := range parts {
			info, err := de.Info()
			if err != nil {
				continue
			}
			p := filepath.Join(c.PartialDir(), de.Name())
			if !partialName.MatchString(de.Name()) {
				continue
			}
			if strings.HasSuffix(de.Name(), ".unpack") || time.Since(info.ModTime()) > maxPartialAge {
				if os.Remove(p) == nil {
					removed = append(removed, p)
				}
			}
		}
	}
	return removed, nil
}
