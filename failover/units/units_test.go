package units

import (
	"strings"
	"testing"
	"time"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"16MiB": 16 << 20, "1.5GiB": 3 << 29, "512KB": 512000, "50MiB/s": 50 << 20, "1048576": 1 << 20, "0": 0} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil {
		t.Error("want an error for 'lots'")
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m30s": 90 * time.Second, "7d": 7 * 24 * time.Hour, "26h": 26 * time.Hour, "": 0, "0": 0} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%q -> %v, %v; want %v", in, d, err, want)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("ten seconds")); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("bad duration: %v", err)
	}
	if b, _ := Duration(10 * time.Second).MarshalText(); string(b) != "10s" {
		t.Errorf("MarshalText = %s", b)
	}
}
