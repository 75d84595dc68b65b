package config

import (
	"errors"
	"strings"
	"testing"
)

func TestDriftAndExpectKeys(t *testing.T) {
	c, err := Load(write(t, `
apps:
  - name: shop
    s3: {bucket: b}
  - name: blog
    s3: {bucket: b}
    database:
      drift: {max_shrink: 5%, max_growth: 300%, min_rows: 0}
      expect:
        tables: 12
        rows: {public.users: 1000, app.Accounts: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := c.App("shop")
	if shop.Database.Drift.Shrink() != 0.2 || shop.Database.Drift.MaxGrowth != 0 || shop.Database.Drift.Floor() != 100 || shop.Database.Expect.Tables != 0 {
		t.Fatalf("defaults: %+v", shop.Database.Drift)
	}
	blog, _ := c.App("blog")
	d := blog.Database
	if d.Drift.Shrink() != 0.05 || d.Drift.MaxGrowth != 3 || d.Drift.Floor() != 0 || d.Expect.Tables != 12 {
		t.Fatalf("drift %+v expect %+v", d.Drift, d.Expect)
	}
	// Table names keep their dots and their case.
	if len(d.Expect.Rows) != 2 || d.Expect.Rows["public.users"] != 1000 || d.Expect.Rows["app.Accounts"] != 5 {
		t.Fatalf("expect.rows: %v", d.Expect.Rows)
	}
	if b, _ := d.Drift.MaxShrink.MarshalText(); string(b) != "5%" {
		t.Errorf("max_shrink shown as %s", b)
	}
}

func TestDriftZeroShrinkIsNotTheDefault(t *testing.T) {
	c, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    database: {drift: {max_shrink: 0%}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Apps[0].Database.Drift.Shrink(); s != 0 {
		t.Fatalf("max_shrink 0%% became %g", s)
	}
}

func TestDriftErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"database: {drift: {max_shrink: 20}}":              "apps[shop].database.drift.max_shrink: must be between 0% and 100%, got 2000%",
		"database: {drift: {max_shrink: lots}}":            "max_shrink",
		"database: {drift: {max_growth: -5%}}":             "apps[shop].database.drift.max_growth",
		"database: {expect: {tables: -1}}":                 "apps[shop].database.expect.tables",
		"database: {drift: {min_rows: -1}}":                "apps[shop].database.drift.min_rows: must not be negative",
		"database: {expect: {rows: {users: 10}}}":          "apps[shop].database.expect.rows.users: must be a qualified table name",
		"database: {expect: {rows: {public.users: lots}}}": "rows",
		"database: {expect: {rows: {public.users: -3}}}":   "apps[shop].database.expect.rows.public.users: must not be negative",
	}
	for extra, want := range cases {
		_, err := Load(write(t, "apps:\n  - name: shop\n    s3: {bucket: b}\n    "+extra+"\n"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (want %q)", extra, err, want)
		}
	}
}
