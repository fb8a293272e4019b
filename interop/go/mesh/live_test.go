package mesh

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
)

// tsNode is a TypeScript agent started with the CLI (AGENTMESH_CLI: the path of
// dist/surfaces/cli/main.js; AGENTMESH_NODE: the node binary, `node` by default).
type tsNode struct {
	cmd   *exec.Cmd
	addr  string
	addrs []string
	id    string
}

func cli(t *testing.T) (string, string) {
	t.Helper()
	path := os.Getenv("AGENTMESH_CLI")
	if path == "" {
		t.Skip("AGENTMESH_CLI is not set: give the path of dist/surfaces/cli/main.js to test against a TypeScript node")
	}
	node := os.Getenv("AGENTMESH_NODE")
	if node == "" {
		node = "node"
	}
	return node, path
}

func runCLI(t *testing.T, node, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(node, append([]string{path}, args...)...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("agentmesh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AGENTMESH_") {
			env = append(env, e)
		}
	}
	return env
}

func startTS(t *testing.T, node, path, dir string, args ...string) *tsNode {
	t.Helper()
	cmd := exec.Command(node, append([]string{path, "start", "--json", "--no-mdns", "--no-data-dir", "--log-level", "warn",
		"--listen", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws"}, args...)...)
	cmd.Env = append(cleanEnv(), "HOME="+dir, "AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &tsNode{cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var line struct {
				Event     string   `json:"event"`
				PeerID    string   `json:"peerId"`
				Addresses []string `json:"addresses"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Event == "ready" && ts.addr == "" {
				ts.id, ts.addr, ts.addrs = line.PeerID, line.Addresses[0], line.Addresses
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the TypeScript node printed no ready line within 30 s")
	}
	return ts
}

// TestAgainstTypeScriptNode joins a closed TypeScript agent with the mesh key, then sends it
// what a broken peer would: each is answered with its typed error, and the node keeps serving.
func TestAgainstTypeScriptNode(t *testing.T) {
	node, path := cli(t)
	dir := t.TempDir()
	owner := filepath.Join(dir, "owner.json")
	runCLI(t, node, path, "mesh", "init", "--mesh", "golive", "--out", owner)
	psk, err := LoadPSK(filepath.Join(dir, "mesh.psk"))
	if err != nil {
		t.Fatal(err)
	}
	runCLI(t, node, path, "id", "--identity", filepath.Join(dir, "ts.json"))
	runCLI(t, node, path, "credential", "issue", "--owner", owner, "--identity", filepath.Join(dir, "ts.json"),
		"--roles", "agent,coordinator", "--out", filepath.Join(dir, "ts.cred.json"))
	ts := startTS(t, node, path, dir, "--mesh", "golive", "--name", "ts1", "--identity", filepath.Join(dir, "ts.json"),
		"--credential", filepath.Join(dir, "ts.cred.json"), "--psk", filepath.Join(dir, "mesh.psk"))

	member := func(name string) *Node {
		idFile := filepath.Join(dir, name+".json")
		key, err := LoadOrCreateIdentity(idFile)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peerIDString(key)
		runCLI(t, node, path, "credential", "issue", "--owner", owner, "--peer", id, "--roles", "agent",
			"--out", filepath.Join(dir, name+".cred.json"))
		cred, err := wire.LoadCredential(filepath.Join(dir, name+".cred.json"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := Start(Config{Key: key, Mesh: "golive", Name: name, Credential: cred, PSK: psk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	g := member("go1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tsID, err := g.Dial(ctx, ts.addr)
	if err != nil {
		t.Fatalf("joining the closed mesh: %v", err)
	}
	if c := g.Card(tsID); c == nil || c.Name() != "ts1" {
		t.Fatalf("the TypeScript node's card: %+v", c)
	}
	echo := func(what string) {
		t.Helper()
		out, err := g.Request(ctx, tsID, "echo", wire.NewObject("n", what), 10*time.Second)
		if err != nil || string(wire.Stringify(out)) != `{"n":"`+what+`"}` {
			t.Fatalf("echo %s: %s %v", what, wire.Stringify(out), err)
		}
	}
	echo("first")

	expect := func(name string, raw []byte, wait time.Duration, code, errName string, wantClosed bool) {
		t.Helper()
		answers, closed, err := g.RawExchange(ctx, tsID, raw, wait, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if code == "" {
			if len(answers) != 0 {
				t.Errorf("%s: answered %s, want nothing", name, wire.Stringify(answers[0].Object))
			}
			return
		}
		if len(answers) != 1 || answers[0].Error() == nil || answers[0].Error().Code != code || answers[0].Error().Name != errName {
			var got []string
			for _, a := range answers {
				got = append(got, string(wire.Stringify(a.Object)))
			}
			t.Errorf("%s: answers %v, want one %s %s", name, got, code, errName)
		}
		if closed != wantClosed {
			t.Errorf("%s: stream closed %v, want %v", name, closed, wantClosed)
		}
	}
	req := wire.NewEnvelope(wire.EnvelopeFields{Source: g.ID.String(), Destination: wire.NewObject("peer", tsID.String()),
		Type: "REQUEST", Subject: "echo", Payload: wire.NewObject("n", 1.0), TTL: 10000})
	frame := wire.AppendFrame(nil, req.Encode())
	expect("truncated frame", frame[:len(frame)/2], 1500*time.Millisecond, "", "", false)
	echo("after a truncated frame")
	expect("oversized frame", []byte{0x81, 0x80, 0x40}, 5*time.Second, "MSG002", "MessageTooLargeError", true)
	echo("after an oversized frame")
	expect("unknown version byte", wire.AppendFrame(nil, append([]byte{0x02}, req.Encode()[1:]...)), 3*time.Second, "MSG002", "UnsupportedVersionError", false)
	expect("not JSON", wire.AppendFrame(nil, []byte{0x01, '{', 'x'}), 3*time.Second, "MSG002", "SerializationError", false)
	echo("after an unknown version byte")
	stale := wire.NewEnvelope(wire.EnvelopeFields{Source: g.ID.String(), Destination: wire.NewObject("peer", tsID.String()),
		Type: "REQUEST", Subject: "echo", Payload: "late", TTL: 1000, Timestamp: time.Now().Add(-time.Minute).UnixMilli()})
	expect("expired request", wire.AppendFrame(nil, stale.Encode()), 3*time.Second, "COM001", "TimeoutError", false)

	// A second Go peer shows its own credential altered after signing: SEC001, and the TS node
	// hangs up on it but keeps serving the first.
	bad := member("go-bad")
	if err := bad.Host.Connect(ctx, *addrInfo(t, ts.addr)); err != nil {
		t.Fatal(err)
	}
	cred := bad.CredentialCopy()
	cred.Set("roles", []wire.Value{"agent", "operator"})
	card := wire.NewEnvelope(wire.EnvelopeFields{Source: bad.ID.String(), Destination: wire.NewObject("peer", tsID.String()),
		Type: "REQUEST", Subject: wire.CardSubject, Payload: wire.NewObject("card", bad.MyCard(), "credential", cred), TTL: 10000})
	answers, _, err := bad.RawExchange(ctx, tsID, wire.AppendFrame(nil, card.Encode()), 3*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != 1 || answers[0].Error() == nil || answers[0].Error().Code != "SEC001" {
		t.Errorf("card with a bad signature: %d answers %v", len(answers), answers)
	} else if !strings.Contains(answers[0].Error().Message, "signature") {
		t.Errorf("card with a bad signature refused for another reason: %s", answers[0].Error().Message)
	}
	echo("after a forged card")

	// Over WebSockets too.
	ws := ""
	for _, a := range ts.addrs {
		if strings.Contains(a, "/ws/") {
			ws = a
		}
	}
	if ws == "" {
		t.Fatalf("the TypeScript node listens on no WebSocket address: %v", ts.addrs)
	}
	w := member("go-ws")
	if _, err := w.Dial(ctx, ws); err != nil {
		t.Fatalf("joining over WebSockets (%s): %v", ws, err)
	}
	if out, err := w.Request(ctx, tsID, "echo", "over ws", 10*time.Second); err != nil || out != "over ws" {
		t.Errorf("echo over WebSockets: %v %v", out, err)
	}
	for _, c := range w.Host.Network().ConnsToPeer(tsID) {
		if !strings.Contains(c.RemoteMultiaddr().String(), "/ws") {
			t.Errorf("the WebSocket peer's connection is %s", c.RemoteMultiaddr())
		}
	}

	// The Go peer answers the TypeScript node's bad input in kind: a request to an unknown
	// command of ours from the TS CLI is CMD001.
	_, err = g.Request(ctx, tsID, "no-such-command", nil, 5*time.Second)
	var e *wire.Error
	if !errors.As(err, &e) || e.Code != "CMD001" {
		t.Errorf("unknown command on the TS node: %v", err)
	}
}
