// Package notify tells someone how a Lifeboat run ended: a JSON webhook, a
// Slack message, an e-mail and healthchecks.io-style pings.
//
// A notification that cannot be delivered is itself a failure: Notify
// returns one Result per channel it tried, and callers record them and exit
// non-zero when Failed says so. Secrets (tokens in webhook URLs, the SMTP
// password, the Slack URL, healthchecks UUIDs) are read from files of mode
// 0600 at send time and never appear in what is sent, in Results or in
// errors: a channel's endpoint is only ever named as scheme://host.
//
// The `notify:` block of lifeboat.yaml (Config):
//
//	notify:
//	  on: [failure]                    # and/or success; healthchecks is pinged either way
//	  webhook:
//	    url_file: /etc/lifeboat/webhook-url         # or url:, but a URL may hold a token
//	    secret_file: /etc/lifeboat/webhook-secret   # X-Lifeboat-Signature: sha256=<HMAC of the body>
//	    timeout: 10s
//	  slack:
//	    webhook_url_file: /etc/lifeboat/slack-url
//	    channel: "#ops"
//	  email:
//	    host: smtp.example.com
//	    port: 587                      # 465 with tls: true
//	    username: lifeboat
//	    password_file: /etc/lifeboat/smtp-password
//	    from: Lifeboat <lifeboat@example.com>
//	    to: [ops@example.com]
//	    start_tls: auto                # always, never
//	  healthchecks:
//	    url_file: /etc/lifeboat/hc-url # https://hc-ping.com/<uuid>
//
// Every timeout bounds one channel's whole delivery, its one retry included
// (a network error, a 5xx or 429 reply, an SMTP 4xx reply).
package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrDelivery is wrapped by the error Failed returns.
var ErrDelivery = errors.New("notification not delivered")

// Channel names, in the order Notify reports them.
const (
	ChannelWebhook      = "webhook"
	ChannelSlack        = "slack"
	ChannelEmail        = "email"
	ChannelHealthchecks = "healthchecks"
)

// Event is how a command ended.
type Event struct {
	App  string
	Kind string // drill, refresh, failover, failback, check, fetch
	OK   bool
	// Summary is one line: "drill of shop passed: RTO 42s (target 15m), RPO 3h (target 26h)".
	Summary string
	// Details are short lines: failures and what to do about them.
	Details []string
	// Time is when the run ended; the zero value means now.
	Time time.Time
	// ReportURL optionally links to the report (lifeboat serve's page).
	ReportURL string
	// Payload is the JSON body's "payload" (the drill report, the refresh
	// run…). The caller guarantees it holds no secrets.
	Payload any
}

// Result is what happened on one channel. Every field is always present in
// JSON.
type Result struct {
	Channel string  `json:"channel"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error"`
	Seconds float64 `json:"seconds"`
}

// Notifier delivers events to the configured channels. It is safe for
// concurrent use.
type Notifier struct {
	cfg    Config
	client *http.Client
	dialer *net.Dialer
	// backoff is the pause before the one retry.
	backoff time.Duration
	// smtp holds what tests replace: TLS roots and the EHLO name.
	smtp smtpOptions
	now  func() time.Time
}

// New returns a Notifier for c. Nothing is read or dialled until a
// notification is sent, so a secret file fixed after start-up is picked up.
func New(c Config) *Notifier {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSHandshakeTimeout = DefaultTimeout
	tr.ResponseHeaderTimeout = 0 // each request carries its channel's deadline
	return &Notifier{
		cfg: c,
		client: &http.Client{
			Transport: tr,
			// A redirect would drop the body (POST becomes GET) and hand the
			// signed event to another URL: report it instead of following.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		dialer:  &net.Dialer{Timeout: DefaultTimeout, KeepAlive: -1},
		backoff: time.Second,
		now:     time.Now,
	}
}

// Start pings healthchecks' /start URL; the other channels say nothing when
// a run starts. It returns an empty slice when healthchecks is not
// configured.
func (n *Notifier) Start(ctx context.Context, app, kind string) []Result {
	rs := []Result{}
	if h := n.cfg.Healthchecks; h != nil {
		rs = append(rs, n.run(ctx, ChannelHealthchecks, orDefault(h.Timeout), func(ctx context.Context) error {
			return n.pingHealthchecks(ctx, h, "start", "")
		}))
	}
	return rs
}

// Notify sends ev to every channel configured for its outcome (webhook,
// slack and email as Config.On says; healthchecks always, to its success or
// /fail URL), concurrently, each within its own timeout and with one retry
// after a network error, a 5xx or a 429. It returns one Result per channel
// tried, in the order webhook, slack, email, healthchecks; an empty slice
// when there is none.
func (n *Notifier) Notify(ctx context.Context, ev Event) []Result {
	if ev.Time.IsZero() {
		ev.Time = n.now()
	}
	type job struct {
		channel string
		timeout time.Duration
		send    func(context.Context) error
	}
	var jobs []job
	if n.cfg.sends(ev.OK) {
		if w := n.cfg.Webhook; w != nil {
			jobs = append(jobs, job{ChannelWebhook, orDefault(w.Timeout), func(ctx context.Context) error { return n.sendWebhook(ctx, w, ev) }})
		}
		if s := n.cfg.Slack; s != nil {
			jobs = append(jobs, job{ChannelSlack, orDefault(s.Timeout), func(ctx context.Context) error { return n.sendSlack(ctx, s, ev) }})
		}
		if e := n.cfg.Email; e != nil {
			jobs = append(jobs, job{ChannelEmail, orDefault(e.Timeout), func(ctx context.Context) error { return n.sendEmail(ctx, e, ev) }})
		}
	}
	if h := n.cfg.Healthchecks; h != nil {
		which := ""
		if !ev.OK {
			which = "fail"
		}
		jobs = append(jobs, job{ChannelHealthchecks, orDefault(h.Timeout), func(ctx context.Context) error {
			return n.pingHealthchecks(ctx, h, which, textSummary(ev, healthchecksBodyLimit))
		}})
	}
	rs := make([]Result, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { rs[i] = n.run(ctx, j.channel, j.timeout, j.send) })
	}
	wg.Wait()
	return rs
}

// Failed returns nil when every result is OK, else an error wrapping
// ErrDelivery that names each failed channel and why.
func Failed(rs []Result) error {
	var names, why []string
	for _, r := range rs {
		if r.OK {
			continue
		}
		names = append(names, r.Channel)
		why = append(why, r.Channel+": "+r.Error)
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w to %s (%s)", ErrDelivery, strings.Join(names, ", "), strings.Join(why, "; "))
}

// run delivers on one channel within timeout, retrying once after a
// transient failure, and times it.
func (n *Notifier) run(ctx context.Context, channel string, timeout time.Duration, send func(context.Context) error) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := send(ctx)
	if err != nil && retryable(err) && ctx.Err() == nil {
		t := time.NewTimer(n.backoff)
		select {
		case <-t.C:
			if err2 := send(ctx); err2 != nil {
				err = fmt.Errorf("%w (after a retry)", err2)
			} else {
				err = nil
			}
		case <-ctx.Done():
			t.Stop()
			err = fmt.Errorf("%w (no time left to retry)", err)
		}
	}
	r := Result{Channel: channel, OK: err == nil, Seconds: time.Since(start).Round(time.Millisecond).Seconds()}
	if err != nil {
		r.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			r.Error += fmt.Sprintf(" (timeout %s)", timeout)
		}
	}
	return r
}

// transientError marks a failure worth one retry: the network, a 5xx, a 429,
// an SMTP 4xx.
type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var t transientError
	return errors.As(err, &t)
}
