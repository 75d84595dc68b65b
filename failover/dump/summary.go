package dump

import (
	"sort"
	"strconv"
	"strings"
)

// Summary is what a restore plan and `lifeboat inspect` need to know about
// an archive, derived from its TOC.
type Summary struct {
	// CountsByType counts the TOC entries by Desc ("TABLE", "TABLE DATA",
	// "SEQUENCE", "VIEW", "FUNCTION", "TRIGGER", "EXTENSION", "SCHEMA",
	// "INDEX", ...).
	CountsByType map[string]int `json:"counts_by_type"`
	// DataTables are the tables that have a TABLE DATA entry, sorted by
	// schema then name.
	DataTables []TableRef `json:"data_tables"`
	// Extensions are the extensions the archive creates, sorted by name.
	Extensions []ExtensionRef `json:"extensions"`
	// SchemasCreated are the schemas the archive creates (SCHEMA entries
	// with a CREATE SCHEMA), sorted.
	SchemasCreated []string `json:"schemas_created"`
	// SchemasNeeded are the schemas the archive uses but does not create,
	// which must therefore exist before a restore, sorted: the schemas of
	// its extensions (Heroku's heroku_ext), the namespaces of its entries,
	// and schemas that qualify names in table, type, index and constraint
	// definitions (a citext column of a `pg_dump -n app` archive needs
	// heroku_ext). Schemas every database has (public, pg_catalog,
	// information_schema) are left out.
	SchemasNeeded []string `json:"schemas_needed"`
	// Sequences are the sequences whose value or owning column the archive
	// records, sorted by schema then name.
	Sequences []SequenceRef `json:"sequences"`
	// Encoding is the dumped database's encoding ("UTF8"), from the
	// ENCODING entry; empty if absent.
	Encoding string `json:"encoding"`
}

// TableRef names a table.
type TableRef struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// ColumnRef names a table column.
type ColumnRef struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Column string `json:"column"`
}

// ExtensionRef names an extension and the schema it is created in.
type ExtensionRef struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
}

// SequenceRef describes a sequence as the archive records it.
type SequenceRef struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// LastValue and IsCalled are the arguments of the SEQUENCE SET entry's
	// setval(); HasValue is false when the archive has no SEQUENCE SET
	// entry for the sequence (a schema-only dump) or it could not be parsed.
	HasValue  bool  `json:"has_value"`
	LastValue int64 `json:"last_value"`
	IsCalled  bool  `json:"is_called"`
	// OwnedBy is the column the sequence feeds: from SEQUENCE OWNED BY for
	// serial columns, from the identity definition for identity columns.
	OwnedBy *ColumnRef `json:"owned_by,omitempty"`
	// Identity is true for the sequence of an identity column.
	Identity bool `json:"identity"`
}

// schemaReferenceTypes are the entry types whose definitions name other
// objects only schema-qualified (pg_dump 10.3 and later qualify every
// name) and never as table.column, so the first part of a qualified name
// in them is a schema. Views, functions and triggers are left out: their
// bodies say table.column.
var schemaReferenceTypes = map[string]bool{
	"TABLE": true, "FOREIGN TABLE": true, "DOMAIN": true, "TYPE": true,
	"SEQUENCE": true, "DEFAULT": true, "INDEX": true, "CONSTRAINT": true,
	"FK CONSTRAINT": true, "CHECK CONSTRAINT": true, "TABLE ATTACH": true,
	"INDEX ATTACH": true,
}

// builtinSchema reports schemas that every database has.
func builtinSchema(s string) bool {
	switch s {
	case "", "public", "pg_catalog", "information_schema", "pg_toast":
		return true
	}
	return strings.HasPrefix(s, "pg_temp_") || strings.HasPrefix(s, "pg_toast_temp_")
}

