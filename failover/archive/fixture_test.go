package archive

import (
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
	testenv.RequirePostgres(t)
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

func withCreatedAt(t *testing.T, b []byte, ts time.Time) []byte {
	return testenv.WithCreatedAt(t, b, ts)
}
