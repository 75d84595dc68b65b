// Package textsafe makes text that came from outside fit to show an
// operator. Object keys, pg_dump header fields and table names are chosen
// by whoever writes to the bucket, and the last lines of an app's log may
// hold its secrets:
//
//   - [Escape] (and [NewWriter]) turn terminal control characters into
//     visible escapes, so that a key holding ESC sequences or a
//     right-to-left override cannot rewrite what the terminal shows;
//   - a [Scrubber] replaces secret values (a database password, config-var
//     values) in log excerpts with the name of what was hidden.
package textsafe

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escape returns s with every character that can steer a terminal or
// reorder what it shows replaced by a visible escape: C0 controls other
// than newline and tab (including ESC and carriage return) and DEL become
// \xNN, C1 controls, Unicode format characters (bidirectional overrides and
// isolates, zero-width characters) and the line and paragraph separators
// become \uNNNN, and bytes that are not UTF-8 become \xNN. Printable text,
// newlines and tabs are kept as they are. The escapes are also valid inside
// a JSON string.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports the characters Escape replaces.
func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// Writer passes everything written to it through Escape on its way to
// another writer, streaming: safe text is written as it is, without being
// copied, and a character split across two writes is held back until the
// next one (or Flush).
type Writer struct {
	w    io.Writer
	tail []byte // the start of a character whose end has not arrived
	esc  []byte
}

// NewWriter returns a Writer escaping into w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p into the underlying writer; it reports len(p) written
// unless the underlying writer fails.
func (e *Writer) Write(p []byte) (int, error) {
	n := len(p)
	if len(e.tail) > 0 {
		p = append(e.tail, p...)
		e.tail = nil
	}
	start := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if (c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' {
				i++
				continue
			}
			if err := e.flushSpan(p[start:i], rune(c)); err != nil {
				return 0, err
			}
			i++
			start = i
			continue
		}
		if !utf8.FullRune(p[i:]) {
			if err := e.flushSpan(p[start:i], -1); err != nil {
				return 0, err
			}
			e.tail = append([]byte(nil), p[i:]...)
			return n, nil
		}
		r, size := utf8.DecodeRune(p[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			if err := e.flushSpan(p[start:i], -1); err != nil {
				return 0, err
			}
			if _, err := io.WriteString(e.w, Escape(string(p[i:i+size]))); err != nil {
				return 0, err
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	if err := e.flushSpan(p[start:], -1); err != nil {
		return 0, err
	}
	return n, nil
}

// flushSpan writes safe bytes, then the escape of the ASCII control c
// (none when c < 0).
func (e *Writer) flushSpan(span []byte, c rune) error {
	if len(span) > 0 {
		if _, err := e.w.Write(span); err != nil {
			return err
		}
	}
	if c >= 0 {
		e.esc = fmt.Appendf(e.esc[:0], `\x%02x`, c)
		_, err := e.w.Write(e.esc)
		return err
	}
	return nil
}

// Flush writes what is held back: the bytes of a character that never
// ended, escaped.
func (e *Writer) Flush() error {
	if len(e.tail) == 0 {
		return nil
	}
	t := e.tail
	e.tail = nil
	_, err := io.WriteString(e.w, Escape(string(t)))
	return err
}

// MinSecretLen is the length below which a config-var value is not
// scrubbed by AddVars: replacing every "1" or "on" in a log would make it
// unreadable, and values that short are not secrets.
const MinSecretLen = 4

// notSecret are config vars Lifeboat sets itself, which hold no secret.
var notSecret = map[string]bool{"PORT": true, "DYNO": true, "LIFEBOAT_MODE": true}

// A Scrubber replaces known secret values in text with a marker naming
// them: "[redacted:DATABASE_URL]". The zero value scrubs nothing. Scrub
// may be called concurrently, but not at the same time as Add.
type Scrubber struct {
	secrets []secret // longest value first
}

type secret struct{ value, name string }

// Add hides value, whatever its length, as name. An empty value is ignored.
func (s *Scrubber) Add(name, value string) {
	if value == "" {
		return
	}
	for _, sec := range s.secrets {
		if sec.value == value {
			return // hidden already, under the name given first
		}
	}
	// Longer secrets are replaced first, so that a URL is hidden whole
	// rather than around its password.
	i := sort.Search(len(s.secrets), func(i int) bool { return len(s.secrets[i].value) < len(value) })
	s.secrets = append(s.secrets, secret{})
	copy(s.secrets[i+1:], s.secrets[i:])
	s.secrets[i] = secret{value: value, name: name}
}

// AddVars hides the value of every config var at least MinSecretLen long
// (except PORT, DYNO and LIFEBOAT_MODE, which Lifeboat sets itself), and,
// for values that are URLs with a password (DATABASE_URL, REDIS_URL…),
// the password on its own as well.
func (s *Scrubber) AddVars(vars map[string]string) {
	// In name order, so that of several vars holding one value (DATABASE_URL
	// and HEROKU_POSTGRESQL_NAVY_URL) the marker always names the first.
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := vars[k]
		if notSecret[k] {
			continue
		}
		if len(v) >= MinSecretLen {
			s.Add(k, v)
		}
		s.addPassword(k, v)
	}
}

// AddURL hides a URL whole as name and, when it carries a password (a
// postgres:// connection URL), the password on its own as "name password",
// both decoded and as written in the URL (percent-encoded): a driver's
// error may quote either.
func (s *Scrubber) AddURL(name, raw string) {
	s.Add(name, raw)
	s.addPassword(name, raw)
}

func (s *Scrubber) addPassword(name, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return
	}
	s.Add(name+" password", pw)
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if userinfo, _, ok := strings.Cut(rest, "@"); ok {
			if _, enc, ok := strings.Cut(userinfo, ":"); ok && enc != pw {
				s.Add(name+" password", enc)
			}
		}
	}
}

// ScrubURL returns text with the URL raw, and its password, replaced by
// markers naming them (see AddURL): the one way a connection URL is kept
// out of an error message.
func ScrubURL(text, name, raw string) string {
	var s Scrubber
	s.AddURL(name, raw)
	return s.Scrub(text)
}

// RedactURL returns a URL fit to print: its password, if any, becomes
// "*****"; the rest (user, host, database) is kept. Text that is not a URL
// comes back unchanged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.Replace(u.String(), "xxxxx", "*****", 1)
}

// Scrub returns text with every added secret replaced by its marker.
func (s *Scrubber) Scrub(text string) string {
	if s == nil || len(s.secrets) == 0 || text == "" {
		return text
	}
	for _, sec := range s.secrets {
		if strings.Contains(text, sec.value) {
			text = strings.ReplaceAll(text, sec.value, "[redacted:"+sec.name+"]")
		}
	}
	return text
}

// ScrubValue returns text with value replaced by "[redacted:name]"; a
// shortcut for one secret, such as a generation's database password.
func ScrubValue(text, name, value string) string {
	var s Scrubber
	s.Add(name, value)
	return s.Scrub(text)
}