// Summary derives the restore-relevant facts from the TOC. It never fails:
// what it cannot parse it leaves out.
func (a *Archive) Summary() Summary {
	s := Summary{
		CountsByType:   map[string]int{},
		DataTables:     []TableRef{},
		Extensions:     []ExtensionRef{},
		SchemasCreated: []string{},
		SchemasNeeded:  []string{},
		Sequences:      []SequenceRef{},
	}
	created := map[string]bool{}
	needed := map[string]bool{}
	seqs := map[TableRef]*SequenceRef{}
	seq := func(schema, name string) *SequenceRef {
		k := TableRef{schema, name}
		if seqs[k] == nil {
			seqs[k] = &SequenceRef{Schema: schema, Name: name}
		}
		return seqs[k]
	}

	for _, e := range a.Entries {
		s.CountsByType[e.Desc]++
		if e.Namespace != "" {
			needed[e.Namespace] = true
		}
		switch e.Desc {
		case "TABLE DATA":
			s.DataTables = append(s.DataTables, TableRef{Schema: e.Namespace, Name: e.Tag})
		case "SCHEMA":
			// PG 15+ archives may carry the public schema with a comment
			// instead of a CREATE SCHEMA ("-- *not* creating schema...").
			if strings.Contains(e.Defn, "CREATE SCHEMA") {
				created[e.Tag] = true
			}
		case "EXTENSION":
			x := parseExtension(e)
			s.Extensions = append(s.Extensions, x)
			needed[x.Schema] = true
		case "SEQUENCE SET":
			if v, called, ok := parseSetval(e.Defn); ok {
				q := seq(e.Namespace, e.Tag)
				q.HasValue, q.LastValue, q.IsCalled = true, v, called
			}
		case "SEQUENCE OWNED BY":
			if c, ok := parseOwnedBy(e.Defn); ok {
				seq(e.Namespace, e.Tag).OwnedBy = &c
			}
		case "SEQUENCE":
			if c, ok := parseIdentity(e.Defn); ok {
				q := seq(e.Namespace, e.Tag)
				q.OwnedBy, q.Identity = &c, true
			}
		case "ENCODING":
			if v, ok := quotedValue(e.Defn); ok {
				s.Encoding = v
			}
		}
		if schemaReferenceTypes[e.Desc] {
			for _, sc := range qualifyingSchemas(e.Defn) {
				needed[sc] = true
			}
		}
	}

	for sc := range created {
		s.SchemasCreated = append(s.SchemasCreated, sc)
	}
	for sc := range needed {
		if !created[sc] && !builtinSchema(sc) {
			s.SchemasNeeded = append(s.SchemasNeeded, sc)
		}
	}
	for _, q := range seqs {
		s.Sequences = append(s.Sequences, *q)
	}
	sort.Strings(s.SchemasCreated)
	sort.Strings(s.SchemasNeeded)
	sort.Slice(s.DataTables, func(i, j int) bool { return lessRef(s.DataTables[i], s.DataTables[j]) })
	sort.Slice(s.Extensions, func(i, j int) bool {
		if s.Extensions[i].Name != s.Extensions[j].Name {
			return s.Extensions[i].Name < s.Extensions[j].Name
		}
		return s.Extensions[i].Schema < s.Extensions[j].Schema
	})
	sort.Slice(s.Sequences, func(i, j int) bool {
		return lessRef(TableRef{s.Sequences[i].Schema, s.Sequences[i].Name}, TableRef{s.Sequences[j].Schema, s.Sequences[j].Name})
	})
	return s
}

func lessRef(a, b TableRef) bool {
	if a.Schema != b.Schema {
		return a.Schema < b.Schema
	}
	return a.Name < b.Name
}

// parseExtension reads "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA
// heroku_ext;" (pg_dump's dumpExtension). The tag is the extension's name;
// when the definition cannot be parsed the entry's namespace stands in for
// the schema.
func parseExtension(e Entry) ExtensionRef {
	x := ExtensionRef{Name: e.Tag, Schema: e.Namespace}
	const create = "CREATE EXTENSION IF NOT EXISTS "
	i := strings.Index(e.Defn, create)
	if i < 0 {
		return x
	}
	sc := newScanner(e.Defn[i+len(create):])
	name, ok := sc.ident()
	if !ok {
		return x
	}
	x.Name = name
	if sc.keywords("WITH", "SCHEMA") {
		if schema, ok := sc.ident(); ok {
			x.Schema = schema
		}
	}
	return x
}

// parseSetval reads "SELECT pg_catalog.setval('app.users_id_seq', 42, true);".
func parseSetval(defn string) (value int64, isCalled bool, ok bool) {
	i := strings.Index(defn, "setval(")
	if i < 0 {
		return 0, false, false
	}
	sc := newScanner(defn[i+len("setval("):])
	if _, ok := sc.stringLiteral(); !ok {
		return 0, false, false
	}
	if !sc.punct(',') {
		return 0, false, false
	}
	v, ok := sc.integer()
	if !ok || !sc.punct(',') {
		return 0, false, false
	}
	switch {
	case sc.keywords("true"):
		return v, true, true
	case sc.keywords("false"):
		return v, false, true
	}
	return 0, false, false
}

