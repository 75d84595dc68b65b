package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// hit is one request a receiver saw.
type hit struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// receiver is a local HTTP endpoint that records every request and answers
// through respond (n counts requests from 1).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		n := len(rc.hits)
		rc.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) Hits() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

const (
	pathToken  = "SECRETTOKEN123"
	queryToken = "SECRETKEY456"
	hmacKey    = "hmac-key-never-sent"
)

func failedEvent() Event {
	return Event{
		App:       "shop",
		Kind:      "drill",
		OK:        false,
		Summary:   "drill of shop failed: RTO 20m (target 15m)",
		Details:   []string{"check users_count: 0 rows, want at least 1: the archive may be empty", "restore took 19m: raise database.restore_timeout or use a bigger VPS"},
		Time:      time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		ReportURL: "https://standby.example.com/reports/shop/drill/42",
		Payload:   map[string]any{"rto_seconds": 1200, "phases": []string{"fetch", "restore"}},
	}
}

// webhookConfig points a webhook at rc through a 0600 URL file whose URL
// carries a path token and a query token, signed with hmacKey.
func webhookConfig(t *testing.T, rc *receiver) *Webhook {
	return &Webhook{
		URLFile:    writeSecret(t, "webhook-url", rc.URL+"/hooks/"+pathToken+"?key="+queryToken+"\n", 0o600),
		SecretFile: writeSecret(t, "webhook-secret", hmacKey+"\n", 0o600),
	}
}

func TestWebhookDeliversSignedEvent(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTest(Config{Webhook: webhookConfig(t, rc)})
	rs := n.Notify(context.Background(), failedEvent())

	if len(rs) != 1 || rs[0].Channel != "webhook" || !rs[0].OK || rs[0].Error != "" {
		t.Fatalf("results = %+v, want one OK webhook result", rs)
	}
	if err := Failed(rs); err != nil {
		t.Fatalf("Failed = %v, want nil", err)
	}
	hits := rc.Hits()
	if len(hits) != 1 {
		t.Fatalf("receiver saw %d requests, want 1", len(hits))
	}
	h := hits[0]
	if h.Method != http.MethodPost || h.Path != "/hooks/"+pathToken || h.RawQuery != "key="+queryToken {
		t.Errorf("request = %s %s?%s", h.Method, h.Path, h.RawQuery)
	}
	if ct := h.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ua := h.Header.Get("User-Agent"); ua != "lifeboat" {
		t.Errorf("User-Agent = %q", ua)
	}
	// Verify the signature independently of Sign.
	mac := hmac.New(sha256.New, []byte(hmacKey))
	mac.Write(h.Body)
	if got, want := h.Header.Get("X-Lifeboat-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
	mustNotContain(t, "webhook body", string(h.Body), hmacKey, pathToken, queryToken)

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(h.Body, &raw); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, h.Body)
	}
	for _, k := range []string{"app", "kind", "ok", "summary", "details", "time", "report_url", "payload"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("body lacks %q: %s", k, h.Body)
		}
	}
	var got struct {
		App, Kind, Summary string
		OK                 bool
		Details            []string
		Time               time.Time
		ReportURL          string `json:"report_url"`
		Payload            struct {
			RTOSeconds int      `json:"rto_seconds"`
			Phases     []string `json:"phases"`
		}
	}
	if err := json.Unmarshal(h.Body, &got); err != nil {
		t.Fatal(err)
	}
	ev := failedEvent()
	if got.App != "shop" || got.Kind != "drill" || got.OK || got.Summary != ev.Summary ||
		len(got.Details) != 2 || got.Details[1] != ev.Details[1] || !got.Time.Equal(ev.Time) ||
		got.ReportURL != ev.ReportURL || got.Payload.RTOSeconds != 1200 || len(got.Payload.Phases) != 2 {
		t.Errorf("body = %s", h.Body)
	}
}

