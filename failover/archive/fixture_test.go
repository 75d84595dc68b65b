package archive

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

var (
	fixtureOnce sync.Once
	fixture     []byte
)

// fixtureDump returns a real pg_dump custom-format archive of a
// Heroku-shaped database, made once per test binary.
func fixtureDump(t *testing.T) []byte {
	t.Helper()
	fixtureOnce.Do(func() {
		p := testenv.StartPostgres(t)
		testenv.LoadHerokuLike(t, p, "app", 2000)
		fixture = p.Dump(t, "app")
	})
	if fixture == nil {
		t.Fatal("could not make the fixture archive (see the first failing test)")
	}
	return fixture
}

// withCreatedAt returns a copy of a pg_dump archive (format 1.12 to 1.14,
// 4-byte ints, as PostgreSQL 15 writes) whose header says it was created
// at ts. Nothing else in the archive refers to those bytes.
func withCreatedAt(t *testing.T, b []byte, ts time.Time) []byte {
	t.Helper()
	if string(b[:5]) != "PGDMP" || b[5] != 1 || b[6] >= 15 || b[8] != 4 {
		t.Fatalf("withCreatedAt: unexpected header % x", b[:11])
	}
	out := append([]byte(nil), b...)
	ts = ts.UTC()
	fields := []int{ts.Second(), ts.Minute(), ts.Hour(), ts.Day(), int(ts.Month()) - 1, ts.Year() - 1900, 0}
	off := 11 + 5 // magic+versions+sizes+format, then the compression int
	for _, v := range fields {
		out[off] = 0
		binary.LittleEndian.PutUint32(out[off+1:off+5], uint32(v))
		off += 5
	}
	return out
}
