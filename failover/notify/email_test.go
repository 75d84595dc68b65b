package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/units"
)

// smtpSinkOptions shape the sink's behaviour.
type smtpSinkOptions struct {
	// cert, when set, makes the sink offer STARTTLS, and AUTH PLAIN once
	// the connection is encrypted (or from the start with implicitTLS).
	cert        *tls.Certificate
	implicitTLS bool
	// reject lists recipients answered with 550.
	reject map[string]bool
	// tempFailFirstMail answers the first connection's MAIL FROM with 451.
	tempFailFirstMail bool
	// silent accepts connections and never says a word.
	silent bool
	// delay pauses before the greeting.
	delay time.Duration
	// user and password are the accepted credentials.
	user, password string
}

// sinkMessage is one message the sink accepted.
type sinkMessage struct {
	From  string
	Rcpts []string
	Data  string
}

// smtpSink is a tiny SMTP server on 127.0.0.1: enough of RFC 5321 for
// net/smtp (greeting, EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// QUIT).
type smtpSink struct {
	opts  smtpSinkOptions
	ln    net.Listener
	port  int
	mu    sync.Mutex
	conns int
	log   []string // commands, with "[tls]" marking encrypted ones
	auths []string // decoded AUTH PLAIN responses
	msgs  []sinkMessage
}

func newSMTPSink(t *testing.T, opts smtpSinkOptions) *smtpSink {
	t.Helper()
	var ln net.Listener
	var err error
	if opts.implicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*opts.cert}})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{opts: opts, ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	done := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			n := s.conns
			s.mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				s.serve(c, n)
			})
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done); wg.Wait() })
	return s
}

// config is an Email block pointing at the sink.
func (s *smtpSink) config() *Email {
	return &Email{
		Host: "127.0.0.1", Port: s.port,
		From: "Lifeboat DR <dr@example.com>",
		To:   []string{"ops@example.com", "Jane Roe <jane@example.org>"},
	}
}

func (s *smtpSink) record(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *smtpSink) snapshot() (conns int, log, auths []string, msgs []sinkMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, append([]string(nil), s.log...), append([]string(nil), s.auths...), append([]sinkMessage(nil), s.msgs...)
}

func (s *smtpSink) serve(c net.Conn, connNo int) {
	if s.opts.silent {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	time.Sleep(s.opts.delay)
	r := bufio.NewReader(c)
	say := func(lines ...string) {
		for i, l := range lines {
			sep := " "
			if i < len(lines)-1 {
				sep = "-"
			}
			fmt.Fprintf(c, "%s%s%s\r\n", l[:3], sep, l[3:])
		}
	}
	tlsOn := s.opts.implicitTLS
	var cur sinkMessage
	say("220 sink.test ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		s.record(func() {
			entry := line
			if verb == "AUTH" {
				entry = "AUTH (credentials)"
			}
			if tlsOn {
				entry = "[tls] " + entry
			}
			s.log = append(s.log, entry)
		})
		switch verb {
		case "EHLO":
			lines := []string{"250sink.test greets you"}
			if s.opts.cert != nil && !tlsOn {
				lines = append(lines, "250STARTTLS")
			}
			if s.opts.cert != nil && tlsOn {
				lines = append(lines, "250AUTH PLAIN")
			}
			say(lines...)
		case "HELO", "NOOP":
			say("250 ok")
		case "STARTTLS":
			if s.opts.cert == nil || tlsOn {
				say("502 not offered")
				continue
			}
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*s.opts.cert}})
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, tlsOn = tc, bufio.NewReader(tc), true
		case "AUTH":
			f := strings.Fields(line)
			if !tlsOn || len(f) != 3 || !strings.EqualFold(f[1], "PLAIN") {
				say("504 5.5.4 AUTH PLAIN over TLS only")
				continue
			}
			dec, _ := base64.StdEncoding.DecodeString(f[2])
			s.record(func() { s.auths = append(s.auths, string(dec)) })
			if string(dec) == "\x00"+s.opts.user+"\x00"+s.opts.password {
				say("235 2.7.0 authenticated")
			} else {
				say("535 5.7.8 bad credentials")
			}
		case "MAIL":
			if s.opts.tempFailFirstMail && connNo == 1 {
				say("451 4.3.0 try again later")
				continue
			}
			cur = sinkMessage{From: between(line, "<", ">")}
			say("250 2.1.0 ok")
		case "RCPT":
			to := between(line, "<", ">")
			if s.opts.reject[to] {
				say("550 5.1.1 <" + to + ">: mailbox unavailable")
				continue
			}
			cur.Rcpts = append(cur.Rcpts, to)
			say("250 2.1.5 ok")
		case "DATA":
			if len(cur.Rcpts) == 0 {
				say("554 5.5.1 no valid recipients")
				continue
			}
			say("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // undo dot-stuffing
			}
			cur.Data = data.String()
			s.record(func() { s.msgs = append(s.msgs, cur) })
			cur = sinkMessage{}
			say("250 2.0.0 queued")
		case "RSET":
			cur = sinkMessage{}
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 5.5.2 unknown command")
		}
	}
}

