package main

import "io"

// indentWriter indents compact JSON as it streams through, the way
// json.Indent(dst, src, "", "  ") does, without holding the document: the
// JSON of an archive's summary can be tens of megabytes, and json.Encoder's
// own indentation keeps a second copy of it in memory.
type indentWriter struct {
	w       io.Writer
	buf     []byte
	depth   int
	inStr   bool
	escaped bool
	opened  byte // '{' or '[' just written, not yet known to be empty
}

func newIndentWriter(w io.Writer) *indentWriter { return &indentWriter{w: w} }

func (j *indentWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if j.inStr {
			j.buf = append(j.buf, c)
			switch {
			case j.escaped:
				j.escaped = false
			case c == '\\':
				j.escaped = true
			case c == '"':
				j.inStr = false
			}
			continue
		}
		if j.opened != 0 {
			open := j.opened
			j.opened = 0
			if (open == '{' && c == '}') || (open == '[' && c == ']') {
				j.buf = append(j.buf, c) // {} and [] stay on one line
				continue
			}
			j.depth++
			j.newline()
		}
		switch c {
		case '{', '[':
			j.buf = append(j.buf, c)
			j.opened = c
		case '}', ']':
			j.depth--
			j.newline()
			j.buf = append(j.buf, c)
		case ',':
			j.buf = append(j.buf, c)
			j.newline()
		case ':':
			j.buf = append(j.buf, ':', ' ')
		case '"':
			j.inStr = true
			j.buf = append(j.buf, c)
		default:
			j.buf = append(j.buf, c)
		}
		if len(j.buf) >= 64<<10 {
			if err := j.flush(); err != nil {
				return 0, err
			}
		}
	}
	return len(p), j.flush()
}

func (j *indentWriter) newline() {
	j.buf = append(j.buf, '\n')
	for range j.depth {
		j.buf = append(j.buf, ' ', ' ')
	}
}

func (j *indentWriter) flush() error {
	if len(j.buf) == 0 {
		return nil
	}
	_, err := j.w.Write(j.buf)
	j.buf = j.buf[:0]
	return err
}
