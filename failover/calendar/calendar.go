// Package calendar parses systemd calendar events, the syntax of a timer's
// OnCalendar= (systemd.time(7): "Mon..Fri *-*-* 04:00:00 UTC", "daily",
// "*:0/15"), and computes when one elapses next, so that a schedule in
// lifeboat.yaml is checked where it is written, on a machine without
// systemd, and fails there rather than on the VPS at night.
//
// It accepts what systemd 252 (Debian 12) accepts, with two exceptions that
// depend on the machine: a time zone must be "UTC" or an IANA name
// (Europe/Berlin), not a local abbreviation such as CET; and in a zone other
// than UTC, Next may differ from systemd around a change of the clocks, and
// where systemd itself skips a time (after a repetition that runs past the
// end of the day). Parsing is pure and never looks at the clock.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zone names validate on machines without /usr/share/zoneinfo
)

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("not a systemd calendar event")

// Bounds systemd puts on years.
const (
	minYear = 1970
	maxYear = 2199
)

// maxComponents bounds the comma-separated values of one field.
const maxComponents = 240

const usecPerSec = 1_000_000

// component is one value of a field: start, optionally up to stop (-1:
// none), every repeat (0: once).
type component struct {
	start, stop, repeat int
}

// chain is a field's list of components; nil means "*" (any value).
type chain []component

// Event is a parsed calendar event.
type Event struct {
	expr string
	// weekdays is a bit set, Monday = bit 0; 0 means any day.
	weekdays   int
	endOfMonth bool
	utc        bool
	zone       string // an IANA name other than UTC, or ""
	loc        *time.Location

	year, month, day, hour, minute chain
	// second holds microseconds (0..59_999_999), as systemd's does.
	second chain
}

// Parse parses a calendar event as OnCalendar= does. The error wraps
// ErrSyntax and says what is wrong.
func Parse(expr string) (*Event, error) {
	e, err := parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %s", ErrSyntax, expr, err)
	}
	return e, nil
}

type parseError string

func (p parseError) Error() string { return string(p) }

func parse(expr string) (*Event, error) {
	e := &Event{expr: expr, loc: time.Local}
	p := expr
	if len(p) > 4 && strings.EqualFold(p[len(p)-4:], " UTC") {
		e.utc = true
		p = p[:len(p)-4]
	} else if i := strings.LastIndexByte(p, ' '); i >= 0 {
		if name := p[i+1:]; validZone(name) {
			loc, err := time.LoadLocation(name)
			if err == nil {
				e.zone, e.loc = name, loc
				p = p[:i]
			}
		}
	}
	if e.utc || e.zone == "UTC" {
		e.utc, e.zone, e.loc = true, "", time.UTC
	}
	if p == "" {
		return nil, parseError("empty")
	}
	if !shorthand(e, p) {
		rest, err := e.parseWeekdays(p)
		if err != nil {
			return nil, err
		}
		rest, done, err := e.parseDate(rest)
		if err != nil {
			return nil, err
		}
		if !done {
			if rest, err = e.parseTime(rest); err != nil {
				return nil, err
			}
		}
		if rest != "" {
			return nil, parseError(fmt.Sprintf("unexpected %q", rest))
		}
	}
	e.normalize()
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// validZone reports whether name may be an IANA zone name (as systemd's
// timezone_is_valid: no empty parts, no "..", letters, digits and -+_/).
func validZone(name string) bool {
	if name == "" || name == "Local" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") || strings.Contains(name, "..") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-+_/", r)) {
			return false
		}
	}
	return true
}

func one(v int) chain { return chain{{start: v, stop: -1}} }