func between(s, a, b string) string {
	i, j := strings.Index(s, a), strings.LastIndex(s, b)
	if i < 0 || j <= i {
		return ""
	}
	return s[i+1 : j]
}

func TestEmailDelivered(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{})
	n := newTest(Config{Email: sink.config()})
	ev := failedEvent()
	ev.Summary = "drill of shop in Zürich failed: " + strings.Repeat("a very long reason ", 10)
	ev.Details = append(ev.Details, ".a line starting with a dot", strings.Repeat("x", 300))
	before := time.Now().Add(-time.Second)
	rs := n.Notify(context.Background(), ev)
	if len(rs) != 1 || rs[0].Channel != "email" || !rs[0].OK {
		t.Fatalf("results = %+v", rs)
	}
	conns, log, auths, msgs := sink.snapshot()
	if conns != 1 || len(msgs) != 1 || len(auths) != 0 {
		t.Fatalf("sink saw %d connections, %d messages, %d AUTH; log %q", conns, len(msgs), len(auths), log)
	}
	if !strings.HasPrefix(log[0], "EHLO ") {
		t.Errorf("first command %q, want EHLO", log[0])
	}
	if log[len(log)-1] != "QUIT" {
		t.Errorf("last command %q, want QUIT", log[len(log)-1])
	}
	m := msgs[0]
	if m.From != "dr@example.com" || strings.Join(m.Rcpts, ",") != "ops@example.com,jane@example.org" {
		t.Errorf("envelope from %q to %q", m.From, m.Rcpts)
	}
	if !strings.Contains(m.Data, "\r\n") || strings.Contains(strings.ReplaceAll(m.Data, "\r\n", ""), "\n") {
		t.Error("message lines are not CRLF-terminated")
	}
	for _, l := range strings.Split(m.Data, "\r\n") {
		if len(l) > 998 {
			t.Errorf("line of %d octets", len(l))
		}
	}

	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, m.Data)
	}
	h := msg.Header
	if d, err := h.Date(); err != nil || d.Before(before) || d.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != "dr@example.com" || from[0].Name != "Lifeboat DR" {
		t.Errorf("From = %q", h.Get("From"))
	}
	if to, _ := h.AddressList("To"); len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Address != "jane@example.org" || to[1].Name != "Jane Roe" {
		t.Errorf("To = %q", h.Get("To"))
	}
	for k, want := range map[string]string{
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(subject, "[lifeboat] shop drill FAILED: drill of shop in Zürich failed: a very long reason") || !strings.HasSuffix(subject, "…") || len(subject) > 170 {
		t.Errorf("Subject = %q", subject)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(body), "\r\n")
	want := []string{
		"FAILED: " + strings.TrimSpace(ev.Summary),
		"",
		"- " + ev.Details[0],
		"- " + ev.Details[1],
		"- .a line starting with a dot",
		"- " + strings.Repeat("x", 300),
		"",
		"Report: https://standby.example.com/reports/shop/drill/42",
		"",
		"-- ",
	}
	if len(lines) < len(want) {
		t.Fatalf("body =\n%s", body)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("body line %d = %q, want %q", i, lines[i], w)
		}
	}
	if !strings.Contains(string(body), "lifeboat drill of shop on ") || !strings.Contains(string(body), "2025-03-04T05:06:07Z") {
		t.Errorf("signature line missing:\n%s", body)
	}
}

func TestEmailRejectedRecipient(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{reject: map[string]bool{"ops@example.com": true, "jane@example.org": true}})
	n := newTest(Config{Email: sink.config()})
	rs := n.Notify(context.Background(), failedEvent())
	if len(rs) != 1 || rs[0].OK {
		t.Fatalf("results = %+v, want a failure", rs)
	}
	for _, want := range []string{"550", "ops@example.com", "jane@example.org", "mailbox unavailable", "refused every recipient"} {
		if !strings.Contains(rs[0].Error, want) {
			t.Errorf("error %q does not say %q", rs[0].Error, want)
		}
	}
	err := Failed(rs)
	if !errors.Is(err, ErrDelivery) || !strings.Contains(err.Error(), "email") {
		t.Errorf("Failed = %v", err)
	}
	conns, _, _, msgs := sink.snapshot()
	if conns != 1 {
		t.Errorf("%d connections: a 550 must not be retried", conns)
	}
	if len(msgs) != 0 {
		t.Error("a message was sent with every recipient refused")
	}
}