func TestWebhookEmptyFieldsArePresent(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTest(Config{Webhook: &Webhook{URL: rc.URL + "/x"}, On: []string{"success"}})
	before := time.Now()
	rs := n.Notify(context.Background(), Event{App: "shop", Kind: "check", OK: true})
	if err := Failed(rs); err != nil || len(rs) != 1 {
		t.Fatalf("results %+v, err %v", rs, err)
	}
	body := rc.Hits()[0].Body
	for _, want := range []string{`"details":[]`, `"report_url":""`, `"payload":null`, `"ok":true`, `"summary":""`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	if rc.Hits()[0].Header.Get("X-Lifeboat-Signature") != "" {
		t.Error("signed without a secret_file")
	}
	var got struct{ Time time.Time }
	_ = json.Unmarshal(body, &got)
	if got.Time.Before(before.Add(-time.Second)) || got.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("a zero Event.Time should become now, got %v", got.Time)
	}
}

func TestWebhookRetriesOnceAfter5xx(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			http.Error(w, "busy", http.StatusInternalServerError)
		}
	})
	n := newTest(Config{Webhook: webhookConfig(t, rc)})
	rs := n.Notify(context.Background(), failedEvent())
	if len(rs) != 1 || !rs[0].OK {
		t.Fatalf("results = %+v, want delivered after a retry", rs)
	}
	hits := rc.Hits()
	if len(hits) != 2 {
		t.Fatalf("receiver saw %d requests, want 2", len(hits))
	}
	if string(hits[0].Body) != string(hits[1].Body) || hits[0].Header.Get(SignatureHeader) != hits[1].Header.Get(SignatureHeader) {
		t.Error("the retry sent a different body or signature")
	}
}

func TestWebhookRetriesOnceAfterNetworkError(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 { // drop the connection without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	})
	n := newTest(Config{Webhook: webhookConfig(t, rc)})
	rs := n.Notify(context.Background(), failedEvent())
	if len(rs) != 1 || !rs[0].OK {
		t.Fatalf("results = %+v, want delivered after a retry", rs)
	}
	if got := len(rc.Hits()); got < 2 {
		t.Fatalf("receiver saw %d requests, want a retry", got)
	}
}

func TestWebhookAlways500FailsWithoutSecrets(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		// A careless receiver echoing the URL must not leak it either.
		http.Error(w, "cannot handle "+r.URL.String(), http.StatusInternalServerError)
	})
	wh := webhookConfig(t, rc)
	n := newTest(Config{Webhook: wh})
	rs := n.Notify(context.Background(), failedEvent())
	if len(rs) != 1 || rs[0].OK || rs[0].Channel != "webhook" {
		t.Fatalf("results = %+v, want one failed webhook result", rs)
	}
	if got := len(rc.Hits()); got != 2 {
		t.Errorf("receiver saw %d requests, want 2 (one retry)", got)
	}
	err := Failed(rs)
	if !errors.Is(err, ErrDelivery) {
		t.Fatalf("Failed = %v, want ErrDelivery", err)
	}
	msg := err.Error()
	for _, want := range []string{"webhook", "500", "127.0.0.1", "retry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	mustNotContain(t, "error", msg, pathToken, queryToken, hmacKey, rc.URL+"/hooks")
	mustNotContain(t, "result", rs[0].Error, pathToken, queryToken)
}

func TestWebhook4xxIsNotRetried(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Error(w, "no such hook", http.StatusNotFound)
	})
	n := newTest(Config{Webhook: webhookConfig(t, rc)})
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "404") || !strings.Contains(rs[0].Error, "no such hook") {
		t.Errorf("result = %+v", rs[0])
	}
	if got := len(rc.Hits()); got != 1 {
		t.Errorf("receiver saw %d requests, want 1", got)
	}
}

func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	n := newTest(Config{Webhook: webhookConfig(t, rc)})
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "302") || !strings.Contains(rs[0].Error, "redirect") {
		t.Errorf("result = %+v", rs[0])
	}
	if len(target.Hits()) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestWebhookHangingReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	wh := webhookConfig(t, rc)
	wh.Timeout = units.Duration(300 * time.Millisecond)
	n := newTest(Config{Webhook: wh})
	start := time.Now()
	rs := n.Notify(context.Background(), failedEvent())
	took := time.Since(start)
	if took > 2*time.Second {
		t.Errorf("Notify took %s with a 300ms timeout", took)
	}
	if rs[0].OK || !strings.Contains(rs[0].Error, "timeout 300ms") || !strings.Contains(rs[0].Error, "no answer") {
		t.Errorf("result = %+v", rs[0])
	}
	if rs[0].Seconds < 0.29 || rs[0].Seconds > 2 {
		t.Errorf("Seconds = %v", rs[0].Seconds)
	}
	mustNotContain(t, "error", rs[0].Error, pathToken, queryToken)
}

func TestWebhookUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := newTest(Config{Webhook: &Webhook{URL: "http://" + addr + "/hooks/" + pathToken + "?key=" + queryToken}})
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "http://"+addr) || !strings.Contains(rs[0].Error, "refused") {
		t.Errorf("result = %+v", rs[0])
	}
	mustNotContain(t, "error", rs[0].Error, pathToken, queryToken)
}

func TestWebhookURLFileWinsAndMustBeReadable(t *testing.T) {
	good := newReceiver(t, nil)
	bad := newReceiver(t, nil)
	n := newTest(Config{Webhook: &Webhook{URL: bad.URL, URLFile: writeSecret(t, "u", good.URL+"/in", 0o600)}})
	if rs := n.Notify(context.Background(), failedEvent()); !rs[0].OK || len(good.Hits()) != 1 || len(bad.Hits()) != 0 {
		t.Errorf("url_file should win over url: %+v", rs)
	}

	open := writeSecret(t, "open", good.URL+"/in", 0o644)
	n = newTest(Config{Webhook: &Webhook{URLFile: open}})
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "url_file") || !strings.Contains(rs[0].Error, "chmod 600") {
		t.Errorf("a 0644 url_file was used: %+v", rs[0])
	}
	if len(good.Hits()) != 1 {
		t.Error("sent although the url_file is world-readable")
	}
}

func TestOnSelectsOutcomes(t *testing.T) {
	rc := newReceiver(t, nil)
	ok := failedEvent()
	ok.OK = true
	for _, tc := range []struct {
		on            []string
		failure, succ int
	}{
		{nil, 1, 0},
		{[]string{"failure"}, 1, 0},
		{[]string{"success"}, 0, 1},
		{[]string{"failure", "success"}, 1, 1},
	} {
		n := newTest(Config{Webhook: &Webhook{URL: rc.URL}, On: tc.on})
		if got := len(n.Notify(context.Background(), failedEvent())); got != tc.failure {
			t.Errorf("on %v: %d results for a failure, want %d", tc.on, got, tc.failure)
		}
		if got := len(n.Notify(context.Background(), ok)); got != tc.succ {
			t.Errorf("on %v: %d results for a success, want %d", tc.on, got, tc.succ)
		}
	}
}

func TestSlackMessage(t *testing.T) {
	const slackToken = "SLACKSECRETB0T0KEN"
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, "ok") })
	n := newTest(Config{Slack: &Slack{
		WebhookURLFile: writeSecret(t, "slack", rc.URL+"/services/T000/B000/"+slackToken, 0o600),
		Channel:        "#ops",
	}})
	ev := failedEvent()
	ev.Details = append(ev.Details, "table <orders> & friends missing")
	rs := n.Notify(context.Background(), ev)
	if len(rs) != 1 || rs[0].Channel != "slack" || !rs[0].OK {
		t.Fatalf("results = %+v", rs)
	}
	h := rc.Hits()[0]
	if h.Method != http.MethodPost || h.Path != "/services/T000/B000/"+slackToken || !strings.HasPrefix(h.Header.Get("Content-Type"), "application/json") {
		t.Errorf("request = %s %s %v", h.Method, h.Path, h.Header)
	}
	mustNotContain(t, "slack body", string(h.Body), slackToken)
	var msg map[string]string
	if err := json.Unmarshal(h.Body, &msg); err != nil {
		t.Fatal(err)
	}
	want := "FAILED: drill of shop failed: RTO 20m (target 15m)\n" +
		"• check users_count: 0 rows, want at least 1: the archive may be empty\n" +
		"• restore took 19m: raise database.restore_timeout or use a bigger VPS\n" +
		"• table &lt;orders&gt; &amp; friends missing\n" +
		"Report: <https://standby.example.com/reports/shop/drill/42>"
	if msg["text"] != want {
		t.Errorf("text =\n%s\nwant\n%s", msg["text"], want)
	}
	if msg["channel"] != "#ops" {
		t.Errorf("channel = %q", msg["channel"])
	}
}