// parseOwnedBy reads "ALTER SEQUENCE app.users_id_seq OWNED BY app.users.id;".
func parseOwnedBy(defn string) (ColumnRef, bool) {
	i := strings.Index(defn, " OWNED BY ")
	if i < 0 {
		return ColumnRef{}, false
	}
	parts, ok := newScanner(defn[i+len(" OWNED BY "):]).qualified()
	switch {
	case !ok:
		return ColumnRef{}, false
	case len(parts) == 3:
		return ColumnRef{Schema: parts[0], Table: parts[1], Column: parts[2]}, true
	case len(parts) == 2: // pg_dump before 10.3 relied on search_path
		return ColumnRef{Table: parts[0], Column: parts[1]}, true
	}
	return ColumnRef{}, false
}

// parseIdentity reads the definition pg_dump gives an identity column's
// sequence: "ALTER TABLE app.t ALTER COLUMN id ADD GENERATED ALWAYS AS
// IDENTITY (\n    SEQUENCE NAME app.t_id_seq ...".
func parseIdentity(defn string) (ColumnRef, bool) {
	if !strings.Contains(defn, "ADD GENERATED ") {
		return ColumnRef{}, false
	}
	i := strings.Index(defn, "ALTER TABLE ")
	if i < 0 {
		return ColumnRef{}, false
	}
	sc := newScanner(defn[i+len("ALTER TABLE "):])
	sc.keywords("ONLY")
	parts, ok := sc.qualified()
	if !ok || len(parts) > 2 || !sc.keywords("ALTER", "COLUMN") {
		return ColumnRef{}, false
	}
	col, ok := sc.ident()
	if !ok {
		return ColumnRef{}, false
	}
	c := ColumnRef{Table: parts[len(parts)-1], Column: col}
	if len(parts) == 2 {
		c.Schema = parts[0]
	}
	return c, true
}

// quotedValue returns the first single-quoted literal of s, as in
// "SET client_encoding = 'UTF8';".
func quotedValue(s string) (string, bool) {
	i := strings.IndexByte(s, '\'')
	if i < 0 {
		return "", false
	}
	return newScanner(s[i:]).stringLiteral()
}

// qualifyingSchemas returns the first part of every qualified name
// (schema.name, schema.table.column) in SQL, outside string literals,
// quoted identifiers' contents, dollar-quoted bodies and comments.
func qualifyingSchemas(sql string) []string {
	var out []string
	sc := newScanner(sql)
	prevDot := false
	for !sc.eof() {
		c := sc.s[sc.i]
		switch {
		case c == '\'' || ((c == 'E' || c == 'e') && sc.peek(1) == '\''):
			sc.stringLiteral()
			prevDot = false
		case c == '-' && sc.peek(1) == '-':
			sc.lineComment()
		case c == '/' && sc.peek(1) == '*':
			sc.blockComment()
		case c == '$' && sc.dollarQuote():
			prevDot = false
		case c == '"' || isIdentStart(c):
			// A name preceded by a dot is not the first part of a chain.
			afterDot := prevDot
			parts, ok := sc.qualified()
			if !ok {
				sc.i++
				break
			}
			if !afterDot && len(parts) >= 2 {
				out = append(out, parts[0])
			}
			prevDot = false
		case c >= '0' && c <= '9':
			for !sc.eof() && (isIdentPart(sc.s[sc.i]) || sc.s[sc.i] == '.') {
				sc.i++
			}
			prevDot = false
		default:
			prevDot = c == '.'
			sc.i++
		}
	}
	return out
}

// scanner is a small cursor over the SQL pg_dump writes: enough to read
// identifiers, qualified names, literals and keywords.
type scanner struct {
	s string
	i int
}

func newScanner(s string) *scanner { return &scanner{s: s} }

func (sc *scanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *scanner) peek(k int) byte {
	if sc.i+k < len(sc.s) {
		return sc.s[sc.i+k]
	}
	return 0
}