func TestEmailPartlyRejected(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{reject: map[string]bool{"jane@example.org": true}})
	n := newTest(Config{Email: sink.config()})
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "refused 1 of 2 recipients: jane@example.org (550") {
		t.Errorf("result = %+v", rs[0])
	}
	conns, _, _, msgs := sink.snapshot()
	if conns != 1 || len(msgs) != 1 || strings.Join(msgs[0].Rcpts, ",") != "ops@example.com" {
		t.Errorf("conns %d, msgs %+v: the accepted recipient should get it once", conns, msgs)
	}
}

func TestEmailRetriesAfterTemporaryFailure(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{tempFailFirstMail: true})
	n := newTest(Config{Email: sink.config()})
	rs := n.Notify(context.Background(), failedEvent())
	if !rs[0].OK {
		t.Fatalf("result = %+v, want delivered after a retry", rs[0])
	}
	if conns, _, _, msgs := sink.snapshot(); conns != 2 || len(msgs) != 1 {
		t.Errorf("conns %d, msgs %d; want 2 and 1", conns, len(msgs))
	}
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	const password = "s3cr3t-smtp-pass"
	sink := newSMTPSink(t, smtpSinkOptions{cert: &cert, user: "alice", password: password})
	e := sink.config()
	e.Username = "alice"
	e.PasswordFile = writeSecret(t, "smtp-pass", password+"\n", 0o600)
	n := newTest(Config{Email: e})
	n.smtp.rootCAs = pool
	rs := n.Notify(context.Background(), failedEvent())
	if !rs[0].OK {
		t.Fatalf("result = %+v", rs[0])
	}
	_, log, auths, msgs := sink.snapshot()
	if len(auths) != 1 || auths[0] != "\x00alice\x00"+password {
		t.Errorf("AUTH PLAIN responses = %q", auths)
	}
	var sawStartTLS bool
	for _, l := range log {
		if l == "STARTTLS" {
			sawStartTLS = true
		}
		if strings.HasPrefix(l, "AUTH") || strings.HasPrefix(l, "MAIL") {
			t.Errorf("%q was sent before TLS", l)
		}
	}
	if !sawStartTLS || len(msgs) != 1 {
		t.Errorf("log %q, %d messages", log, len(msgs))
	}
	mustNotContain(t, "message", msgs[0].Data, password)
}

func TestEmailWrongPasswordIsPermanent(t *testing.T) {
	cert, pool := selfSigned(t)
	sink := newSMTPSink(t, smtpSinkOptions{cert: &cert, user: "alice", password: "right"})
	e := sink.config()
	e.Username = "alice"
	e.PasswordFile = writeSecret(t, "smtp-pass", "wrong-password-xyz", 0o600)
	n := newTest(Config{Email: e})
	n.smtp.rootCAs = pool
	rs := n.Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "AUTH") || !strings.Contains(rs[0].Error, "535") {
		t.Errorf("result = %+v", rs[0])
	}
	mustNotContain(t, "error", rs[0].Error, "wrong-password-xyz")
	if conns, _, _, _ := sink.snapshot(); conns != 1 {
		t.Errorf("%d connections: a 535 must not be retried", conns)
	}
}

func TestEmailNeverSendsPasswordInClear(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{}) // no STARTTLS on offer
	e := sink.config()
	e.Username = "alice"
	e.PasswordFile = writeSecret(t, "smtp-pass", "pw-in-clear-never", 0o600)
	rs := newTest(Config{Email: e}).Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "refusing to send the password unencrypted") {
		t.Errorf("result = %+v", rs[0])
	}
	_, log, auths, msgs := sink.snapshot()
	for _, l := range log {
		if strings.HasPrefix(l, "AUTH") {
			t.Errorf("AUTH sent without TLS: %q", log)
		}
	}
	if len(auths) != 0 || len(msgs) != 0 {
		t.Errorf("auths %q, msgs %d", auths, len(msgs))
	}
}

func TestEmailStartTLSAlwaysRequiresIt(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{})
	e := sink.config()
	e.StartTLS = "always"
	rs := newTest(Config{Email: e}).Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "does not offer STARTTLS") {
		t.Errorf("result = %+v", rs[0])
	}
	if _, _, _, msgs := sink.snapshot(); len(msgs) != 0 {
		t.Error("sent without TLS although start_tls is always")
	}
}

