package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// healthchecksBodyLimit keeps ping bodies short (healthchecks.io stores the
// first 100 KB; a summary needs far less).
const healthchecksBodyLimit = 10 << 10

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" when the
// webhook has a secret_file.
const SignatureHeader = "X-Lifeboat-Signature"

// Sign returns the SignatureHeader value for body under secret, for
// receivers written in Go (and the tests).
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// webhookBody is the JSON document the webhook receives; every field is
// always present.
type webhookBody struct {
	App       string    `json:"app"`
	Kind      string    `json:"kind"`
	OK        bool      `json:"ok"`
	Summary   string    `json:"summary"`
	Details   []string  `json:"details"`
	Time      time.Time `json:"time"`
	ReportURL string    `json:"report_url"`
	Payload   any       `json:"payload"`
}

func (n *Notifier) sendWebhook(ctx context.Context, w *Webhook, ev Event) error {
	target, err := urlFrom(w.URL, w.URLFile, "url")
	if err != nil {
		return err
	}
	details := ev.Details
	if details == nil {
		details = []string{}
	}
	body, err := json.Marshal(webhookBody{
		App: ev.App, Kind: ev.Kind, OK: ev.OK, Summary: ev.Summary, Details: details,
		Time: ev.Time.UTC(), ReportURL: ev.ReportURL, Payload: ev.Payload,
	})
	if err != nil {
		return fmt.Errorf("encoding the event as JSON: %w", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	secrets := secretsOf(target)
	if w.SecretFile != "" {
		key, err := readSecret(w.SecretFile)
		if err != nil {
			return fmt.Errorf("secret_file: %w", err)
		}
		if key == "" {
			return fmt.Errorf("secret_file: %s is empty", w.SecretFile)
		}
		h.Set(SignatureHeader, Sign([]byte(key), body))
		secrets = append(secrets, key)
	}
	return n.post(ctx, target, body, h, secrets)
}

// slackMessage is an incoming-webhook payload: plain mrkdwn text, no blocks.
type slackMessage struct {
	Text    string `json:"text"`
	Channel string `json:"channel,omitempty"`
}

func (n *Notifier) sendSlack(ctx context.Context, s *Slack, ev Event) error {
	target, err := urlFrom("", s.WebhookURLFile, "webhook_url")
	if err != nil {
		return err
	}
	body, err := json.Marshal(slackMessage{Text: slackText(ev), Channel: s.Channel})
	if err != nil {
		return fmt.Errorf("encoding the message: %w", err)
	}
	return n.post(ctx, target, body, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, secretsOf(target))
}

// slackText renders "FAILED: summary", the details as a bulleted list and
// the report link, escaped for Slack's mrkdwn.
func slackText(ev Event) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", status(ev.OK), esc.Replace(headline(ev)))
	for _, d := range ev.Details {
		fmt.Fprintf(&b, "\n• %s", esc.Replace(oneLine(d)))
	}
	if ev.ReportURL != "" {
		fmt.Fprintf(&b, "\nReport: <%s>", strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C").Replace(ev.ReportURL))
	}
	return b.String()
}

// pingHealthchecks POSTs body to the ping URL, or to its /start or /fail
// sub-path.
func (n *Notifier) pingHealthchecks(ctx context.Context, h *Healthchecks, which, body string) error {
	base, err := urlFrom(h.URL, h.URLFile, "url")
	if err != nil {
		return err
	}
	target := base
	if which != "" {
		u, err := url.Parse(base)
		if err != nil {
			return errors.New("the ping URL is not a URL (not printed: it holds the check's key)")
		}
		u.Path = strings.TrimRight(u.Path, "/") + "/" + which
		u.RawPath = ""
		target = u.String()
	}
	return n.post(ctx, target, []byte(body), http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, secretsOf(base))
}

// post sends body and treats any 2xx as delivered. Errors name the endpoint
// as scheme://host only and are scrubbed of secrets; network errors, 5xx and
// 429 are transient (worth the one retry).
func (n *Notifier) post(ctx context.Context, target string, body []byte, h http.Header, secrets []string) error {
	shown := redactURL(target)
	if err := checkURL(target); err != nil {
		return fmt.Errorf("the configured URL %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL: say only what it is.
		return errors.New("the URL is not a valid http(s) URL (not printed: it may hold a token)")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "lifeboat")
	resp, err := n.client.Do(req)
	if err != nil {
		// *url.Error quotes the full URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("POST %s: no answer in time: %w", shown, context.DeadlineExceeded)
		case ctx.Err() != nil:
			return fmt.Errorf("POST %s: %w", shown, ctx.Err())
		}
		return transientError{fmt.Errorf("POST %s: %s", shown, scrub(err.Error(), secrets))}
	}
	defer resp.Body.Close()
	excerpt, rerr := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := fmt.Sprintf("POST %s answered %s", shown, resp.Status)
	if e := scrub(oneLine(string(excerpt)), secrets); rerr == nil && strings.TrimSpace(e) != "" {
		msg += ": " + truncate(strings.TrimSpace(e), 200)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		msg += " (redirects are not followed: configure the URL it points to)"
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return transientError{errors.New(msg)}
	}
	return errors.New(msg)
}

// urlFrom returns the URL from file (which wins) or inline.
func urlFrom(inline, file, field string) (string, error) {
	if file != "" {
		u, err := readSecret(file)
		if err != nil {
			return "", fmt.Errorf("%s_file: %w", field, err)
		}
		if u == "" {
			return "", fmt.Errorf("%s_file: %s is empty", field, file)
		}
		return u, nil
	}
	if inline == "" {
		return "", fmt.Errorf("no %s or %s_file configured", field, field)
	}
	return strings.TrimSpace(inline), nil
}

// secretsOf lists the parts of a URL that may be tokens, for scrub: the URL
// itself, a password, long path segments, query values.
func secretsOf(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if u.User != nil {
		out = append(out, u.User.String())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 8 {
			out = append(out, seg)
		}
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 4 {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func status(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}

// headline is the summary, or a stand-in when the caller gave none.
func headline(ev Event) string {
	if s := oneLine(ev.Summary); s != "" {
		return s
	}
	verb := "failed"
	if ev.OK {
		verb = "passed"
	}
	return fmt.Sprintf("%s of %s %s", ev.Kind, ev.App, verb)
}

// textSummary is the plain-text form (healthchecks ping bodies), at most
// limit bytes.
func textSummary(ev Event, limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s lifeboat %s %s\n%s\n", status(ev.OK), ev.Kind, ev.App, headline(ev))
	for _, d := range ev.Details {
		fmt.Fprintf(&b, "- %s\n", oneLine(d))
	}
	if ev.ReportURL != "" {
		fmt.Fprintf(&b, "Report: %s\n", ev.ReportURL)
	}
	return truncate(b.String(), limit)
}

// oneLine folds line breaks so one value stays one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
