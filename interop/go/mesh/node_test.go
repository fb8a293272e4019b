package mesh

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	"github.com/libp2p/go-libp2p/core/crypto"
)

func vectorsDir() string {
	if d := os.Getenv("AGENTMESH_VECTORS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "vectors")
}

func loadVector(t *testing.T, name string) *wire.Object {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorsDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := wire.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*wire.Object)
}

func get(o *wire.Object, path ...string) wire.Value {
	var cur wire.Value = o
	for _, p := range path {
		obj, _ := cur.(*wire.Object)
		cur, _ = obj.Get(p)
	}
	return cur
}

func vectorKey(t *testing.T, who string) crypto.PrivKey {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(get(loadVector(t, "keys.json"), who, "private_key_protobuf_base64").(string))
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.UnmarshalPrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestBadInputVectors sends each byte string of bad-input.json from alice to a Go peer with
// bob's key, as the vector's TypeScript node got them, and checks the Go peer answers them as
// that node did: same codes and names, same correlation, the stream closed or not.
func TestBadInputVectors(t *testing.T) {
	bob, err := Start(Config{Key: vectorKey(t, "bob"), Mesh: "vectors", Name: "bob", Listen: []string{"/ip4/127.0.0.1/tcp/0"},
		StallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	alice, err := Start(Config{Key: vectorKey(t, "alice"), Mesh: "vectors", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := alice.Dial(ctx, bob.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range get(loadVector(t, "bad-input.json"), "cases").([]wire.Value) {
		c := c.(*wire.Object)
		name := get(c, "name").(string)
		input, _ := hex.DecodeString(get(c, "input_hex").(string))
		want := get(c, "answers").([]wire.Value)
		wantClosed := get(c, "stream_closed_by_server").(bool)
		answers, closed, err := alice.RawExchange(ctx, bob.ID, input, 1500*time.Millisecond, len(want))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(answers) != len(want) {
			t.Errorf("%s: %d answers, want %d", name, len(answers), len(want))
			continue
		}
		if closed != wantClosed {
			t.Errorf("%s: stream closed %v, want %v", name, closed, wantClosed)
		}
		for i, a := range answers {
			w := want[i].(*wire.Object)
			we := wire.ErrorFromObject(get(w, "error"))
			ge := a.Error()
			if ge == nil || ge.Code != we.Code || ge.Name != we.Name {
				t.Errorf("%s: answered %v, want %v", name, ge, we)
			}
			wc, _ := get(w, "correlationId").(string)
			if a.CorrelationID() != wc {
				t.Errorf("%s: correlationId %q, want %q", name, a.CorrelationID(), wc)
			}
			if a.Subject() != get(w, "subject") || a.Type() != "RESPONSE" || a.Source() != bob.ID.String() {
				t.Errorf("%s: answer %s", name, wire.Stringify(a.Object))
			}
		}
	}
	// A frame begun and never finished: the stream is aborted once the stall timeout passes
	// (3 s here, 10 s by default), not kept open for ever.
	truncated, _ := hex.DecodeString("c902017b2276657273696f6e223a312c22696422")
	start := time.Now()
	answers, _, err := alice.RawExchange(ctx, bob.ID, truncated, 8*time.Second)
	if err != nil || len(answers) != 0 {
		t.Errorf("truncated frame: %v %d answers", err, len(answers))
	}
	if waited := time.Since(start); waited > 7*time.Second {
		t.Errorf("a stalled frame's stream was kept %s (stall timeout 3 s)", waited)
	}
	// A request whose ttl ran out is not handled: COM001, as a node answers it.
	stale := wire.NewEnvelope(wire.EnvelopeFields{Source: alice.ID.String(), Destination: wire.NewObject("peer", bob.ID.String()),
		Type: "REQUEST", Subject: "echo", Payload: "late", TTL: 1000, Timestamp: time.Now().Add(-time.Minute).UnixMilli()})
	answers, _, err = alice.RawExchange(ctx, bob.ID, wire.AppendFrame(nil, stale.Encode()), 3*time.Second, 1)
	if err != nil || len(answers) != 1 || answers[0].Error() == nil || answers[0].Error().Code != "COM001" || answers[0].CorrelationID() != stale.ID() {
		t.Errorf("expired request: %v, %d answers", err, len(answers))
	}
	// and it still serves
	out, err := alice.Request(ctx, bob.ID, "echo", wire.NewObject("still", "here"), 5*time.Second)
	if err != nil || string(wire.Stringify(out)) != `{"still":"here"}` {
		t.Errorf("echo after bad input: %s %v", wire.Stringify(out), err)
	}
	_, err = alice.Request(ctx, bob.ID, "nope", nil, 5*time.Second)
	if e, ok := err.(*wire.Error); !ok || e.Code != "CMD001" {
		t.Errorf("unknown command: %v, want CMD001", err)
	}
}

// TestClosedMeshBetweenGoPeers: a credential of the owner admits, none is refused SEC001.
func TestClosedMeshBetweenGoPeers(t *testing.T) {
	owner, alice, bob, carol := vectorKey(t, "owner"), vectorKey(t, "alice"), vectorKey(t, "bob"), vectorKey(t, "carol")
	cred := func(k crypto.PrivKey) *wire.Credential {
		c := issue(t, owner, "go-test", k, []string{"agent"})
		return c
	}
	b, err := Start(Config{Key: bob, Mesh: "go-test", Credential: cred(bob), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := Start(Config{Key: alice, Mesh: "go-test", Credential: cred(alice)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Dial(ctx, b.Addrs()[0]); err != nil {
		t.Fatalf("admitted peer: %v", err)
	}
	// carol shows alice's credential: another peer's is refused
	c, err := Start(Config{Key: carol, Mesh: "go-test", Credential: cred(alice)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Dial(ctx, b.Addrs()[0])
	if e, ok := err.(*wire.Error); !ok || e.Code != "SEC001" {
		t.Errorf("borrowed credential: %v, want SEC001", err)
	}
	// dave's own credential with a role added after the owner signed it: the signature no longer
	// holds, and the card is refused SEC001 (as a TypeScript node refuses it: bad-input.json).
	dave, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := cred(dave)
	forged.Roles = append(forged.Roles, "coordinator")
	d, err := Start(Config{Key: dave, Mesh: "go-test", Credential: forged})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Dial(ctx, b.Addrs()[0])
	if e, ok := err.(*wire.Error); !ok || e.Code != "SEC001" {
		t.Errorf("credential changed after signing: %v, want SEC001", err)
	}
	// and bob still serves the peer it admitted
	if _, err := a.Request(ctx, b.ID, "echo", wire.NewObject("after", "forgery"), 5*time.Second); err != nil {
		t.Errorf("echo after a forged card: %v", err)
	}
}

func issue(t *testing.T, owner crypto.PrivKey, mesh string, k crypto.PrivKey, roles []string) *wire.Credential {
	t.Helper()
	issuer, _ := peerIDString(owner)
	subject, _ := peerIDString(k)
	now := time.Now().UnixMilli()
	c := &wire.Credential{V: 1, Mesh: mesh, Issuer: issuer, Subject: subject, Roles: roles, Capabilities: []string{},
		Serial: "0123456789abcdef0123456789abcdef", IssuedAt: now, ExpiresAt: now + 3_600_000}
	if err := c.Sign(owner); err != nil {
		t.Fatal(err)
	}
	return c
}
