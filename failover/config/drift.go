package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// DefaultMaxShrink is the share of its rows a table may lose between two
// verified restores before the newer one fails (database.drift.max_shrink).
const DefaultMaxShrink = Percent(0.2)

// DefaultMinRows is database.drift.min_rows: tables smaller than this
// before and after a restore are not judged by max_shrink or max_growth.
const DefaultMinRows = 100

// Drift says how much a table's row count may change between two verified
// restores of the app (a standby generation or a drill).
type Drift struct {
	// MaxShrink: a table that lost more than this share of its rows fails
	// the restore (default 20%). A table that disappeared or became empty
	// always fails.
	MaxShrink *Percent `mapstructure:"max_shrink" json:"max_shrink" yaml:"max_shrink"`
	// MaxGrowth: a table that grew by more than this share is warned about
	// (300%: it more than quadrupled). 0 (the default): no warning.
	MaxGrowth Percent `mapstructure:"max_growth" json:"max_growth" yaml:"max_growth"`
	// MinRows: a table with fewer rows than this before and after is not
	// judged by max_shrink or max_growth (3 rows becoming 2 is -33 %); one
	// that disappeared or became empty still fails. Default 100; 0 judges
	// every table.
	MinRows *int64 `mapstructure:"min_rows" json:"min_rows" yaml:"min_rows"`
}

// Floor returns min_rows, DefaultMinRows when unset.
func (d Drift) Floor() int64 {
	if d.MinRows == nil {
		return DefaultMinRows
	}
	return *d.MinRows
}

// Shrink returns max_shrink as a fraction.
func (d Drift) Shrink() float64 {
	if d.MaxShrink == nil {
		return float64(DefaultMaxShrink)
	}
	return float64(*d.MaxShrink)
}

// Expect is what the app's data must hold at least, whatever the previous
// restore held: a number of tables, and rows per table ("schema.table").
type Expect struct {
	Tables int              `mapstructure:"tables" json:"tables" yaml:"tables"`
	Rows   map[string]int64 `mapstructure:"rows" json:"rows" yaml:"rows"`
}

// Percent is a share written in config as "20%" (or a fraction, 0.2),
// kept as a fraction. "off" is 0.
type Percent float64

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Percent) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "" || s == "off" || s == "0" {
		*p = 0
		return nil
	}
	if v, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a percentage (use e.g. 20%%)", s)
		}
		*p = Percent(f / 100)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 1 {
		return fmt.Errorf("%q is not a percentage (use e.g. 20%%, or a fraction such as 0.2)", s)
	}
	*p = Percent(f)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String writes the share as "20%" or "12.5%".
func (p Percent) String() string {
	return strconv.FormatFloat(math.Round(float64(p)*1e6)/1e4, 'f', -1, 64) + "%"
}

var reTableName = regexp.MustCompile(`^[^.\s]+\.\S+$`)

// validateDataChecks checks database.drift and database.expect.
func validateDataChecks(d Database, key string, add func(key, format string, args ...any)) {
	if s := d.Drift.Shrink(); s < 0 || s > 1 {
		add(key+".drift.max_shrink", "must be between 0%% and 100%%, got %s (a share: write 20%%, not 20)", Percent(s))
	}
	if d.Drift.MaxGrowth < 0 {
		add(key+".drift.max_growth", "must be 0 (off) or a positive share such as 300%%, got %s", d.Drift.MaxGrowth)
	}
	if d.Drift.Floor() < 0 {
		add(key+".drift.min_rows", "must not be negative, got %d (0 judges every table)", d.Drift.Floor())
	}
	if d.Expect.Tables < 0 {
		add(key+".expect.tables", "must not be negative, got %d", d.Expect.Tables)
	}
	for name, n := range d.Expect.Rows {
		if !reTableName.MatchString(name) {
			add(key+".expect.rows."+name, "must be a qualified table name, schema.table (e.g. public.users)")
		}
		if n < 0 {
			add(key+".expect.rows."+name, "must not be negative, got %d", n)
		}
	}
}
