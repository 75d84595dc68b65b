package notify

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// problem returns the problems that start with key.
func problem(problems []string, key string) []string {
	var out []string
	for _, p := range problems {
		if strings.HasPrefix(p, key+": ") {
			out = append(out, p)
		}
	}
	return out
}

func TestValidateAcceptsAGoodConfig(t *testing.T) {
	c := Config{
		Webhook:      &Webhook{URLFile: writeSecret(t, "w", "https://hooks.example.com/x?token=abc\n", 0o600), SecretFile: writeSecret(t, "s", "k", 0o600), Timeout: units.Duration(5 * time.Second)},
		Slack:        &Slack{WebhookURLFile: writeSecret(t, "slack", "https://hooks.slack.com/services/T/B/X", 0o600)},
		Email:        &Email{Host: "smtp.example.com", Username: "u", PasswordFile: writeSecret(t, "p", "pw", 0o400), From: "Lifeboat <dr@example.com>", To: []string{"ops@example.com"}, StartTLS: "always"},
		Healthchecks: &Healthchecks{URL: "https://hc-ping.com/0c5e3c5a-1b7e-4f0e-9d5b-6d1f1a2b3c4d"},
		On:           []string{"failure", "success"},
	}
	if p := c.Validate("notify"); len(p) != 0 {
		t.Errorf("problems: %q", p)
	}
	if !c.Enabled() {
		t.Error("Enabled = false")
	}
	if (Config{On: []string{"failure"}}).Enabled() {
		t.Error("Enabled with no channel")
	}
	if p := (Config{}).Validate("notify"); len(p) != 0 {
		t.Errorf("empty config: %q", p)
	}
}

func TestValidateRefusesOpenSecretFiles(t *testing.T) {
	for _, mode := range []uint32{0o644, 0o640, 0o604} {
		c := Config{
			Webhook: &Webhook{URLFile: writeSecret(t, "w", "https://hooks.example.com/TOKENINFILE", 0o600), SecretFile: writeSecret(t, "s", "k", 0o600)},
			Slack:   &Slack{WebhookURLFile: writeSecret(t, "slack", "https://hooks.slack.com/services/T/B/X", 0o600)},
			Email:   &Email{Host: "h", Username: "u", PasswordFile: writeSecret(t, "p", "pw", 0o600), From: "a@b.c", To: []string{"d@e.f"}},
			Healthchecks: &Healthchecks{
				URLFile: writeSecret(t, "hc", "https://hc-ping.com/uuid", 0o600),
			},
		}
		open := writeSecret(t, "open", "https://hooks.example.com/TOKENINFILE", 0o600)
		c.Webhook.URLFile, c.Webhook.SecretFile, c.Slack.WebhookURLFile, c.Email.PasswordFile, c.Healthchecks.URLFile = open, open, open, open, open
		if err := chmod(open, mode); err != nil {
			t.Fatal(err)
		}
		p := c.Validate("notify")
		for _, key := range []string{"notify.webhook.url_file", "notify.webhook.secret_file", "notify.slack.webhook_url_file", "notify.email.password_file", "notify.healthchecks.url_file"} {
			got := problem(p, key)
			if len(got) != 1 || !strings.Contains(got[0], "chmod 600") || !strings.Contains(got[0], open) {
				t.Errorf("mode %04o: %s: %q", mode, key, got)
			}
		}
		mustNotContain(t, "problems", strings.Join(p, "\n"), "TOKENINFILE")
	}
}

func TestValidateNamesMissingFields(t *testing.T) {
	c := Config{
		Webhook:      &Webhook{},
		Slack:        &Slack{},
		Email:        &Email{Username: "u", StartTLS: "sometimes", Port: 70000},
		Healthchecks: &Healthchecks{},
		On:           []string{"failure", "always"},
	}
	p := c.Validate("notify")
	for key, want := range map[string]string{
		"notify.webhook":                "set url_file",
		"notify.slack.webhook_url_file": "is required",
		"notify.email.host":             "is required",
		"notify.email.from":             "is required",
		"notify.email.to":               "at least one recipient",
		"notify.email.port":             "between 1 and 65535",
		"notify.email.start_tls":        "auto, always or never",
		"notify.email.password_file":    "is required with email.username",
		"notify.healthchecks":           "set url_file",
		"notify.on[1]":                  `"always"`,
	} {
		got := problem(p, key)
		if len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("%s: %q, want one problem saying %q (all: %q)", key, got, want, p)
		}
	}
	if len(problem(p, "notify.on[0]")) != 0 {
		t.Error("on[0] failure refused")
	}
}

func TestValidateChecksURLsWithoutPrintingThem(t *testing.T) {
	c := Config{
		Webhook:      &Webhook{URL: "ftp://example.com/INLINESECRET"},
		Slack:        &Slack{WebhookURLFile: writeSecret(t, "slack", "not a url FILESECRET", 0o600)},
		Healthchecks: &Healthchecks{URLFile: writeSecret(t, "hc", "  \n", 0o600)},
	}
	p := c.Validate("notify")
	if got := problem(p, "notify.webhook.url"); len(got) != 1 || !strings.Contains(got[0], "http:// or https://") {
		t.Errorf("webhook.url: %q", got)
	}
	if got := problem(p, "notify.slack.webhook_url_file"); len(got) != 1 || !strings.Contains(got[0], "http:// or https://") {
		t.Errorf("slack: %q", got)
	}
	if got := problem(p, "notify.healthchecks.url_file"); len(got) != 1 || !strings.Contains(got[0], "is empty") {
		t.Errorf("healthchecks: %q", got)
	}
	mustNotContain(t, "problems", strings.Join(p, "\n"), "INLINESECRET", "FILESECRET")
}

func TestValidateMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	p := Config{Slack: &Slack{WebhookURLFile: missing}}.Validate("notify")
	if got := problem(p, "notify.slack.webhook_url_file"); len(got) != 1 || !strings.Contains(got[0], "no such file") {
		t.Errorf("problems: %q", p)
	}
}

func TestValidateEmailTLSCombinations(t *testing.T) {
	base := func() *Email {
		return &Email{Host: "h", From: "a@b.c", To: []string{"not an address"}}
	}
	e := base()
	e.TLS, e.StartTLS = true, "always"
	p := Config{Email: e}.Validate("n")
	if len(problem(p, "n.email.start_tls")) != 1 || len(problem(p, "n.email.to[0]")) != 1 {
		t.Errorf("problems: %q", p)
	}
	e = base()
	e.To = []string{"x@y.z"}
	e.StartTLS, e.Username, e.PasswordFile = "never", "u", writeSecret(t, "p", "pw", 0o600)
	if p := (Config{Email: e}).Validate("n"); len(problem(p, "n.email.start_tls")) != 1 {
		t.Errorf("a password with start_tls never: %q", p)
	}
}

func TestTimeoutOrDefault(t *testing.T) {
	if orDefault(0) != DefaultTimeout || orDefault(units.Duration(time.Second)) != time.Second {
		t.Error("orDefault")
	}
}

// TestDecodeLikeTheConfigPackage decodes a notify block the way
// failover/config does (mapstructure with the text-unmarshaller hook and
// unused keys refused), so the snake_case keys are the documented ones.
func TestDecodeLikeTheConfigPackage(t *testing.T) {
	raw := map[string]any{
		"webhook":      map[string]any{"url_file": "/etc/lifeboat/webhook-url", "secret_file": "/etc/lifeboat/webhook-secret", "timeout": "15s"},
		"slack":        map[string]any{"webhook_url_file": "/etc/lifeboat/slack-url", "channel": "#ops"},
		"email":        map[string]any{"host": "smtp.example.com", "port": 465, "username": "u", "password_file": "/p", "from": "a@b.c", "to": []any{"d@e.f"}, "start_tls": "never", "tls": true, "timeout": "30s"},
		"healthchecks": map[string]any{"url_file": "/etc/lifeboat/hc-url"},
		"on":           []any{"failure", "success"},
	}
	var c Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:  mapstructure.TextUnmarshallerHookFunc(),
		ErrorUnused: true,
		Result:      &c,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(raw); err != nil {
		t.Fatal(err)
	}
	if c.Webhook.Timeout != units.Duration(15*time.Second) || c.Webhook.SecretFile != "/etc/lifeboat/webhook-secret" ||
		c.Slack.WebhookURLFile != "/etc/lifeboat/slack-url" || c.Slack.Channel != "#ops" ||
		c.Email.Port != 465 || !c.Email.TLS || c.Email.StartTLS != "never" || c.Email.PasswordFile != "/p" || c.Email.Timeout != units.Duration(30*time.Second) ||
		c.Healthchecks.URLFile != "/etc/lifeboat/hc-url" || len(c.On) != 2 {
		t.Errorf("decoded %+v %+v %+v %+v", c.Webhook, c.Slack, c.Email, c.Healthchecks)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"webhook_url_file":"/etc/lifeboat/slack-url"`, `"timeout":"15s"`, `"start_tls":"never"`, `"password_file":"/p"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := Config{
		Webhook:      &Webhook{URL: "https://hooks.example.com/hooks/" + pathToken + "?key=" + queryToken},
		Healthchecks: &Healthchecks{URL: "https://hc-ping.com/" + pathToken},
		On:           []string{"failure"},
	}
	r := c.Redacted()
	b, _ := json.Marshal(r)
	mustNotContain(t, "redacted config", string(b), pathToken, queryToken)
	if r.Webhook.URL != "https://hooks.example.com/…" || r.Healthchecks.URL != "https://hc-ping.com/…" {
		t.Errorf("redacted = %s", b)
	}
	if !strings.Contains(c.Webhook.URL, pathToken) {
		t.Error("Redacted changed the original")
	}
}

func TestSMTPAddrDefaults(t *testing.T) {
	for _, tc := range []struct {
		e    Email
		want string
	}{
		{Email{Host: "smtp.example.com"}, "smtp.example.com:587"},
		{Email{Host: "smtp.example.com", TLS: true}, "smtp.example.com:465"},
		{Email{Host: "smtp.example.com", Port: 25}, "smtp.example.com:25"},
		{Email{Host: "::1", Port: 25}, "[::1]:25"},
	} {
		if got := tc.e.smtpAddr(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.e, got, tc.want)
		}
	}
}