func TestEmailStartTLSNever(t *testing.T) {
	cert, _ := selfSigned(t)
	sink := newSMTPSink(t, smtpSinkOptions{cert: &cert})
	e := sink.config()
	e.StartTLS = "never"
	rs := newTest(Config{Email: e}).Notify(context.Background(), failedEvent())
	if !rs[0].OK {
		t.Fatalf("result = %+v", rs[0])
	}
	if _, log, _, _ := sink.snapshot(); strings.Contains(strings.Join(log, "\n"), "STARTTLS") {
		t.Errorf("STARTTLS used although start_tls is never: %q", log)
	}
}

func TestEmailUntrustedCertificate(t *testing.T) {
	cert, _ := selfSigned(t)
	sink := newSMTPSink(t, smtpSinkOptions{cert: &cert})
	rs := newTest(Config{Email: sink.config()}).Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "STARTTLS") || !strings.Contains(rs[0].Error, "certificate") {
		t.Errorf("result = %+v", rs[0])
	}
	if conns, _, _, msgs := sink.snapshot(); conns != 1 || len(msgs) != 0 {
		t.Errorf("conns %d msgs %d: a bad certificate is not retried and nothing is sent", conns, len(msgs))
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	sink := newSMTPSink(t, smtpSinkOptions{cert: &cert, implicitTLS: true, user: "bob", password: "pw"})
	e := sink.config()
	e.TLS = true
	e.Username = "bob"
	e.PasswordFile = writeSecret(t, "p", "pw", 0o600)
	n := newTest(Config{Email: e})
	n.smtp.rootCAs = pool
	rs := n.Notify(context.Background(), failedEvent())
	if !rs[0].OK {
		t.Fatalf("result = %+v", rs[0])
	}
	_, log, auths, msgs := sink.snapshot()
	if len(msgs) != 1 || len(auths) != 1 || !strings.HasPrefix(log[0], "[tls] EHLO") {
		t.Errorf("log %q auths %d msgs %d", log, len(auths), len(msgs))
	}
}

func TestEmailSilentServerTimesOut(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{silent: true})
	e := sink.config()
	e.Timeout = units.Duration(300 * time.Millisecond)
	start := time.Now()
	rs := newTest(Config{Email: e}).Notify(context.Background(), failedEvent())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s with a 300ms timeout", took)
	}
	if rs[0].OK || !strings.Contains(rs[0].Error, "no answer in time") || !strings.Contains(rs[0].Error, "timeout 300ms") {
		t.Errorf("result = %+v", rs[0])
	}
}

func TestEmailUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e := &Email{Host: "127.0.0.1", Port: port, From: "a@example.com", To: []string{"b@example.com"}}
	rs := newTest(Config{Email: e}).Notify(context.Background(), failedEvent())
	if rs[0].OK || !strings.Contains(rs[0].Error, "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(rs[0].Error, "retry") {
		t.Errorf("result = %+v", rs[0])
	}
}

// TestEmailDotStuffing sends a body whose quoted-printable form has lines
// starting with "." (one of them a lone "."), which only survive SMTP
// if the DATA writer stuffs them.
func TestEmailDotStuffing(t *testing.T) {
	sink := newSMTPSink(t, smtpSinkOptions{})
	n := newTest(Config{Email: sink.config()})
	ev := failedEvent()
	ev.Details = nil
	// Find detail lengths whose encoded lines start with a dot.
	var dotted []string
	for i := 60; i < 90 && len(dotted) < 2; i++ {
		d := strings.Repeat("y", i) + "." + strings.Repeat("z", i%3)
		if i%2 == 0 {
			d = strings.Repeat("y", i) + "."
		}
		probe := ev
		probe.Details = []string{d}
		msg, err := n.buildMessage(sink.config(), probe)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(msg), "\r\n.") {
			dotted = append(dotted, d)
		}
	}
	if len(dotted) == 0 {
		t.Fatal("found no detail whose encoding starts a line with a dot")
	}
	ev.Details = dotted
	if rs := n.Notify(context.Background(), ev); !rs[0].OK {
		t.Fatalf("result = %+v", rs[0])
	}
	_, _, _, msgs := sink.snapshot()
	msg, err := mail.ReadMessage(strings.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dotted {
		if !strings.Contains(string(body), "\r\n- "+d+"\r\n") {
			t.Errorf("detail %q did not survive:\n%s", d, body)
		}
	}
}
