package wire

import "strings"

// indentJSON writes v as JSON.stringify(v, null, 2) does (the CLI's files).
func indentJSON(v Value) []byte {
	var b strings.Builder
	indent(&b, v, "")
	return []byte(b.String())
}

func indent(b *strings.Builder, v Value, pre string) {
	switch x := v.(type) {
	case []Value:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(pre + "  ")
			indent(b, e, pre+"  ")
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(pre + "]")
	case *Object:
		if x.Len() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		keys := jsKeyOrder(x.keys)
		for i, k := range keys {
			b.WriteString(pre + "  ")
			writeString(b, k)
			b.WriteString(": ")
			indent(b, x.vals[k], pre+"  ")
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(pre + "}")
	default:
		b.Write(Stringify(v))
	}
}
