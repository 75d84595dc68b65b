package notify

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// DefaultTimeout bounds one channel's delivery (both attempts) when its
// timeout is not set.
const DefaultTimeout = 10 * time.Second

// Outcomes accepted in Config.On.
const (
	OnFailure = "failure"
	OnSuccess = "success"
)

// Config is the top-level `notify:` block of lifeboat.yaml. The config
// package embeds it, so it only holds plain, tagged fields; secrets are named
// by path (files of mode 0600), never held inline except for Webhook.URL and
// Healthchecks.URL, which Redacted masks.
type Config struct {
	// Webhook POSTs the event as JSON (with the command's report as payload).
	Webhook *Webhook `mapstructure:"webhook" json:"webhook" yaml:"webhook"`
	// Slack posts a short message to a Slack incoming webhook.
	Slack *Slack `mapstructure:"slack" json:"slack" yaml:"slack"`
	// Email sends a plain-text message over SMTP.
	Email *Email `mapstructure:"email" json:"email" yaml:"email"`
	// Healthchecks pings a healthchecks.io-style check: /start when a run
	// begins, the URL itself on success, /fail on failure. It is pinged for
	// every outcome whatever On says: a missing ping is how it notices a
	// run that never happened.
	Healthchecks *Healthchecks `mapstructure:"healthchecks" json:"healthchecks" yaml:"healthchecks"`
	// On lists the outcomes sent to webhook, slack and email: "failure"
	// (the default when empty), "success", or both.
	On []string `mapstructure:"on" json:"on" yaml:"on"`
}

