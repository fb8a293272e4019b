package wire

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// vectorsDir is interop/vectors, beside this module.
func vectorsDir() string {
	if d := os.Getenv("AGENTMESH_VECTORS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "vectors")
}

// loadVector parses one vector file with this package's own parser, so key order is kept.
func loadVector(t *testing.T, name string) *Object {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorsDir(), name))
	if err != nil {
		t.Fatalf("vector %s: %v", name, err)
	}
	v, err := Parse(raw)
	if err != nil {
		t.Fatalf("vector %s: %v", name, err)
	}
	return v.(*Object)
}

func field(t *testing.T, o *Object, path ...string) Value {
	t.Helper()
	var cur Value = o
	for _, p := range path {
		obj, ok := cur.(*Object)
		if !ok {
			t.Fatalf("vector: %v is not an object at %q", path, p)
		}
		cur, ok = obj.Get(p)
		if !ok {
			t.Fatalf("vector: no %v", path)
		}
	}
	return cur
}

func str(t *testing.T, o *Object, path ...string) string {
	t.Helper()
	s, ok := field(t, o, path...).(string)
	if !ok {
		t.Fatalf("vector: %v is not a string", path)
	}
	return s
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if string(got) != string(want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestCanonicalJSONVectors(t *testing.T) {
	v := loadVector(t, "canonical-json.json")
	for _, c := range field(t, v, "cases").([]Value) {
		c := c.(*Object)
		name := str(t, c, "name")
		in, err := Parse([]byte(str(t, c, "input_json")))
		if err != nil {
			t.Errorf("%s: parse: %v", name, err)
			continue
		}
		sameBytes(t, name, Canonical(in), unhex(t, str(t, c, "output_hex")))
		sameBytes(t, name+" (output field)", Canonical(in), []byte(str(t, c, "output")))
	}
}
