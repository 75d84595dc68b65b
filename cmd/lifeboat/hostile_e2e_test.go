package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
)

// terminalControls are what a hostile bucket would like to reach the
// operator's terminal: ESC (colours, cursor moves, window titles, OSC 52
// clipboard writes), BEL, and a right-to-left override that shows
// "evil.dump.gz" for a key ending in "zg.pmud".
var terminalControls = []string{"\x1b", "\x07", "\u202e"}

func gzipBytes(t *testing.T, s *dumptest.Archive) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := s.EncodeTo(zw); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// TestTerminalControlsFromTheBucketAreEscaped (issue 8, item 9): keys,
// header fields and table names are chosen by whoever writes to the
// bucket; archives, fetch and inspect show them escaped.
func TestTerminalControlsFromTheBucketAreEscaped(t *testing.T) {
	w := newWorld(t, "")
	a := dumptest.New(16)
	now := time.Now().UTC().Add(-time.Hour)
	a.Tm = [7]int{now.Second(), now.Minute(), now.Hour(), now.Day(), int(now.Month()) - 1, now.Year() - 1900, 0}
	a.DB = "shop\x1b]0;pwned\x07\x1b[2J"
	a.AddTables(1, "CREATE TABLE x ();", []string{"1\n"})
	a.Entries[len(a.Entries)-1].Tag = "users\x1b[8m"
	a.Entries[len(a.Entries)-2].Tag = "users\x1b[8m"
	key := w.prefix + "evil\u202ezg.pmud.gz"
	w.s3.Put(t, bucket, key, gzipBytes(t, a))

	for _, args := range [][]string{{"archives"}, {"fetch"}, {"inspect", "--key", key}, {"archives", "--json"}} {
		code, out, errOut := lb(t, append([]string{"--config", w.cfgPath}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		for _, c := range terminalControls {
			if strings.Contains(out, c) || strings.Contains(errOut, c) {
				t.Errorf("%v prints %q raw:\n%s\n%s", args, c, out, errOut)
			}
		}
		if args[0] == "archives" && args[len(args)-1] != "--json" && !strings.Contains(out, `evil\u202ezg.pmud.gz`) {
			t.Errorf("archives does not show the key escaped:\n%s", out)
		}
		if args[0] == "inspect" && (!strings.Contains(out, `shop\x1b]0;pwned\x07\x1b[2J`) || !strings.Contains(out, `users\x1b[8m`)) {
			t.Errorf("inspect does not show the fields escaped:\n%s", out)
		}
	}
}

// TestInspectBoundsAHugeTOC (item 1): inspect of a small .dump.gz whose
// table of contents holds a gigabyte of strings stops at the reader's
// limit, naming it and the config keys that raise it.
func TestInspectBoundsAHugeTOC(t *testing.T) {
	a := dumptest.New(16)
	a.AddTables(1024, strings.Repeat("\x00", 1<<20), []string{"1\n"})
	p := filepath.Join(t.TempDir(), "hostile.dump.gz")
	os.WriteFile(p, gzipBytes(t, a), 0o600)
	code, out, errOut := lb(t, "inspect", p)
	if code != exitFailed || !strings.Contains(errOut, "32 MiB") || !strings.Contains(errOut, "download.max_toc_size") || strings.Contains(out, "\x00") {
		t.Fatalf("inspect of a 1 GiB TOC: exit %d, %d bytes out\n%s", code, len(out), errOut)
	}
}
