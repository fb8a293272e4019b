package mesh

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"sort"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Membership as a full member (docs/wire-format.md section 5): this peer signs a statement of
// itself, hands it to each agent that admits it ($agentmesh/member-gossip), answers probes and
// full exchanges ($agentmesh/member-sync), and refutes a suspicion of itself with a higher
// incarnation. It keeps the statements it hears (the newest seq per author) to answer a full
// exchange; it runs no failure detector of its own. A client (card `client: true`) does none
// of this.

const (
	memberGossip = "$agentmesh/member-gossip"
	memberSync   = "$agentmesh/member-sync"
)

// TopicKey is how a statement names a topic: base64url(sha256(topic)), first 12 characters.
func TopicKey(topic string) string {
	sum := sha256.Sum256([]byte(topic))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:12]
}

func (n *Node) startMembership() {
	if n.cfg.Client {
		return
	}
	n.Handle(memberGossip, func(_ context.Context, from peer.ID, p wire.Value) (wire.Value, error) {
		n.takeStatements(from, p)
		return wire.NewObject(), nil
	})
	n.Handle(memberSync, func(_ context.Context, from peer.ID, p wire.Value) (wire.Value, error) {
		n.takeStatements(from, p)
		return wire.NewObject("statements", n.heldStatements()), nil
	})
	go n.announceView()
	go func() {
		// Say again now and then that we are here, with a newer seq, to every admitted peer.
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
				n.mu.Lock()
				n.statement = nil
				n.mu.Unlock()
				n.announce()
			}
		}
	}()
}

// myStatement is this peer's signed statement, made anew when its incarnation or topics changed.
func (n *Node) myStatement() *wire.Object {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.statement != nil {
		return n.statement
	}
	seq := time.Now().UnixMilli()
	if seq <= n.seq {
		seq = n.seq + 1
	}
	n.seq = seq
	roles := make([]wire.Value, len(n.cfg.Roles))
	for i, r := range n.cfg.Roles {
		roles[i] = r
	}
	addrs := []wire.Value{}
	for _, a := range n.Host.Addrs() {
		addrs = append(addrs, a.String())
	}
	keys := []string{}
	for t := range n.topics {
		keys = append(keys, TopicKey(t))
	}
	sort.Strings(keys)
	topics := []wire.Value{}
	for i, k := range keys {
		if i == 0 || keys[i-1] != k {
			topics = append(topics, k)
		}
	}
	body := string(wire.Stringify(wire.NewObject("peerId", n.ID.String(), "name", n.cfg.Name, "roles", roles,
		"eligible", false, "incarnation", float64(n.incarnation), "suspects", []wire.Value{}, "seq", float64(seq),
		"addrs", addrs, "topics", topics)))
	sig, err := wire.SignStatement(n.cfg.Key, n.cfg.Mesh, body)
	if err != nil {
		n.logf("signing our statement: %v", err)
		return nil
	}
	st := wire.NewObject("body", body, "sig", sig)
	if n.cfg.Credential != nil {
		st.Set("cred", n.cfg.Credential.Object())
	}
	n.statement = st
	return st
}

// heldStatements is ours and every other we hold, for a full exchange.
func (n *Node) heldStatements() []wire.Value {
	out := []wire.Value{}
	if mine := n.myStatement(); mine != nil {
		out = append(out, mine)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, st := range n.heard {
		out = append(out, st.obj)
	}
	return out
}

type heardStatement struct {
	obj *wire.Object
	seq float64
}

// takeStatements keeps verified statements of others, and answers a suspicion of us.
func (n *Node) takeStatements(from peer.ID, p wire.Value) {
	o, _ := p.(*wire.Object)
	listV, _ := o.Get("statements")
	list, _ := listV.([]wire.Value)
	refute := false
	for _, e := range list {
		st, _ := e.(*wire.Object)
		bodyV, _ := st.Get("body")
		sigV, _ := st.Get("sig")
		body, _ := bodyV.(string)
		sig, _ := sigV.(string)
		parsed, err := wire.Parse([]byte(body))
		b, _ := parsed.(*wire.Object)
		if err != nil || b == nil {
			continue
		}
		authorV, _ := b.Get("peerId")
		author, _ := authorV.(string)
		if !wire.VerifyStatement(author, n.cfg.Mesh, body, sig) {
			n.logf("a statement of %s from %s does not verify: dropped (and the rest)", author, from)
			return
		}
		if author == n.ID.String() {
			continue
		}
		seqV, _ := b.Get("seq")
		seq, _ := seqV.(float64)
		susV, _ := b.Get("suspects")
		sus, _ := susV.([]wire.Value)
		n.mu.Lock()
		for _, s := range sus {
			so, _ := s.(*wire.Object)
			idV, _ := so.Get("peerId")
			incV, _ := so.Get("incarnation")
			if id, _ := idV.(string); id == n.ID.String() {
				if inc, _ := incV.(float64); int64(inc) >= n.incarnation {
					n.incarnation = int64(inc) + 1
					n.statement = nil
					refute = true
				}
			}
		}
		if old, ok := n.heard[author]; !ok || seq > old.seq {
			n.heard[author] = heardStatement{obj: st, seq: seq}
		}
		n.mu.Unlock()
	}
	if refute {
		n.logf("suspected: refuting with incarnation %d", n.incarnation)
		go n.announce()
	}
}

// announce hands our statement to every admitted peer.
func (n *Node) announce() {
	st := n.myStatement()
	if st == nil {
		return
	}
	for p := range n.Peers() {
		go n.tell(p, st)
	}
}

func (n *Node) tell(p peer.ID, st *wire.Object) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if _, err := n.request(ctx, p, memberGossip, wire.NewObject("statements", []wire.Value{st}), 5*time.Second); err != nil {
		n.logf("member gossip to %s: %v", p, err)
	}
}

// meshTopic carries each member's view for the mesh map (`agentmesh status`, /mesh). Its
// payload was read from a TypeScript node's gossip (docs/wire-format.md does not give it):
// { peerId, name, roles, peers: [connected peer ids], rates: { peer id: messages/s }, at },
// every 5 s.
const meshTopic = "$agentmesh/mesh"

func (n *Node) announceView() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		roles := make([]wire.Value, len(n.cfg.Roles))
		for i, r := range n.cfg.Roles {
			roles[i] = r
		}
		peers := []wire.Value{}
		for p, c := range n.Peers() {
			if v, _ := c.Card.Get("client"); v == true {
				continue
			}
			peers = append(peers, p.String())
		}
		view := wire.NewObject("peerId", n.ID.String(), "name", n.cfg.Name, "roles", roles, "peers", peers,
			"rates", wire.NewObject(), "at", float64(time.Now().UnixMilli()))
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		if _, err := n.Publish(ctx, meshTopic, view); err != nil {
			n.logf("mesh view: %v", err)
		}
		cancel()
	}
}