// shorthand fills e for the named schedules systemd knows.
func shorthand(e *Event, p string) bool {
	zero := func() { e.hour, e.minute, e.second = one(0), one(0), one(0) }
	switch strings.ToLower(p) {
	case "minutely":
		e.second = one(0)
	case "hourly":
		e.minute, e.second = one(0), one(0)
	case "daily":
		zero()
	case "monthly":
		zero()
		e.day = one(1)
	case "weekly":
		zero()
		e.weekdays = 1
	case "yearly", "annually", "anually":
		zero()
		e.month, e.day = one(1), one(1)
	case "quarterly":
		zero()
		e.month, e.day = chain{{1, -1, 0}, {4, -1, 0}, {7, -1, 0}, {10, -1, 0}}, one(1)
	case "semiannually", "semi-annually", "biannually", "bi-annually":
		zero()
		e.month, e.day = chain{{1, -1, 0}, {7, -1, 0}}, one(1)
	default:
		return false
	}
	return true
}

var dayNames = []struct {
	name string
	nr   int
}{
	{"monday", 0}, {"mon", 0}, {"tuesday", 1}, {"tue", 1}, {"wednesday", 2}, {"wed", 2},
	{"thursday", 3}, {"thu", 3}, {"friday", 4}, {"fri", 4}, {"saturday", 5}, {"sat", 5},
	{"sunday", 6}, {"sun", 6},
}

// parseWeekdays reads an optional weekday list ("Mon,Wed..Fri") and the
// spaces after it.
func (e *Event) parseWeekdays(p string) (string, error) {
	rangeFrom := -1
	for first := true; ; first = false {
		nr, n := -1, 0
		for _, d := range dayNames {
			if len(p) >= len(d.name) && strings.EqualFold(p[:len(d.name)], d.name) {
				nr, n = d.nr, len(d.name)
				break
			}
		}
		if nr < 0 {
			if first {
				return p, nil // no weekdays: the date follows
			}
			return "", parseError(fmt.Sprintf("%q is not a weekday (Mon, Tue, … or Monday, …)", p))
		}
		if n < len(p) && !strings.ContainsRune("-., ", rune(p[n])) {
			return "", parseError(fmt.Sprintf("%q: a weekday must be followed by a space, a comma or a range", p))
		}
		e.weekdays |= 1 << nr
		if rangeFrom >= 0 {
			if rangeFrom > nr {
				return "", parseError("a weekday range must go forward (Mon..Fri, not Fri..Mon)")
			}
			for j := rangeFrom + 1; j < nr; j++ {
				e.weekdays |= 1 << j
			}
		}
		p = p[n:]
		if p == "" {
			return p, nil
		}
		if p[0] == ' ' {
			return strings.TrimLeft(p, " "), nil
		}
		switch {
		case strings.HasPrefix(p, ".."):
			if rangeFrom >= 0 {
				return "", parseError("a weekday range must have two ends")
			}
			rangeFrom, p = nr, p[2:]
		case p[0] == '.':
			return "", parseError("a weekday range is written Mon..Fri")
		case p[0] == '-':
			if rangeFrom >= 0 {
				return "", parseError("a weekday range must have two ends")
			}
			rangeFrom, p = nr, p[1:]
		case p[0] == ',':
			rangeFrom, p = -1, p[1:]
		}
		if p == "" || p[0] == ' ' {
			if rangeFrom >= 0 {
				return "", parseError("a weekday range must have two ends")
			}
			return strings.TrimLeft(p, " "), nil
		}
	}
}

// parseDate reads an optional [YEAR-]MONTH-DAY (or MONTH~DAY, counting
// from the month's end) or @UNIXSECONDS. done is true after @UNIXSECONDS,
// which includes the time.
func (e *Event) parseDate(p string) (rest string, done bool, err error) {
	if p == "" {
		return p, false, nil
	}
	if p[0] == '@' {
		n, rest, err := number(p[1:])
		if err != nil {
			return "", false, err
		}
		t := time.Unix(int64(n), 0).UTC()
		e.utc, e.zone, e.loc = true, "", time.UTC
		e.year, e.month, e.day = one(t.Year()), one(int(t.Month())), one(t.Day())
		e.hour, e.minute, e.second = one(t.Hour()), one(t.Minute()), one(t.Second()*usecPerSec)
		return rest, true, nil
	}
	first, t, err := parseChain(p, false)
	if err != nil {
		return "", false, err
	}
	if t == "" || t[0] == ':' {
		return p, false, nil // a time, not a date
	}
	if err := e.dateSeparator(t); err != nil {
		return "", false, err
	}
	second, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", false, err
	}
	if t == "" || t[0] == ' ' {
		e.month, e.day = first, second
		return strings.TrimLeft(t, " "), false, nil
	}
	if e.endOfMonth {
		return "", false, parseError("~ (days before the month's end) separates the month and the day only")
	}
	if err := e.dateSeparator(t); err != nil {
		return "", false, err
	}
	third, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", false, err
	}
	if t != "" && t[0] != ' ' {
		return "", false, parseError(fmt.Sprintf("unexpected %q after the date", t))
	}
	e.year, e.month, e.day = first, second, third
	return strings.TrimLeft(t, " "), false, nil
}

