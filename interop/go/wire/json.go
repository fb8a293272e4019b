// Package wire holds agentmesh's wire formats as docs/wire-format.md and interop/vectors give
// them: JSON as JavaScript writes it, the envelope, rpc frames, gossip batches, credentials,
// cards and member statements.
package wire

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A Value is a JSON value as JSON.parse gives it: nil, bool, float64, string, []Value or
// *Object. Strings may hold lone UTF-16 surrogates (JavaScript strings can), kept as their
// 3-byte WTF-8 form so that they round-trip to the same \udxxx escape.
type Value = any

// Object is a JSON object that keeps its keys' insertion order, as a JavaScript object does
// (whose JSON.stringify the envelope's bytes come from).
type Object struct {
	keys []string
	vals map[string]Value
}

// NewObject makes an object from key, value pairs in order.
func NewObject(kv ...any) *Object {
	o := &Object{vals: map[string]Value{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// Set adds key at the end, or replaces its value where it is (JSON.parse keeps a duplicate
// key's first place and last value).
func (o *Object) Set(key string, v Value) {
	if o.vals == nil {
		o.vals = map[string]Value{}
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// Get returns the value of key and whether it is there.
func (o *Object) Get(key string) (Value, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.vals[key]
	return v, ok
}

// Delete removes key.
func (o *Object) Delete(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in insertion order.
func (o *Object) Keys() []string { return append([]string(nil), o.keys...) }

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Clone copies the object one level deep.
func (o *Object) Clone() *Object {
	c := &Object{keys: append([]string(nil), o.keys...), vals: make(map[string]Value, len(o.vals))}
	for k, v := range o.vals {
		c.vals[k] = v
	}
	return c
}

// MaxDepth is how deep a decoder lets JSON nest (agentmesh's decoders refuse more than 256
// levels: deeper JSON than JSON.stringify can write crashed a node, docs/security.md).
const MaxDepth = 256

// Parse reads one JSON text as JSON.parse does.
func Parse(data []byte) (Value, error) {
	p := &parser{s: data}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected non-whitespace character after JSON")
	}
	return v, nil
}

type parser struct {
	s []byte
	i int
}

func (p *parser) errorf(f string, a ...any) error {
	return fmt.Errorf("%s at position %d", fmt.Sprintf(f, a...), p.i)
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if depth > MaxDepth {
		return nil, p.errorf("JSON nested deeper than %d levels", MaxDepth)
	}
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end of JSON input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		o := &Object{vals: map[string]Value{}}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		for {
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unexpected end of JSON input")
			}
			if p.s[p.i] != '"' {
				return nil, p.errorf("expected a string key")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.errorf("expected ':'")
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.Set(k, v)
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unexpected end of JSON input")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == '}' {
				p.i++
				return o, nil
			}
			return nil, p.errorf("expected ',' or '}'")
		}
	case c == '[':
		p.i++
		a := []Value{}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unexpected end of JSON input")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ']' {
				p.i++
				return a, nil
			}
			return nil, p.errorf("expected ',' or ']'")
		}
	case c == '"':
		return p.str()
	case c == 't':
		return p.lit("true", true)
	case c == 'f':
		return p.lit("false", false)
	case c == 'n':
		return p.lit("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	default:
		return nil, p.errorf("unexpected token %q", c)
	}
}

func (p *parser) lit(word string, v Value) (Value, error) {
	if len(p.s)-p.i < len(word) {
		return nil, fmt.Errorf("unexpected end of JSON input")
	}
	if string(p.s[p.i:p.i+len(word)]) != word {
		return nil, p.errorf("unexpected token")
	}
	p.i += len(word)
	return v, nil
}

func (p *parser) num() (Value, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errorf("no number after minus sign")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("unterminated fractional number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("exponent part is missing a number")
		}
	}
	f, err := strconv.ParseFloat(string(p.s[start:p.i]), 64)
	if err != nil && !math.IsInf(f, 0) {
		return nil, p.errorf("bad number")
	}
	return f, nil
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	case b >= 'A' && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// str reads a string into WTF-8: surrogate pairs become their code point, a lone surrogate
// its own 3 bytes.
func (p *parser) str() (string, error) {
	p.i++ // the quote
	var b strings.Builder
	var units []uint16
	flush := func() {
		for j := 0; j < len(units); j++ {
			u := units[j]
			if utf16.IsSurrogate(rune(u)) && u < 0xdc00 && j+1 < len(units) && units[j+1] >= 0xdc00 && units[j+1] < 0xe000 {
				b.WriteRune(utf16.DecodeRune(rune(u), rune(units[j+1])))
				j++
				continue
			}
			writeUnit(&b, u)
		}
		units = units[:0]
	}
	for {
		if p.i >= len(p.s) {
			return "", fmt.Errorf("unterminated string in JSON")
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			flush()
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("unterminated string in JSON")
			}
			e := p.s[p.i+1]
			p.i += 2
			if e == 'u' {
				if p.i+4 > len(p.s) {
					return "", fmt.Errorf("bad unicode escape in JSON")
				}
				v := 0
				for k := 0; k < 4; k++ {
					h := hexVal(p.s[p.i+k])
					if h < 0 {
						return "", p.errorf("bad unicode escape in JSON")
					}
					v = v*16 + h
				}
				p.i += 4
				units = append(units, uint16(v))
				continue
			}
			flush()
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				return "", p.errorf("bad escaped character in JSON")
			}
		case c < 0x20:
			return "", p.errorf("bad control character in string literal in JSON")
		default:
			flush()
			r, size := utf8.DecodeRune(p.s[p.i:])
			b.WriteRune(r) // an invalid byte becomes U+FFFD, as TextDecoder makes it
			p.i += size
		}
	}
}