func TestSlackFailureNamesChannelNotURL(t *testing.T) {
	const slackToken = "SLACKSECRETB0T0KEN"
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	})
	n := newTest(Config{Slack: &Slack{WebhookURLFile: writeSecret(t, "slack", rc.URL+"/services/T000/B000/"+slackToken, 0o600)}})
	err := Failed(n.Notify(context.Background(), failedEvent()))
	if !errors.Is(err, ErrDelivery) || !strings.Contains(err.Error(), "slack") || !strings.Contains(err.Error(), "invalid_token") {
		t.Fatalf("Failed = %v", err)
	}
	mustNotContain(t, "error", err.Error(), slackToken, "/services/")
}

func TestHealthchecksPings(t *testing.T) {
	const uuid = "0c5e3c5a-1b7e-4f0e-9d5b-6d1f1a2b3c4d"
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, "OK") })
	// On says failure only: healthchecks is pinged on success anyway.
	n := newTest(Config{Healthchecks: &Healthchecks{URLFile: writeSecret(t, "hc", rc.URL+"/"+uuid+"\n", 0o600)}})

	if rs := n.Start(context.Background(), "shop", "drill"); len(rs) != 1 || !rs[0].OK || rs[0].Channel != "healthchecks" {
		t.Fatalf("Start = %+v", rs)
	}
	ok := failedEvent()
	ok.OK, ok.Summary = true, "drill of shop passed"
	if rs := n.Notify(context.Background(), ok); len(rs) != 1 || !rs[0].OK {
		t.Fatalf("Notify(ok) = %+v", rs)
	}
	if rs := n.Notify(context.Background(), failedEvent()); len(rs) != 1 || !rs[0].OK {
		t.Fatalf("Notify(failed) = %+v", rs)
	}
	hits := rc.Hits()
	if len(hits) != 3 {
		t.Fatalf("%d pings, want 3", len(hits))
	}
	for i, want := range []string{"/" + uuid + "/start", "/" + uuid, "/" + uuid + "/fail"} {
		if hits[i].Method != http.MethodPost || hits[i].Path != want || hits[i].Header.Get("User-Agent") != "lifeboat" {
			t.Errorf("ping %d = %s %s, want POST %s", i, hits[i].Method, hits[i].Path, want)
		}
	}
	if len(hits[0].Body) != 0 {
		t.Errorf("start ping body = %q", hits[0].Body)
	}
	if b := string(hits[1].Body); !strings.HasPrefix(b, "OK lifeboat drill shop\ndrill of shop passed\n") {
		t.Errorf("success body = %q", b)
	}
	b := string(hits[2].Body)
	for _, want := range []string{"FAILED lifeboat drill shop", "drill of shop failed", "- check users_count", "Report: https://standby.example.com/reports/shop/drill/42"} {
		if !strings.Contains(b, want) {
			t.Errorf("fail body lacks %q: %q", want, b)
		}
	}
}

func TestHealthchecksKeepsQueryAndCapsBody(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTest(Config{Healthchecks: &Healthchecks{URL: rc.URL + "/ping/key/shop-drill/?create=1"}})
	ev := failedEvent()
	for range 2000 {
		ev.Details = append(ev.Details, "ünïcödé detail line that goes on")
	}
	n.Start(context.Background(), "shop", "drill")
	if rs := n.Notify(context.Background(), ev); !rs[0].OK {
		t.Fatalf("result = %+v", rs[0])
	}
	hits := rc.Hits()
	if hits[0].Path != "/ping/key/shop-drill/start" || hits[0].RawQuery != "create=1" {
		t.Errorf("start ping = %s?%s", hits[0].Path, hits[0].RawQuery)
	}
	if hits[1].Path != "/ping/key/shop-drill/fail" || hits[1].RawQuery != "create=1" {
		t.Errorf("fail ping = %s?%s", hits[1].Path, hits[1].RawQuery)
	}
	if len(hits[1].Body) > 10<<10 || len(hits[1].Body) < 9<<10 || !utf8.Valid(hits[1].Body) {
		t.Errorf("body is %d bytes (valid UTF-8: %v), want just under 10 KiB", len(hits[1].Body), utf8.Valid(hits[1].Body))
	}
}

