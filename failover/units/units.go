// Package units holds the value types that lifeboat.yaml writes as text:
// durations ("26h", "7d"), sizes ("16MiB") and free-space shares ("10%").
// Both the config package and the packages whose blocks it embeds
// (notify) decode them, so they live below both.
package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a number of bytes written in config as "16MiB", "512KB",
// "1.5GiB" or a plain integer. A trailing "/s" is accepted so rates read
// naturally ("50MiB/s").
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseByteSize parses a size such as "16MiB" or "50MB/s".
func ParseByteSize(s string) (ByteSize, error) {
	in := strings.TrimSpace(strings.ToLower(s))
	in = strings.TrimSuffix(in, "/s")
	in = strings.TrimSpace(in)
	if in == "" || in == "0" {
		return 0, nil
	}
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(in, u.suffix) {
			mult = u.mult
			in = strings.TrimSpace(strings.TrimSuffix(in, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(in, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 16MiB, 512KB or a number of bytes)", s)
	}
	return ByteSize(f * mult), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String renders the size with a binary unit when it divides evenly.
func (b ByteSize) String() string {
	n := int64(b)
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

// Duration is a time.Duration written in config as "26h", "90s" or "15m".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "" || s == "0" {
		*d = 0
		return nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err == nil {
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. 26h, 90s, 7d)", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String renders the duration like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// FreeSpace is room to keep free on a file system, written in config as a
// share of its size ("10%") or a size ("20GiB").
type FreeSpace string

// Parse returns the size in bytes, or the share in percent (0-90).
func (f FreeSpace) Parse() (bytes int64, percent float64, err error) {
	s := strings.TrimSpace(string(f))
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 90 {
			return 0, 0, fmt.Errorf("%q: a share of the disk must be between 0%% and 90%%", s)
		}
		return 0, v, nil
	}
	b, err := ParseByteSize(s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is neither a share of the disk (10%%) nor a size (20GiB)", s)
	}
	return int64(b), 0, nil
}
