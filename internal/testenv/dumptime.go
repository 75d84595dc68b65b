package testenv

import (
	"encoding/binary"
	"testing"
	"time"
)

// WithCreatedAt returns a copy of a pg_dump custom-format archive whose
// header says it was created at ts (UTC), so that tests and the demo can
// have archives "captured" at the times their names say. It handles the
// archive versions PostgreSQL 15 and older write (format 1.12 to 1.14, with
// 4-byte ints); nothing else in the archive refers to those bytes.
func WithCreatedAt(t testing.TB, archive []byte, ts time.Time) []byte {
	t.Helper()
	if len(archive) < 60 || string(archive[:5]) != "PGDMP" || archive[5] != 1 || archive[6] < 12 || archive[6] > 14 || archive[8] != 4 {
		t.Fatalf("testenv.WithCreatedAt: not a format 1.12-1.14 archive with 4-byte ints")
	}
	out := append([]byte(nil), archive...)
	ts = ts.UTC()
	fields := []int{ts.Second(), ts.Minute(), ts.Hour(), ts.Day(), int(ts.Month()) - 1, ts.Year() - 1900, 0}
	// magic(5) + version(3) + int size + offset size + format, then the
	// compression level as an int (sign byte + 4 bytes), then the 7 ints.
	off := 11 + 5
	for _, v := range fields {
		out[off] = 0
		binary.LittleEndian.PutUint32(out[off+1:off+5], uint32(v))
		off += 5
	}
	return out
}
