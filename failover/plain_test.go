package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/database"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

func TestCopyRowChecks(t *testing.T) {
	copied := map[string]int64{"public.users": 10, "app.events": 5, "app.gone": 3}
	restored := []report.Table{{Schema: "public", Name: "users", Rows: 10}, {Schema: "app", Name: "events", Rows: 4}}
	checks, err := copyRowChecks(copied, restored)
	if !errors.Is(err, database.ErrVerify) || len(checks) != 3 {
		t.Fatalf("%v %+v", err, checks)
	}
	ok := map[string]bool{}
	for _, c := range checks {
		ok[c.Name] = c.OK
	}
	if !ok["rows of public.users as in the dump"] || ok["rows of app.events as in the dump"] || ok["rows of app.gone as in the dump"] {
		t.Errorf("%+v", checks)
	}
	if !strings.Contains(err.Error(), "app.events has 4 rows, its COPY data in the dump 5") || !strings.Contains(err.Error(), "app.gone was not counted") {
		t.Errorf("%v", err)
	}
	if _, err := copyRowChecks(map[string]int64{"public.users": 10}, restored); err != nil {
		t.Errorf("matching rows: %v", err)
	}
}
