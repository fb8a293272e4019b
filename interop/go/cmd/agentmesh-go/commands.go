package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/mesh"
	"github.com/agentmesh/agentmesh/interop/go/wire"
	"github.com/libp2p/go-libp2p/core/peer"
)

func peerIDOf(cfg mesh.Config) (string, error) {
	id, err := peer.IDFromPrivateKey(cfg.Key)
	return id.String(), err
}

var outMu sync.Mutex

// emit prints one JSON object on a line of its own.
func emit(o *wire.Object) {
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(wire.Stringify(o), '\n'))
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "agentmesh-go:", err)
	if strings.HasPrefix(err.Error(), "CFG001") {
		return 2
	}
	return 1
}

func cmdID(args []string) int {
	c := newCommon("id")
	if err := c.fs.Parse(args); err != nil {
		return 2
	}
	key, err := mesh.LoadOrCreateIdentity(*c.identity)
	if err != nil {
		return fail(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	fmt.Println(id)
	return 0
}

// resolve takes a peer id, or the name of an admitted peer's card.
func resolve(n *mesh.Node, to string) (peer.ID, error) {
	if id, err := peer.Decode(to); err == nil {
		return id, nil
	}
	// as `agentmesh request` does, wait up to 10 s for a card of that name
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for id, c := range n.Peers() {
			if c.Name() == to {
				return id, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var names []string
	for id, c := range n.Peers() {
		if c.Name() == to {
			return id, nil
		}
		names = append(names, c.Name())
	}
	return "", &wire.Error{Code: "COM003", Name: "UnknownAgentError", Message: fmt.Sprintf("no agent %q; seen: %s", to, strings.Join(names, ", "))}
}

func parsePayload(s string) (wire.Value, error) {
	if s == "" {
		return nil, nil
	}
	v, err := wire.Parse([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("payload is not JSON: %w", err)
	}
	return v, nil
}

func cmdRequest(args []string) int {
	c := newCommon("request")
	if err := c.parse(args); err != nil {
		return fail(err)
	}
	a := c.args()
	if len(a) < 2 {
		return fail(fmt.Errorf("CFG001: request <agent> <command> [json]"))
	}
	payload := ""
	if len(a) > 2 {
		payload = a[2]
	}
	p, err := parsePayload(payload)
	if err != nil {
		return fail(err)
	}
	n, err := c.join(true)
	if err != nil {
		return fail(err)
	}
	defer n.Close()
	to, err := resolve(n, a[0])
	if err != nil {
		return fail(err)
	}
	out, err := n.Request(context.Background(), to, a[1], p, *c.timeout)
	if err != nil {
		return fail(err)
	}
	fmt.Println(string(wire.Stringify(out)))
	return 0
}

func cmdPub(args []string) int {
	c := newCommon("pub")
	if err := c.parse(args); err != nil {
		return fail(err)
	}
	a := c.args()
	if len(a) < 1 {
		return fail(fmt.Errorf("CFG001: pub <topic> [json]"))
	}
	payload := "null"
	if len(a) > 1 {
		payload = a[1]
	}
	p, err := parsePayload(payload)
	if err != nil {
		return fail(err)
	}
	n, err := c.join(true)
	if err != nil {
		return fail(err)
	}
	defer n.Close()
	if err := waitTopicPeers(n, a[0], *c.timeout); err != nil {
		return fail(err)
	}
	env, err := n.Publish(context.Background(), a[0], p)
	if err != nil {
		return fail(err)
	}
	time.Sleep(500 * time.Millisecond) // let gossipsub write it before the host closes
	fmt.Println(env.ID())
	return 0
}

// waitTopicPeers waits until gossipsub knows a subscriber of the topic, so a publish right
// after joining is not sent to nobody.
func waitTopicPeers(n *mesh.Node, topic string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for len(n.TopicPeers(topic)) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("COM002: no subscriber of %q met within %s", topic, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// one heartbeat for gossipsub to graft or fan out to it
	time.Sleep(1200 * time.Millisecond)
	return nil
}

func cmdStart(args []string) int {
	c := newCommon("start")
	var subs list
	c.fs.Var(&subs, "sub", "topics to subscribe to and print (repeat or comma-separate)")
	client := c.fs.Bool("client", false, "join as a client (the card says so)")
	if err := c.parse(args); err != nil {
		return fail(err)
	}
	n, err := c.join(*client)
	if err != nil {
		return fail(err)
	}
	defer n.Close()
	n.Handle("fail", func(_ context.Context, _ peer.ID, p wire.Value) (wire.Value, error) {
		return nil, fmt.Errorf("asked to fail")
	})
	for _, t := range subs {
		if err := subscribe(n, t); err != nil {
			return fail(err)
		}
	}
	addrs := []wire.Value{}
	for _, a := range n.Addrs() {
		addrs = append(addrs, a)
	}
	emit(wire.NewObject("event", "ready", "peerId", n.ID.String(), "name", *c.name, "addresses", addrs,
		"security", map[bool]string{true: "closed", false: "open"}[n.Closed()]))
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		v, err := wire.Parse([]byte(line))
		op, ok := v.(*wire.Object)
		if err != nil || !ok {
			emit(wire.NewObject("event", "result", "ok", false, "error", "operation is not a JSON object"))
			continue
		}
		go operate(n, op, *c.timeout)
	}
	// stdin closed: keep serving until killed (SIGTERM ends the process)
	select {}
}

func subscribe(n *mesh.Node, topic string) error {
	ch, err := n.Subscribe(topic)
	if err != nil {
		return err
	}
	go func() {
		for ev := range ch {
			emit(wire.NewObject("event", "message", "topic", ev.Topic, "id", ev.Envelope.ID(),
				"source", ev.Envelope.Source(), "type", ev.Envelope.Type(), "via", ev.Via, "wire", float64(ev.Wire), "payload", ev.Envelope.Payload()))
		}
	}()
	return nil
}

func operate(n *mesh.Node, op *wire.Object, timeout time.Duration) {
	get := func(k string) string { v, _ := op.Get(k); s, _ := v.(string); return s }
	id, _ := op.Get("id")
	result := func(payload wire.Value, err error) {
		o := wire.NewObject("event", "result", "id", id, "ok", err == nil)
		if err != nil {
			if e, ok := err.(*wire.Error); ok {
				o.Set("error", e.ToObject())
			} else {
				o.Set("error", err.Error())
			}
		} else {
			o.Set("payload", payload)
		}
		emit(o)
	}
	payload, _ := op.Get("payload")
	ctx := context.Background()
	switch get("op") {
	case "request":
		to, err := resolve(n, get("to"))
		if err != nil {
			result(nil, err)
			return
		}
		result(n.Request(ctx, to, get("command"), payload, timeout))
	case "publish":
		env, err := n.Publish(ctx, get("topic"), payload)
		result(env.ID(), err)
	case "subscribe":
		result(nil, subscribe(n, get("topic")))
	case "peers":
		out := wire.NewObject()
		for p, c := range n.Peers() {
			out.Set(p.String(), c.Name())
		}
		result(out, nil)
	case "topic-peers":
		out := []wire.Value{}
		for _, p := range n.TopicPeers(get("topic")) {
			out = append(out, p.String())
		}
		result(out, nil)
	case "bad":
		to, err := resolve(n, get("to"))
		if err != nil {
			result(nil, err)
			return
		}
		result(sendBad(ctx, n, to, get("case"), get("hex")))
	default:
		result(nil, fmt.Errorf("unknown op %q", get("op")))
	}
}

// sendBad writes what a broken peer would on a fresh rpc stream and reports the answers.
func sendBad(ctx context.Context, n *mesh.Node, to peer.ID, which, rawHex string) (wire.Value, error) {
	req := wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("peer", to.String()),
		Type: "REQUEST", Subject: "echo", Payload: wire.NewObject("text", "bad"), TTL: 5000})
	frame := wire.AppendFrame(nil, req.Encode())
	var raw []byte
	wait := 3 * time.Second
	switch which {
	case "truncated":
		raw = frame[:len(frame)/2]
		wait = 12 * time.Second
	case "oversized":
		raw = []byte{0x81, 0x80, 0x40} // 1 MiB + 1
	case "version":
		body := append([]byte{0x02}, req.Encode()[1:]...)
		raw = wire.AppendFrame(nil, body)
	case "badcard":
		// our own card, with a credential altered after signing
		cred := n.CredentialCopy()
		if cred == nil {
			return nil, fmt.Errorf("badcard needs a closed mesh")
		}
		caps, _ := cred.Get("capabilities")
		arr, _ := caps.([]wire.Value)
		cred.Set("capabilities", append(append([]wire.Value{}, arr...), "admin"))
		card := wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("peer", to.String()),
			Type: "REQUEST", Subject: wire.CardSubject, Payload: wire.NewObject("card", n.MyCard(), "credential", cred), TTL: 10000})
		raw = wire.AppendFrame(nil, card.Encode())
	case "hex":
		b, err := hex.DecodeString(rawHex)
		if err != nil {
			return nil, err
		}
		raw = b
	default:
		return nil, fmt.Errorf("unknown bad case %q", which)
	}
	answers, closed, err := n.RawExchange(ctx, to, raw, wait)
	if err != nil {
		return nil, err
	}
	out := []wire.Value{}
	for _, a := range answers {
		out = append(out, a.Object)
	}
	return wire.NewObject("answers", out, "closed", closed), nil
}
