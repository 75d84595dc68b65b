package archive

import (
	"context"
	"encoding/base64"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
)

// BenchmarkUnpackGzip times the single pass of a fetch over a .dump.gz
// (object SHA-256, gzip inflate, the dump's SHA-256 and write, the archive
// walk) on a synthetic archive of LIFEBOAT_UNPACK_MIB MiB (64 by default)
// of random base64 table data, gzipped at gzip's default level as
// heroku-database-backups does:
//
//	LIFEBOAT_UNPACK_MIB=512 go test ./failover/archive -run '^$' -bench UnpackGzip -benchtime 3x -cpuprofile /tmp/cpu.out
func BenchmarkUnpackGzip(b *testing.B) {
	mib := 64
	if v, err := strconv.Atoi(os.Getenv("LIFEBOAT_UNPACK_MIB")); err == nil && v > 0 {
		mib = v
	}
	a := dumptest.New(14)
	rnd := rand.New(rand.NewSource(1))
	raw := make([]byte, 3<<18)
	var chunks []string
	for range mib {
		rnd.Read(raw)
		chunks = append(chunks, base64.StdEncoding.EncodeToString(raw)) // 1 MiB
	}
	for i := range a.Blocks {
		if a.Blocks[i].ID == 3000 {
			a.Blocks[i].Chunks = chunks
		}
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "archive.dump.gz")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	if _, err := a.EncodeTo(zw); err != nil {
		b.Fatal(err)
	}
	zw.Close()
	f.Close()
	st, _ := os.Stat(src)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for range b.N {
		dst := filepath.Join(dir, "archive.dump")
		un, err := Unpack(context.Background(), src, dst, WrapGzip, Expect{}, Limits{})
		if err != nil || un.DumpSize < int64(mib)<<20 {
			b.Fatalf("%v (%d bytes)", err, un.DumpSize)
		}
		os.Remove(dst)
	}
}
