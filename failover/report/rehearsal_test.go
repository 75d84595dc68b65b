package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestRehearsalOfAnOlderArchiveIsShown(t *testing.T) {
	r := sample(2, true)
	r.Archive.InsteadOf = []string{"backups/shop/newest.dump.gz"}
	r.Failures = append(r.Failures, "The newest archive in the bucket is broken")
	r.Finalize()
	md := markdown(t, r)
	if !strings.Contains(md, "**Rehearsed instead of** `backups/shop/newest.dump.gz`: the newer archive failed verification") {
		t.Errorf("markdown:\n%s", md)
	}
	var b bytes.Buffer
	if err := HTML(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "rehearsed instead of 1 newer broken archive(s)") || !strings.Contains(b.String(), `<span class="mono">backups/shop/newest.dump.gz</span>`) {
		t.Error("the HTML page does not show the broken archive the drill rehearsed around")
	}
	// An ordinary drill says nothing of it, and writes [] in JSON.
	plain := sample(3, true)
	if strings.Contains(markdown(t, plain), "Rehearsed instead") {
		t.Error("an ordinary drill claims a rehearsal")
	}
	js, _ := plain.MarshalJSON()
	if !strings.Contains(string(js), `"instead_of":[]`) {
		t.Errorf("instead_of not [] in %s", js)
	}
}