// dateSeparator accepts the "-" or "~" (counting days from the month's
// end) that t starts with.
func (e *Event) dateSeparator(t string) error {
	switch t[0] {
	case '~':
		e.endOfMonth = true
	case '-':
	default:
		return parseError(fmt.Sprintf("unexpected %q in the date", t))
	}
	return nil
}

// parseTime reads HOUR:MINUTE[:SECOND]; nothing at all means 00:00:00.
func (e *Event) parseTime(p string) (string, error) {
	if p == "" {
		e.hour, e.minute, e.second = one(0), one(0), one(0)
		return "", nil
	}
	h, t, err := parseChain(p, false)
	if err != nil {
		return "", err
	}
	if t == "" || t[0] != ':' {
		return "", parseError("a time is written HH:MM or HH:MM:SS")
	}
	m, t, err := parseChain(t[1:], false)
	if err != nil {
		return "", err
	}
	e.hour, e.minute = h, m
	if t == "" {
		e.second = one(0)
		return "", nil
	}
	if t[0] != ':' {
		return "", parseError(fmt.Sprintf("unexpected %q in the time", t))
	}
	s, t, err := parseChain(t[1:], true)
	if err != nil {
		return "", err
	}
	if t != "" {
		return "", parseError(fmt.Sprintf("unexpected %q after the time", t))
	}
	e.second = s
	return "", nil
}

// parseChain reads "*" or a comma-separated list of START[..STOP][/REPEAT].
// For seconds (usec) values are microseconds and may have a fraction.
func parseChain(p string, usec bool) (chain, string, error) {
	if strings.HasPrefix(p, "*") {
		if usec {
			return chain{{start: 0, stop: -1, repeat: usecPerSec}}, p[1:], nil
		}
		return nil, p[1:], nil
	}
	var c chain
	for {
		if len(c) >= maxComponents {
			return nil, "", parseError("too many values in one field")
		}
		start, t, err := decimal(p, usec)
		if err != nil {
			return nil, "", err
		}
		comp := component{start: start, stop: -1}
		if strings.HasPrefix(t, "..") {
			if comp.stop, t, err = decimal(t[2:], usec); err != nil {
				return nil, "", err
			}
			comp.repeat = 1
			if usec {
				comp.repeat = usecPerSec
			}
		}
		if strings.HasPrefix(t, "/") {
			if comp.repeat, t, err = decimal(t[1:], usec); err != nil {
				return nil, "", err
			}
			if comp.repeat == 0 {
				return nil, "", parseError("a repetition (/N) must not be 0")
			}
		} else if usec && comp.stop >= 0 && comp.start+comp.repeat > comp.stop {
			return nil, "", parseError("a range of seconds must span at least a second")
		}
		if t != "" && !strings.ContainsRune(" ,-~:", rune(t[0])) {
			return nil, "", parseError(fmt.Sprintf("unexpected %q", t))
		}
		c = append(c, comp)
		if t == "" || t[0] != ',' {
			return c, t, nil
		}
		p = t[1:]
	}
}