// writeUnit writes one UTF-16 unit that is not part of a pair: a BMP character, or a lone
// surrogate as its WTF-8 bytes.
func writeUnit(b *strings.Builder, u uint16) {
	if utf16.IsSurrogate(rune(u)) {
		b.WriteByte(0xe0 | byte(u>>12))
		b.WriteByte(0x80 | byte(u>>6)&0x3f)
		b.WriteByte(0x80 | byte(u)&0x3f)
		return
	}
	b.WriteRune(rune(u))
}

// units decodes a WTF-8 string to UTF-16 code units.
func units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] == 0xed && i+2 < len(s) && s[i+1] >= 0xa0 && s[i+1] <= 0xbf {
			out = append(out, uint16(0xd000|uint16(s[i+1]&0x3f)<<6|uint16(s[i+2]&0x3f)))
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			a, c := utf16.EncodeRune(r)
			out = append(out, uint16(a), uint16(c))
		} else {
			out = append(out, uint16(r))
		}
		i += size
	}
	return out
}

// lessUTF16 orders strings as JavaScript's default sort does: by UTF-16 code units.
func lessUTF16(a, b string) bool {
	ua, ub := units(a), units(b)
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// arrayIndex says whether key is an array index (a canonical uint32 below 2^32-1), which a
// JavaScript object lists first, in numeric order, whatever the insertion order.
func arrayIndex(key string) (uint64, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(key, 10, 64)
	if err != nil || n >= 1<<32-1 {
		return 0, false
	}
	return n, true
}

// jsKeyOrder is the order JavaScript enumerates an object's keys in: array indices ascending,
// then the other keys as given.
func jsKeyOrder(keys []string) []string {
	var idx, rest []string
	for _, k := range keys {
		if _, ok := arrayIndex(k); ok {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	sort.Slice(idx, func(i, j int) bool { a, _ := arrayIndex(idx[i]); b, _ := arrayIndex(idx[j]); return a < b })
	return append(idx, rest...)
}

// Stringify writes v as JSON.stringify does (keys in JavaScript's enumeration order).
func Stringify(v Value) []byte {
	var b strings.Builder
	write(&b, v, false)
	return []byte(b.String())
}

// Canonical writes v as canonicalJson does: JSON.stringify with every object's keys
// re-inserted in sorted (UTF-16) order, which JavaScript still enumerates array indices first.
func Canonical(v Value) []byte {
	var b strings.Builder
	write(&b, v, true)
	return []byte(b.String())
}

func write(b *strings.Builder, v Value, sorted bool) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		b.WriteString(FormatNumber(x))
	case int:
		b.WriteString(FormatNumber(float64(x)))
	case int64:
		b.WriteString(FormatNumber(float64(x)))
	case string:
		writeString(b, x)
	case []Value:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			write(b, e, sorted)
		}
		b.WriteByte(']')
	case []string:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, e)
		}
		b.WriteByte(']')
	case *Object:
		keys := x.keys
		if sorted {
			keys = append([]string(nil), keys...)
			sort.SliceStable(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		}
		b.WriteByte('{')
		for i, k := range jsKeyOrder(keys) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			write(b, x.vals[k], sorted)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("wire: no JSON for %T", v))
	}
}

const hexDigits = "0123456789abcdef"

func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0xed && i+2 < len(s) && s[i+1] >= 0xa0 && s[i+1] <= 0xbf {
			u := 0xd000 | uint16(s[i+1]&0x3f)<<6 | uint16(s[i+2]&0x3f)
			b.WriteString(`\u`)
			for sh := 12; sh >= 0; sh -= 4 {
				b.WriteByte(hexDigits[(u>>sh)&0xf])
			}
			i += 3
			continue
		}
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
		i++
	}
	b.WriteByte('"')
}

// FormatNumber writes a number as JavaScript's Number#toString does (ECMAScript
// Number::toString: the shortest digits that round-trip, plain from 1e-6 up to below 1e21);
// NaN and the infinities are null in JSON.
func FormatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	if f == 0 {
		return "0"
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	es := "+"
	if n-1 < 0 {
		es = "-"
	}
	ev := n - 1
	if ev < 0 {
		ev = -ev
	}
	if k == 1 {
		return sign + digits + "e" + es + strconv.Itoa(ev)
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + es + strconv.Itoa(ev)
}
