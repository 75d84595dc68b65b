package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// subjectSummaryLimit keeps subjects readable in a mail client's list.
const subjectSummaryLimit = 120

// smtpOptions are what tests replace.
type smtpOptions struct {
	// rootCAs verifies the server's certificate; nil means the system roots.
	rootCAs *x509.CertPool
}

func (n *Notifier) sendEmail(ctx context.Context, e *Email, ev Event) error {
	from, err := parseAddress(e.From)
	if err != nil {
		return fmt.Errorf("from: %q is not an e-mail address", e.From)
	}
	var rcpts []string
	for _, t := range e.To {
		a, err := parseAddress(t)
		if err != nil {
			return fmt.Errorf("to: %q is not an e-mail address", t)
		}
		rcpts = append(rcpts, a)
	}
	if len(rcpts) == 0 {
		return errors.New("to: no recipient configured")
	}
	var password string
	if e.Username != "" {
		if password, err = readSecret(e.PasswordFile); err != nil {
			return fmt.Errorf("password_file: %w", err)
		}
	}
	msg, err := n.buildMessage(e, ev)
	if err != nil {
		return err
	}
	addr := e.smtpAddr()
	fail := func(stage string, err error) error { return smtpError(addr, stage, err, password) }

	conn, err := n.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	// net/smtp has no contexts: the connection's deadline is the channel's,
	// and a cancelled context unblocks whatever read is pending.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	tlsOn := false
	if e.TLS {
		tc := tls.Client(conn, n.tlsConfig(e.Host))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake", err)
		}
		conn, tlsOn = tc, true
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		return fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(heloName()); err != nil {
		return fail("EHLO", err)
	}
	mode := strings.ToLower(e.StartTLS)
	if !e.TLS && mode != "never" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(n.tlsConfig(e.Host)); err != nil {
				return fail("STARTTLS", err)
			}
			tlsOn = true
		} else if mode == "always" {
			return fmt.Errorf("SMTP %s does not offer STARTTLS, and email.start_tls is always", addr)
		}
	}
	if e.Username != "" {
		// net/smtp would send AUTH PLAIN in clear to localhost; never do that.
		if !tlsOn {
			return fmt.Errorf("SMTP %s: refusing to send the password unencrypted (the server offers no STARTTLS; use a relay with TLS or tls: true)", addr)
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("SMTP %s does not offer AUTH, but email.username is set", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, password, e.Host)); err != nil {
			return fail("AUTH", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fail("MAIL FROM", err)
	}
	var rejected []string
	allTransient := true
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			var te *textproto.Error
			if !errors.As(err, &te) {
				return fail("RCPT TO", err)
			}
			rejected = append(rejected, fmt.Sprintf("%s (%d %s)", r, te.Code, oneLine(te.Msg)))
			allTransient = allTransient && te.Code >= 400 && te.Code < 500
		}
	}
	if len(rejected) == len(rcpts) {
		err := fmt.Errorf("SMTP %s refused every recipient: %s", addr, strings.Join(rejected, ", "))
		if allTransient {
			return transientError{err}
		}
		return err
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("end of DATA", err)
	}
	_ = c.Quit()
	if len(rejected) > 0 {
		// Sent to the others; not retried (they would get it twice).
		return fmt.Errorf("SMTP %s refused %d of %d recipients: %s", addr, len(rejected), len(rcpts), strings.Join(rejected, ", "))
	}
	return nil
}

func (n *Notifier) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: n.smtp.rootCAs, MinVersion: tls.VersionTLS12}
}

// smtpError names the server and the stage; SMTP 4xx replies and network
// errors are transient, 5xx replies permanent.
func smtpError(addr, stage string, err error, password string) error {
	var te *textproto.Error
	var ne net.Error
	var msg string
	switch {
	case errors.As(err, &te):
		msg = scrub(fmt.Sprintf("SMTP %s refused %s: %d %s", addr, stage, te.Code, oneLine(te.Msg)), []string{password})
		if te.Code >= 400 && te.Code < 500 {
			return transientError{errors.New(msg)}
		}
		return errors.New(msg)
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("SMTP %s: no answer in time (at %s): %w", addr, stage, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("SMTP %s: %s: %w", addr, stage, err)
	}
	msg = scrub(fmt.Sprintf("SMTP %s: %s: %v", addr, stage, err), []string{password})
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return errors.New(msg)
	}
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return transientError{errors.New(msg)}
	}
	return errors.New(msg)
}

// buildMessage renders the headers and the quoted-printable plain-text body.
func (n *Notifier) buildMessage(e *Email, ev Event) ([]byte, error) {
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return nil, fmt.Errorf("from: %q is not an e-mail address", e.From)
	}
	var to []string
	for _, t := range e.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("to: %q is not an e-mail address", t)
		}
		to = append(to, a.String())
	}
	domain := "lifeboat.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	subject := fmt.Sprintf("[lifeboat] %s %s %s: %s", oneLine(ev.App), oneLine(ev.Kind), status(ev.OK), truncate(headline(ev), subjectSummaryLimit))

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("Date", n.now().Format(time.RFC1123Z))
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Message-ID", fmt.Sprintf("<%s.%d@%s>", hex.EncodeToString(id), n.now().UnixNano(), domain))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Lifeboat-App", mime.QEncoding.Encode("utf-8", oneLine(ev.App)))
	header("X-Lifeboat-Kind", mime.QEncoding.Encode("utf-8", oneLine(ev.Kind)))
	header("X-Lifeboat-Outcome", status(ev.OK))
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	var body strings.Builder
	fmt.Fprintf(&body, "%s: %s\n", status(ev.OK), headline(ev))
	if len(ev.Details) > 0 {
		body.WriteString("\n")
		for _, d := range ev.Details {
			fmt.Fprintf(&body, "- %s\n", oneLine(d))
		}
	}
	if ev.ReportURL != "" {
		fmt.Fprintf(&body, "\nReport: %s\n", ev.ReportURL)
	}
	fmt.Fprintf(&body, "\n-- \nlifeboat %s of %s on %s, %s\n", oneLine(ev.Kind), oneLine(ev.App), heloName(), ev.Time.UTC().Format(time.RFC3339))
	if _, err := qp.Write([]byte(body.String())); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// heloName is this machine's name for EHLO and the signature line.
func heloName() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}