// number reads an unsigned decimal.
func number(p string) (int, string, error) {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i == 0 {
		if p == "" {
			return 0, "", parseError("a number is missing at the end")
		}
		return 0, "", parseError(fmt.Sprintf("%q: a number or * was expected", p))
	}
	n, err := strconv.ParseInt(p[:i], 10, 32)
	if err != nil {
		return 0, "", parseError(fmt.Sprintf("%s is too large", p[:i]))
	}
	return int(n), p[i:], nil
}

// decimal reads a number; with usec, seconds with up to 6 decimals, in
// microseconds ("." is a decimal point, ".." a range).
func decimal(p string, usec bool) (int, string, error) {
	n, t, err := number(p)
	if err != nil || !usec {
		return n, t, err
	}
	v := int64(n) * usecPerSec
	if len(t) >= 2 && t[0] == '.' && t[1] != '.' {
		i := 1
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		frac := t[1:i]
		if frac == "" {
			return 0, "", parseError("a decimal point must be followed by digits")
		}
		if len(frac) > 6 {
			frac = frac[:6]
		}
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 6-len(frac)))
		v += int64(f)
		t = t[i:]
	}
	if v > 1<<31-1 {
		return 0, "", parseError(fmt.Sprintf("%q is too large", p))
	}
	return int(v), t, nil
}

func (e *Event) normalize() {
	if e.weekdays == 0x7f {
		e.weekdays = 0
	}
	if e.endOfMonth && e.day == nil {
		e.endOfMonth = false
	}
	for i := range e.year {
		c := &e.year[i]
		c.start, c.stop = fixYear(c.start), fixYear(c.stop)
	}
	for _, c := range []*chain{&e.year, &e.month, &e.day, &e.hour, &e.minute, &e.second} {
		*c = normalizeChain(*c)
	}
}

// fixYear turns 24 into 2024 and 89 into 1989, as systemd does.
func fixYear(y int) int {
	switch {
	case y >= 0 && y < 70:
		return y + 2000
	case y >= 70 && y < 100:
		return y + 1900
	}
	return y
}

