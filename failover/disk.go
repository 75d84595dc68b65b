package failover

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/diskspace"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// The room a new generation is expected to take, before a generation of
// this app has been measured: its data directory per byte of pg_dump
// archive. pg_dump's own compression (the default) shrinks table data
// several times; indexes, absent from the archive, are rebuilt.
const (
	dataPerCompressedDumpByte   = 3.0
	dataPerUncompressedDumpByte = 1.5
	// growthMargin is added to every estimate: the next archive is
	// usually a little larger than the last one.
	growthMargin = 1.1
	// emptyCluster is what a data directory holds before any data (the
	// catalogs, a WAL segment or two): it does not grow with the archive,
	// so it is kept out of the bytes per archive byte (a small first
	// archive would otherwise make every later estimate huge).
	emptyCluster = 64 << 20
)

// databaseNeed estimates the data directory of a generation restored from
// a pg_dump archive of dumpSize bytes (compressed says whether pg_dump
// compressed its data): an empty cluster plus the bytes per archive byte
// that the current generation measured beyond one, or the defaults above.
func (s *site) databaseNeed(dumpSize int64, compressed bool) (int64, string) {
	ratio, basis := dataPerCompressedDumpByte, "64 MiB + 3× the archive (pg_dump-compressed data, indexes rebuilt; no generation measured yet)"
	if !compressed {
		ratio, basis = dataPerUncompressedDumpByte, "64 MiB + 1.5× the archive (uncompressed data, indexes rebuilt; no generation measured yet)"
	}
	if g, err := s.CurrentGeneration(); err == nil && g.DataBytes > 0 && g.Archive.DumpSize > 0 {
		ratio = float64(max(g.DataBytes-emptyCluster, 0)) / float64(g.Archive.DumpSize)
		basis = fmt.Sprintf("%s + %.2f× the archive, as generation %d measured (%s of data from %s of archive)",
			diskspace.Bytes(emptyCluster), ratio, g.Number, diskspace.Bytes(g.DataBytes), diskspace.Bytes(g.Archive.DumpSize))
	}
	need := int64((emptyCluster + float64(dumpSize)*ratio) * growthMargin)
	// The data directory is measured after the restore's final
	// CHECKPOINT, without the WAL written meanwhile. With --jobs 2 or more,
	// pg_restore loads each table it created in the transaction that
	// truncates it, which wal_level=minimal does not log; with --jobs 1 every
	// COPY goes through the WAL, which grows until a checkpoint, up to
	// about max_wal_size.
	if s.restoreJobs() == 1 {
		wal := min(need, database.BulkLoadMaxWAL)
		need += wal
		basis += fmt.Sprintf(", + %s of WAL (pg_restore --jobs 1 logs every COPY, up to max_wal_size)", diskspace.Bytes(wal))
	}
	return need, basis
}

// restoreJobs is pg_restore's --jobs: database.jobs, or the CPUs.
func (s *site) restoreJobs() int {
	if j := s.App.Database.Jobs; j > 0 {
		return j
	}
	return runtime.NumCPU()
}

// dockerRoot is where the database volumes live ("" when the daemon does
// not say).
func (s *site) dockerRoot(ctx context.Context) string {
	if s.Engine == nil {
		return ""
	}
	dir, err := s.Engine.RootDir(ctx)
	if err != nil {
		s.Log.Warn("cannot ask the Docker daemon where its volumes live: their disk is not checked", "err", err)
		return ""
	}
	return dir
}

// keepFree is the reserve every check leaves free: cache.min_free.
func (s *site) keepFree(total int64) int64 {
	return s.App.FetchLimits().KeepFree.Of(total)
}

// checkBuildRoom refuses a new generation restored from ref (summarised
// compression) when the Docker volumes' file system cannot hold it and
// keep its reserve. Errors wrap diskspace.ErrNoSpace.
func (s *site) checkBuildRoom(ctx context.Context, ref state.ArchiveRef, compressed bool) error {
	root := s.dockerRoot(ctx)
	if root == "" {
		return nil
	}
	need, basis := s.databaseNeed(ref.DumpSize, compressed)
	_, err := diskspace.Check([]diskspace.Need{{What: "the new database generation (" + basis + ")", Path: root, Bytes: need}},
		s.keepFree, s.DiskProbe)
	if err != nil {
		return fmt.Errorf("nothing was started: %w (free space, or lower cache.min_free)", err)
	}
	return nil
}

// RoomPlan estimates what the next refresh will write, from the newest
// archive in the cache (the next one is expected to be alike): that
// archive again in the cache (the object and its unpacked .dump when it
// is wrapped), and a new database generation beside the current one. With
// no archive cached there is nothing to go on: it returns nil, and the
// fetch and the restore check their own room as they go. Errors wrap
// diskspace.ErrNoSpace when it does not fit.
func (s *site) RoomPlan(ctx context.Context) (*diskspace.Plan, error) {
	e, err := Cache(s.App).Newest()
	if err != nil {
		return nil, nil
	}
	needs := []diskspace.Need{{What: "the next archive (as large as " + e.Key + ")", Path: s.App.Cache.Dir, Bytes: archiveNeed(e)}}
	if root := s.dockerRoot(ctx); root != "" {
		need, basis := s.databaseNeed(e.DumpSize, e.Header.Compression != "none")
		needs = append(needs, diskspace.Need{What: "a new database generation (" + basis + ")", Path: root, Bytes: need})
	}
	return diskspace.Check(needs, s.keepFree, s.DiskProbe)
}

// archiveNeed is what fetching an archive like e writes at its peak: the
// object and, when it is wrapped (gzip, tar, encrypted), the .dump
// unpacked from it.
func archiveNeed(e archive.Entry) int64 {
	n := e.DumpSize
	if e.Wrap != "" && e.Wrap != archive.WrapNone {
		n += e.ObjectSize
	}
	return int64(float64(n) * growthMargin)
}

// watchDisk samples the free space of the cache's and the volumes' file
// systems while a run goes on.
func (s *site) watchDisk(ctx context.Context) *diskspace.Watcher {
	paths := []string{s.App.Cache.Dir}
	if root := s.dockerRoot(ctx); root != "" {
		paths = append(paths, root)
	}
	return diskspace.Watch(paths, time.Second, s.DiskProbe)
}