// Webhook is a generic JSON POST of the event.
type Webhook struct {
	// URL receives the POST. It may hold a token, so prefer URLFile.
	URL string `mapstructure:"url" json:"url" yaml:"url"`
	// URLFile holds the URL (mode 0600); it wins over URL.
	URLFile string `mapstructure:"url_file" json:"url_file" yaml:"url_file"`
	// SecretFile (optional, mode 0600) holds a key: the body is then signed
	// with HMAC-SHA256, sent as "X-Lifeboat-Signature: sha256=<hex>".
	SecretFile string `mapstructure:"secret_file" json:"secret_file" yaml:"secret_file"`
	// Timeout bounds the delivery, retry included (default 10s).
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// Slack is a Slack incoming webhook.
type Slack struct {
	// WebhookURLFile holds the https://hooks.slack.com/services/… URL (mode 0600).
	WebhookURLFile string `mapstructure:"webhook_url_file" json:"webhook_url_file" yaml:"webhook_url_file"`
	// Channel overrides the webhook's channel where Slack still allows it
	// (legacy webhooks); newer app webhooks ignore it.
	Channel string `mapstructure:"channel" json:"channel" yaml:"channel"`
	// Timeout bounds the delivery, retry included (default 10s).
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// Email is an SMTP relay.
type Email struct {
	Host string `mapstructure:"host" json:"host" yaml:"host"`
	// Port defaults to 587, or 465 when TLS is set.
	Port int `mapstructure:"port" json:"port" yaml:"port"`
	// Username turns on AUTH PLAIN, which is only ever sent over TLS.
	Username string `mapstructure:"username" json:"username" yaml:"username"`
	// PasswordFile holds the password (mode 0600); required with Username.
	PasswordFile string   `mapstructure:"password_file" json:"password_file" yaml:"password_file"`
	From         string   `mapstructure:"from" json:"from" yaml:"from"`
	To           []string `mapstructure:"to" json:"to" yaml:"to"`
	// StartTLS is "auto" (default: upgrade when the server offers it),
	// "always" (fail when it does not) or "never".
	StartTLS string `mapstructure:"start_tls" json:"start_tls" yaml:"start_tls"`
	// TLS is implicit TLS from the first byte (SMTPS, port 465).
	TLS bool `mapstructure:"tls" json:"tls" yaml:"tls"`
	// Timeout bounds the delivery, retry included (default 10s).
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// Healthchecks is a healthchecks.io-style ping URL such as
// https://hc-ping.com/<uuid>: URL+"/start", URL (success), URL+"/fail".
type Healthchecks struct {
	// URL is the ping URL; its UUID is what lets anyone ping, so prefer URLFile.
	URL string `mapstructure:"url" json:"url" yaml:"url"`
	// URLFile holds the URL (mode 0600); it wins over URL.
	URLFile string `mapstructure:"url_file" json:"url_file" yaml:"url_file"`
	// Timeout bounds one ping, retry included (default 10s).
	Timeout units.Duration `mapstructure:"timeout" json:"timeout" yaml:"timeout"`
}

// orDefault returns the duration, or DefaultTimeout when it is not positive.
func orDefault(d units.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return time.Duration(d)
}

// Enabled reports whether any channel is configured.
func (c Config) Enabled() bool {
	return c.Webhook != nil || c.Slack != nil || c.Email != nil || c.Healthchecks != nil
}

// sends reports whether webhook, slack and email are told about an event
// with this outcome.
func (c Config) sends(ok bool) bool {
	want := OnFailure
	if ok {
		want = OnSuccess
	}
	if len(c.On) == 0 {
		return want == OnFailure
	}
	for _, o := range c.On {
		if strings.EqualFold(strings.TrimSpace(o), want) {
			return true
		}
	}
	return false
}

// Redacted returns a copy fit for printing (`config check`): inline URLs,
// which may carry tokens, are cut to scheme://host.
func (c Config) Redacted() Config {
	out := c
	if c.Webhook != nil {
		w := *c.Webhook
		if w.URL != "" {
			w.URL = redactURL(w.URL) + "/…"
		}
		out.Webhook = &w
	}
	if c.Healthchecks != nil {
		h := *c.Healthchecks
		if h.URL != "" {
			h.URL = redactURL(h.URL) + "/…"
		}
		out.Healthchecks = &h
	}
	out.On = append([]string(nil), c.On...)
	return out
}

// Validate returns every problem in the block, each prefixed with its key
// under key (e.g. "notify.slack.webhook_url_file: …"). It reads the secret
// files to check that they hold what they should, but never prints their
// contents.
func (c Config) Validate(key string) []string {
	var errs []string
	add := func(k, format string, args ...any) {
		errs = append(errs, key+"."+k+": "+fmt.Sprintf(format, args...))
	}
	for i, o := range c.On {
		switch strings.ToLower(strings.TrimSpace(o)) {
		case OnFailure, OnSuccess:
		default:
			add(fmt.Sprintf("on[%d]", i), "must be %q or %q, got %q", OnFailure, OnSuccess, o)
		}
	}
	if w := c.Webhook; w != nil {
		validateURLSource(add, "webhook", "url", w.URL, w.URLFile)
		if w.SecretFile != "" {
			if s, err := readSecret(w.SecretFile); err != nil {
				add("webhook.secret_file", "%v", err)
			} else if s == "" {
				add("webhook.secret_file", "%s is empty", w.SecretFile)
			}
		}
		validateTimeout(add, "webhook.timeout", w.Timeout)
	}
	if s := c.Slack; s != nil {
		if s.WebhookURLFile == "" {
			add("slack.webhook_url_file", "is required (a file of mode 0600 holding the incoming-webhook URL)")
		} else {
			validateURLFile(add, "slack.webhook_url_file", s.WebhookURLFile)
		}
		validateTimeout(add, "slack.timeout", s.Timeout)
	}
	if e := c.Email; e != nil {
		validateEmail(add, e)
	}
	if h := c.Healthchecks; h != nil {
		validateURLSource(add, "healthchecks", "url", h.URL, h.URLFile)
		validateTimeout(add, "healthchecks.timeout", h.Timeout)
	}
	return errs
}

type addFunc func(key, format string, args ...any)

func validateTimeout(add addFunc, key string, d units.Duration) {
	if d < 0 {
		add(key, "must not be negative, got %s", d)
	}
}

// validateURLSource checks a channel that takes either an inline URL or a
// file holding it (the file wins).
func validateURLSource(add addFunc, channel, field, inline, file string) {
	switch {
	case file != "":
		validateURLFile(add, channel+"."+field+"_file", file)
	case inline != "":
		if err := checkURL(inline); err != nil {
			add(channel+"."+field, "%v", err)
		}
	default:
		add(channel, "set %s_file (a file of mode 0600 holding the URL) or %s", field, field)
	}
}

func validateURLFile(add addFunc, key, file string) {
	u, err := readSecret(file)
	if err != nil {
		add(key, "%v", err)
		return
	}
	if u == "" {
		add(key, "%s is empty: it must hold the URL", file)
		return
	}
	if err := checkURL(u); err != nil {
		add(key, "%s: %v", file, err)
	}
}

// checkURL says what is wrong with a URL without printing it: it may hold a
// token.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http:// or https:// URL (not printed: it may hold a token)")
	}
	return nil
}

func validateEmail(add addFunc, e *Email) {
	if strings.TrimSpace(e.Host) == "" {
		add("email.host", "is required (the SMTP relay, e.g. smtp.example.com)")
	}
	if e.Port < 0 || e.Port > 65535 {
		add("email.port", "must be between 1 and 65535, got %d", e.Port)
	}
	if e.From == "" {
		add("email.from", "is required (e.g. \"Lifeboat <lifeboat@example.com>\")")
	} else if _, err := parseAddress(e.From); err != nil {
		add("email.from", "%q is not an e-mail address", e.From)
	}
	if len(e.To) == 0 {
		add("email.to", "is required: at least one recipient")
	}
	for i, t := range e.To {
		if _, err := parseAddress(t); err != nil {
			add(fmt.Sprintf("email.to[%d]", i), "%q is not an e-mail address", t)
		}
	}
	mode := strings.ToLower(e.StartTLS)
	switch mode {
	case "", "auto", "always", "never":
	default:
		add("email.start_tls", "must be auto, always or never, got %q", e.StartTLS)
	}
	if e.TLS && mode == "always" {
		add("email.start_tls", "is always, but email.tls already encrypts from the first byte: use one of them")
	}
	switch {
	case e.Username != "" && e.PasswordFile == "":
		add("email.password_file", "is required with email.username (a file of mode 0600 holding the password)")
	case e.Username == "" && e.PasswordFile != "":
		add("email.username", "is required with email.password_file")
	}
	if e.PasswordFile != "" {
		if _, err := readSecret(e.PasswordFile); err != nil {
			add("email.password_file", "%v", err)
		}
	}
	if e.Username != "" && mode == "never" && !e.TLS {
		add("email.start_tls", "is never, but a password is only sent over TLS: use auto or always, or tls: true")
	}
	validateTimeout(add, "email.timeout", e.Timeout)
}

// parseAddress returns the bare address of "Name <a@b>" or "a@b".
func parseAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// readSecret checks that path is a file of mode 0600 (no group or other
// bits) and returns its contents without surrounding white space.
func readSecret(path string) (string, error) {
	if err := fsutil.CheckSecretFile(path); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// redactURL returns scheme://host of a URL that may hold tokens in its
// user info, path or query.
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "(URL not shown)"
	}
	return u.Scheme + "://" + u.Host
}

// smtpAddr is host:port with the default port filled in.
func (e *Email) smtpAddr() string {
	port := e.Port
	if port == 0 {
		port = 587
		if e.TLS {
			port = 465
		}
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(port))
}