// normalizeChain shortens each range to a whole number of repetitions,
// sorts the components and drops duplicates, as systemd does before it
// validates.
func normalizeChain(c chain) chain {
	if c == nil {
		return nil
	}
	for i := range c {
		x := &c[i]
		if x.stop > x.start && x.repeat > 0 {
			x.stop -= (x.stop - x.start) % x.repeat
		}
		// A repetition that never fires, or a range of one value, is
		// just that value.
		if (x.stop > x.start && x.repeat > 0 && x.start+x.repeat > x.stop) || x.start == x.stop {
			x.stop, x.repeat = -1, 0
		}
	}
	sort.Slice(c, func(i, j int) bool {
		a, b := c[i], c[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.stop != b.stop {
			return a.stop < b.stop
		}
		return a.repeat < b.repeat
	})
	out := c[:1]
	for _, x := range c[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

func (e *Event) validate() error {
	fields := []struct {
		name     string
		c        chain
		from, to int
		eom      bool
	}{
		{"year", e.year, minYear, maxYear, false},
		{"month", e.month, 1, 12, false},
		{"day", e.day, 1, 31, e.endOfMonth},
		{"hour", e.hour, 0, 23, false},
		{"minute", e.minute, 0, 59, false},
		{"second", e.second, 0, 60*usecPerSec - 1, false},
	}
	for _, f := range fields {
		if err := validChain(f.c, f.from, f.to, f.eom); err != nil {
			unit := 1
			if f.name == "second" {
				unit = usecPerSec
			}
			hi := f.to
			if f.eom {
				hi -= 3
			}
			return parseError(fmt.Sprintf("the %s must be from %d to %d, with a repetition that fits: %s", f.name, f.from/unit, hi/unit, err))
		}
	}
	return nil
}

func validChain(c chain, from, to int, eom bool) error {
	for _, x := range c {
		if eom {
			// No more than 28 days before the month's end. systemd
			// takes 3 more off for each further value of the list
			// (~1,27 is refused), and what it refuses fails on the VPS.
			to -= 3
		}
		switch {
		case x.start < from || x.start > to:
			return fmt.Errorf("%d is out of range", x.start)
		case x.repeat > to-from:
			return fmt.Errorf("repetition %d is too large", x.repeat)
		case x.stop >= 0 && (x.stop < from || x.stop > to):
			return fmt.Errorf("%d is out of range", x.stop)
		case x.stop >= 0 && x.start+x.repeat > x.stop:
			return fmt.Errorf("the range %d..%d is shorter than its repetition", x.start, x.stop)
		case x.stop < 0 && eom && x.start-x.repeat < from:
			return fmt.Errorf("repetition %d is too large", x.repeat)
		case x.stop < 0 && !eom && x.start+x.repeat > to:
			return fmt.Errorf("%d/%d repeats past the end", x.start, x.repeat)
		}
	}
	return nil
}

// String returns the event as written.
func (e *Event) String() string { return e.expr }

// Normalized returns the event in systemd's normalized form
// ("*-*-* 04:00:00 UTC"), as `systemd-analyze calendar` prints it.
func (e *Event) Normalized() string {
	var b strings.Builder
	if e.weekdays != 0 {
		b.WriteString(formatWeekdays(e.weekdays))
		b.WriteByte(' ')
	}
	formatChain(&b, 4, e.year, false)
	b.WriteByte('-')
	formatChain(&b, 2, e.month, false)
	if e.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	formatChain(&b, 2, e.day, false)
	b.WriteByte(' ')
	formatChain(&b, 2, e.hour, false)
	b.WriteByte(':')
	formatChain(&b, 2, e.minute, false)
	b.WriteByte(':')
	formatChain(&b, 2, e.second, true)
	switch {
	case e.utc:
		b.WriteString(" UTC")
	case e.zone != "":
		b.WriteString(" " + e.zone)
	}
	return b.String()
}

var shortDays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func formatWeekdays(bits int) string {
	var parts []string
	for x := 0; x < 7; {
		if bits&(1<<x) == 0 {
			x++
			continue
		}
		y := x
		for y+1 < 7 && bits&(1<<(y+1)) != 0 {
			y++
		}
		switch {
		case y == x:
			parts = append(parts, shortDays[x])
		case y == x+1:
			parts = append(parts, shortDays[x], shortDays[y])
		default:
			parts = append(parts, shortDays[x]+".."+shortDays[y])
		}
		x = y + 1
	}
	return strings.Join(parts, ",")
}

func formatChain(b *strings.Builder, width int, c chain, usec bool) {
	d := 1
	if usec {
		d = usecPerSec
	}
	if c == nil || (usec && len(c) == 1 && c[0] == component{0, -1, usecPerSec}) {
		b.WriteByte('*')
		return
	}
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%0*d", width, x.start/d)
		if x.start%d > 0 {
			fmt.Fprintf(b, ".%06d", x.start%d)
		}
		if x.stop > 0 {
			fmt.Fprintf(b, "..%0*d", width, x.stop/d)
		}
		if x.stop > 0 && x.stop%d > 0 {
			fmt.Fprintf(b, ".%06d", x.stop%d)
		}
		if x.repeat > 0 && !(x.stop > 0 && x.repeat == d) {
			fmt.Fprintf(b, "/%d", x.repeat/d)
		}
		if x.repeat%d > 0 {
			fmt.Fprintf(b, ".%06d", x.repeat%d)
		}
	}
}

// Location is where the event's wall-clock times are read: UTC, the zone
// it names, or the machine's local time.
func (e *Event) Location() *time.Location { return e.loc }

// In returns the event with its wall-clock times read in loc when it names
// no zone itself (systemd reads them in the machine's local time).
func (e *Event) In(loc *time.Location) *Event {
	if e.utc || e.zone != "" {
		return e
	}
	c := *e
	c.loc = loc
	return &c
}

// Next returns the first time strictly after t at which the event elapses,
// and false if it never does again (a date in the past, February 30th).
func (e *Event) Next(t time.Time) (time.Time, bool) {
	t = t.In(e.loc).Truncate(time.Microsecond).Add(time.Microsecond)
	y, mo, d := t.Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, e.loc)
	first := true
	for guard := 0; guard < 200_000; guard++ {
		y, mo, d = day.Date()
		if y > maxYear {
			return time.Time{}, false
		}
		if !matches(e.year, y) {
			next, ok := nextValue(e.year, y+1, maxYear)
			if !ok {
				return time.Time{}, false
			}
			day, first = time.Date(next, 1, 1, 0, 0, 0, 0, e.loc), false
			continue
		}
		if e.dayMatches(y, mo, d, day.Weekday()) {
			var from time.Time
			if first {
				from = t
			}
			if at, ok := e.timeOn(y, mo, d, from); ok {
				return at, true
			}
		}
		day, first = time.Date(y, mo, d+1, 0, 0, 0, 0, e.loc), false
	}
	return time.Time{}, false
}

func (e *Event) dayMatches(y int, mo time.Month, d int, wd time.Weekday) bool {
	if !matches(e.month, int(mo)) {
		return false
	}
	if e.day != nil {
		if e.endOfMonth {
			last := time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if !matchesFromEnd(e.day, d, last) {
				return false
			}
		} else if !matches(e.day, d) {
			return false
		}
	}
	if e.weekdays != 0 {
		k := (int(wd) + 6) % 7 // Monday = 0
		if e.weekdays&(1<<k) == 0 {
			return false
		}
	}
	return true
}

// timeOn returns the first time of the event on the given day, at or after
// from (the zero time: any time of the day).
func (e *Event) timeOn(y int, mo time.Month, d int, from time.Time) (time.Time, bool) {
	fh, fm, fus := -1, 0, 0
	if !from.IsZero() {
		fh, fm = from.Hour(), from.Minute()
		fus = from.Second()*usecPerSec + from.Nanosecond()/1000
	}
	for h := max(fh, 0); h < 24; h++ {
		if !matches(e.hour, h) {
			continue
		}
		m0 := 0
		if h == fh {
			m0 = fm
		}
		for m := m0; m < 60; m++ {
			if !matches(e.minute, m) {
				continue
			}
			us0 := 0
			if h == fh && m == fm {
				us0 = fus
			}
			us, ok := nextValue(e.second, us0, 60*usecPerSec-1)
			if !ok {
				continue
			}
			at := time.Date(y, mo, d, h, m, us/usecPerSec, (us%usecPerSec)*1000, e.loc)
			if ah, am, _ := at.Clock(); ah != h || am != m || at.Day() != d {
				continue // a wall-clock time the clocks skip
			}
			return at, true
		}
	}
	return time.Time{}, false
}

func matches(c chain, v int) bool {
	if c == nil {
		return true
	}
	n, ok := nextValue(c, v, v)
	return ok && n == v
}

// matchesFromEnd matches day d of a month of last days against a chain of
// days counted back from the month's end (1 = the last day).
func matchesFromEnd(c chain, d, last int) bool {
	for _, x := range c {
		start, stop := last+1-x.start, -1
		if x.stop >= 0 {
			start, stop = last+1-x.stop, last+1-x.start
		}
		if valueIn(component{start, stop, x.repeat}, d) {
			return true
		}
	}
	return false
}

func valueIn(x component, v int) bool {
	if v == x.start {
		return true
	}
	if v < x.start || x.repeat == 0 || (x.stop >= 0 && v > x.stop) {
		return false
	}
	return (v-x.start)%x.repeat == 0
}

// nextValue returns the smallest value of c that is >= from and <= to.
func nextValue(c chain, from, to int) (int, bool) {
	if c == nil {
		return from, from <= to
	}
	best, found := 0, false
	for _, x := range c {
		var k int
		switch {
		case x.start >= from:
			k = x.start
		case x.repeat > 0:
			k = x.start + x.repeat*((from-x.start+x.repeat-1)/x.repeat)
			if x.stop >= 0 && k > x.stop {
				continue
			}
		default:
			continue
		}
		if k <= to && (!found || k < best) {
			best, found = k, true
		}
	}
	return best, found
}
