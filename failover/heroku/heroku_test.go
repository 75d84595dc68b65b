package heroku_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/heroku"
	"github.com/lifeboat-dr/lifeboat/failover/heroku/herokutest"
)

func client(s *herokutest.Server) *heroku.Client {
	return &heroku.Client{APIURL: s.URL, DataURL: s.URL, Token: s.Token}
}

func TestBackupAsTheCLIDoesIt(t *testing.T) {
	s := herokutest.Start(t, []byte("PGDMP…"))
	c := client(s)
	ctx := context.Background()
	att, err := c.ResolveAttachment(ctx, "shop-prod", "DATABASE_URL")
	if err != nil || att.Addon.ID != s.AddonID || att.Addon.App.Name != "shop-prod" {
		t.Fatalf("resolve: %v %+v", err, att)
	}
	tr, err := c.StartBackup(ctx, att.Addon.ID)
	if err != nil || tr.Num != 42 || tr.UUID == "" {
		t.Fatalf("start: %v %+v", err, tr)
	}
	var seen []string
	tr, err = c.Wait(ctx, "shop-prod", tr.UUID, time.Millisecond, func(t heroku.Transfer) { seen = append(seen, t.StartedAt+"|"+t.FinishedAt) })
	if err != nil || !tr.Succeeded || len(seen) != 3 {
		t.Fatalf("wait: %v %+v %v", err, tr, seen)
	}
	u, err := c.PublicURL(ctx, "shop-prod", tr.Num)
	if err != nil || !strings.HasSuffix(u.URL, "/dumps/b042.dump") {
		t.Fatalf("public url: %v %+v", err, u)
	}
	want := []string{"POST /actions/addon-attachments/resolve", "POST /client/v11/databases/" + s.AddonID + "/backups"}
	if got := s.Requests(); got[0] != want[0] || got[1] != want[1] || got[len(got)-1] != "POST /client/v11/apps/shop-prod/transfers/42/actions/public-url" {
		t.Fatalf("requests %v", got)
	}
}

func TestBackupFailuresAreNamed(t *testing.T) {
	s := herokutest.Start(t, nil)
	s.Fail = []string{"pg_dump: error: connection to server lost", "backup failed"}
	c := client(s)
	ctx := context.Background()
	tr, _ := c.StartBackup(ctx, s.AddonID)
	_, err := c.Wait(ctx, "shop-prod", tr.UUID, time.Millisecond, nil)
	if !errors.Is(err, heroku.ErrTransferFailed) || !strings.Contains(err.Error(), "connection to server lost") || !strings.Contains(err.Error(), "b042") {
		t.Fatalf("failed transfer: %v", err)
	}
	if _, err := c.ResolveAttachment(ctx, "shop-prod", "HEROKU_POSTGRESQL_NAVY_URL"); !errors.Is(err, heroku.ErrNotFound) {
		t.Fatalf("unknown attachment: %v", err)
	}
	bad := client(s)
	bad.Token = "wrong"
	if _, err := bad.StartBackup(ctx, s.AddonID); !errors.Is(err, heroku.ErrUnauthorized) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v", err)
	}
	s.Close()
	if _, err := c.StartBackup(ctx, s.AddonID); !errors.Is(err, heroku.ErrUnreachable) {
		t.Fatalf("down: %v", err)
	}
}