func TestStartWithoutHealthchecks(t *testing.T) {
	rc := newReceiver(t, nil)
	rs := newTest(Config{Webhook: &Webhook{URL: rc.URL}}).Start(context.Background(), "shop", "drill")
	if rs == nil || len(rs) != 0 || len(rc.Hits()) != 0 {
		t.Errorf("Start = %#v, hits %d; want an empty slice and no request", rs, len(rc.Hits()))
	}
	if rs := New(Config{}).Notify(context.Background(), failedEvent()); rs == nil || len(rs) != 0 {
		t.Errorf("Notify with nothing configured = %#v", rs)
	}
}

func TestNotifyIsConcurrentAndOrdered(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request, n int) { time.Sleep(400 * time.Millisecond) }
	wh, sl, hc := newReceiver(t, slow), newReceiver(t, slow), newReceiver(t, slow)
	sink := newSMTPSink(t, smtpSinkOptions{delay: 400 * time.Millisecond})
	n := newTest(Config{
		Webhook:      &Webhook{URL: wh.URL},
		Slack:        &Slack{WebhookURLFile: writeSecret(t, "s", sl.URL, 0o600)},
		Email:        sink.config(),
		Healthchecks: &Healthchecks{URL: hc.URL},
	})
	start := time.Now()
	rs := n.Notify(context.Background(), failedEvent())
	if took := time.Since(start); took > 1200*time.Millisecond {
		t.Errorf("four 400ms channels took %s: not concurrent", took)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Channel)
		if !r.OK {
			t.Errorf("%s: %s", r.Channel, r.Error)
		}
	}
	if strings.Join(got, ",") != "webhook,slack,email,healthchecks" {
		t.Errorf("order = %v", got)
	}
}

func TestCancelledContextFails(t *testing.T) {
	rc := newReceiver(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs := newTest(Config{Webhook: &Webhook{URL: rc.URL}}).Notify(ctx, failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "canceled") {
		t.Errorf("result = %+v", rs[0])
	}
}

func TestFailed(t *testing.T) {
	if err := Failed(nil); err != nil {
		t.Errorf("Failed(nil) = %v", err)
	}
	if err := Failed([]Result{{Channel: "webhook", OK: true}}); err != nil {
		t.Errorf("Failed(ok) = %v", err)
	}
	err := Failed([]Result{
		{Channel: "webhook", OK: true},
		{Channel: "slack", Error: "POST https://hooks.slack.com answered 404 Not Found"},
		{Channel: "email", Error: "SMTP smtp.example.com:587 refused every recipient"},
	})
	if !errors.Is(err, ErrDelivery) {
		t.Fatalf("Failed = %v", err)
	}
	want := "notification not delivered to slack, email (slack: POST https://hooks.slack.com answered 404 Not Found; email: SMTP smtp.example.com:587 refused every recipient)"
	if err.Error() != want {
		t.Errorf("Failed =\n%s\nwant\n%s", err, want)
	}
}

func TestResultJSONHasEveryField(t *testing.T) {
	b, _ := json.Marshal(Result{})
	if string(b) != `{"channel":"","ok":false,"error":"","seconds":0}` {
		t.Errorf("Result JSON = %s", b)
	}
}

func TestSign(t *testing.T) {
	// RFC 4231 test case 2.
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if got != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Errorf("Sign = %s", got)
	}
}

func TestWebhookBadSchemeIsNotRetried(t *testing.T) {
	rs := newTest(Config{Webhook: &Webhook{URL: "ftp://files.example.com/" + pathToken}}).Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "http:// or https://") || strings.Contains(rs[0].Error, "retry") {
		t.Errorf("result = %+v", rs[0])
	}
	mustNotContain(t, "error", rs[0].Error, pathToken)
}