func (sc *scanner) space() {
	for !sc.eof() {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r', '\f':
			sc.i++
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

// ident reads an identifier: "Quoted ""name""" or unquoted, which SQL
// folds to lower case.
func (sc *scanner) ident() (string, bool) {
	sc.space()
	if sc.eof() {
		return "", false
	}
	if sc.s[sc.i] == '"' {
		var b strings.Builder
		for j := sc.i + 1; j < len(sc.s); j++ {
			if sc.s[j] != '"' {
				b.WriteByte(sc.s[j])
				continue
			}
			if j+1 < len(sc.s) && sc.s[j+1] == '"' {
				b.WriteByte('"')
				j++
				continue
			}
			sc.i = j + 1
			return b.String(), b.Len() > 0
		}
		sc.i = len(sc.s)
		return "", false
	}
	if !isIdentStart(sc.s[sc.i]) {
		return "", false
	}
	j := sc.i
	for j < len(sc.s) && isIdentPart(sc.s[j]) {
		j++
	}
	id := strings.ToLower(sc.s[sc.i:j])
	sc.i = j
	return id, true
}

// qualified reads ident(.ident)*, with no spaces around the dots (as
// pg_dump writes them).
func (sc *scanner) qualified() ([]string, bool) {
	first, ok := sc.ident()
	if !ok {
		return nil, false
	}
	parts := []string{first}
	for sc.peek(0) == '.' && (sc.peek(1) == '"' || isIdentStart(sc.peek(1))) {
		sc.i++
		p, ok := sc.ident()
		if !ok {
			return nil, false
		}
		parts = append(parts, p)
	}
	return parts, true
}

// keywords consumes the given words (case-insensitively) if they come
// next, separated by white space, and reports whether they did.
func (sc *scanner) keywords(words ...string) bool {
	save := sc.i
	for _, w := range words {
		sc.space()
		if sc.i+len(w) > len(sc.s) || !strings.EqualFold(sc.s[sc.i:sc.i+len(w)], w) ||
			(sc.i+len(w) < len(sc.s) && isIdentPart(sc.s[sc.i+len(w)])) {
			sc.i = save
			return false
		}
		sc.i += len(w)
	}
	return true
}

func (sc *scanner) punct(c byte) bool {
	sc.space()
	if sc.peek(0) == c {
		sc.i++
		return true
	}
	return false
}

func (sc *scanner) integer() (int64, bool) {
	sc.space()
	j := sc.i
	if j < len(sc.s) && (sc.s[j] == '-' || sc.s[j] == '+') {
		j++
	}
	for j < len(sc.s) && sc.s[j] >= '0' && sc.s[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(sc.s[sc.i:j], 10, 64)
	if err != nil {
		return 0, false
	}
	sc.i = j
	return v, true
}

// stringLiteral reads '...' (quotes doubled inside) or E'...' (backslash
// escapes too, as pg_dump writes with standard_conforming_strings off).
func (sc *scanner) stringLiteral() (string, bool) {
	sc.space()
	escapes := false
	if c := sc.peek(0); (c == 'E' || c == 'e') && sc.peek(1) == '\'' {
		escapes = true
		sc.i++
	}
	if sc.peek(0) != '\'' {
		return "", false
	}
	var b strings.Builder
	for j := sc.i + 1; j < len(sc.s); j++ {
		c := sc.s[j]
		switch {
		case c == '\\' && escapes && j+1 < len(sc.s):
			j++
			b.WriteByte(sc.s[j])
		case c == '\'' && j+1 < len(sc.s) && sc.s[j+1] == '\'':
			b.WriteByte('\'')
			j++
		case c == '\'':
			sc.i = j + 1
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	sc.i = len(sc.s)
	return "", false
}

func (sc *scanner) lineComment() {
	for !sc.eof() && sc.s[sc.i] != '\n' {
		sc.i++
	}
}

func (sc *scanner) blockComment() {
	depth := 0
	for !sc.eof() {
		switch {
		case sc.s[sc.i] == '/' && sc.peek(1) == '*':
			depth++
			sc.i += 2
		case sc.s[sc.i] == '*' && sc.peek(1) == '/':
			depth--
			sc.i += 2
			if depth == 0 {
				return
			}
		default:
			sc.i++
		}
	}
}

// dollarQuote skips a $tag$...$tag$ string if one starts here.
func (sc *scanner) dollarQuote() bool {
	j := sc.i + 1
	for j < len(sc.s) && sc.s[j] != '$' {
		if !isIdentPart(sc.s[j]) || sc.s[j] == '$' || (j == sc.i+1 && sc.s[j] >= '0' && sc.s[j] <= '9') {
			return false
		}
		j++
	}
	if j >= len(sc.s) {
		return false
	}
	tag := sc.s[sc.i : j+1]
	end := strings.Index(sc.s[j+1:], tag)
	if end < 0 {
		sc.i = len(sc.s)
	} else {
		sc.i = j + 1 + end + len(tag)
	}
	return true
}
