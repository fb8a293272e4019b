// Package mesh is an agentmesh peer on go-libp2p: the card exchange with a credential, the
// rpc protocol both ways, and events over gossipsub, as docs/wire-format.md and
// docs/security.md describe them.
package mesh

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"
)

// Protocol ids a TypeScript node speaks (seen in its identify, named in docs/wire-format.md).
const (
	RPCProtocol    = "/agentmesh/rpc/1.0.0"
	FanoutProtocol = "/agentmesh/fanout/1.0.0"
	Version        = "0.1.0"
)

// Config says who this peer is and which mesh it joins.
type Config struct {
	Key          crypto.PrivKey
	Mesh         string
	Name         string
	Credential   *wire.Credential // nil: open mesh
	PSK          pnet.PSK
	Listen       []string
	Roles        []string
	Capabilities []string
	Client       bool
	// AdmissionTimeout: how long a peer has to show a valid credential (closed mesh).
	AdmissionTimeout time.Duration
	// StallTimeout: how long a frame begun may take to finish (10 s, rpc.stallTimeoutMs).
	StallTimeout time.Duration
	Logf         func(format string, a ...any)
}

// Handler answers one command: its result is the answer's payload; an *wire.Error is sent
// as it is, any other error as CMD002.
type Handler func(ctx context.Context, from peer.ID, payload wire.Value) (wire.Value, error)

// Event is one envelope heard on a topic.
type Event struct {
	Topic    string
	Envelope wire.Envelope
	Via      string // "gossip" or "fanout"
	Wire     byte   // the batch's wire byte: 0x01, or 0x05 (a shared head, fan-out only)
}

// Node is the Go agentmesh peer.
type Node struct {
	cfg       Config
	Host      host.Host
	ID        peer.ID
	ps        *pubsub.PubSub
	startedAt int64

	mu          sync.Mutex
	handlers    map[string]Handler
	cards       map[peer.ID]*wire.Card // admitted peers and the card they showed
	waiters     map[peer.ID][]chan error
	topics      map[string]*pubsub.Topic
	subs        map[string][]chan Event
	seen        map[string]time.Time // envelope ids delivered, so fan-out and gossip deliver once
	incarnation int64
	chMu        sync.Mutex
	statement   *wire.Object
	seq         int64
	heard       map[string]heardStatement
	fanouts     map[peer.ID]*fanoutOut
	channels    map[peer.ID]*rpcChannel
	ctx         context.Context
	cancel      context.CancelFunc
}

func (n *Node) logf(f string, a ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf(f, a...)
	}
}

// Start makes the host, serves rpc and fan-out and starts gossipsub.
func Start(cfg Config) (*Node, error) {
	if cfg.AdmissionTimeout == 0 {
		cfg.AdmissionTimeout = 5 * time.Second
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = stallTimeout
	}
	if cfg.Name == "" {
		cfg.Name = "go-peer"
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = []string{"agent"}
	}
	h, err := NewHost(HostOptions{Key: cfg.Key, Listen: cfg.Listen, PSK: cfg.PSK})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, Host: h, ID: h.ID(), startedAt: time.Now().UnixMilli(), handlers: map[string]Handler{},
		cards: map[peer.ID]*wire.Card{}, waiters: map[peer.ID][]chan error{}, topics: map[string]*pubsub.Topic{},
		subs: map[string][]chan Event{}, channels: map[peer.ID]*rpcChannel{}, heard: map[string]heardStatement{}, fanouts: map[peer.ID]*fanoutOut{}, seen: map[string]time.Time{}, ctx: ctx, cancel: cancel}
	h.SetStreamHandler(RPCProtocol, n.serveRPC)
	h.SetStreamHandler(FanoutProtocol, n.serveFanout)
	h.Network().Notify(&network.NotifyBundle{ConnectedF: n.connected, DisconnectedF: n.disconnected})
	n.ps, err = pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return wire.GossipMessageID(m.From, m.Seqno) }),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerExchange(false))
	if err != nil {
		h.Close()
		cancel()
		return nil, err
	}
	n.Handle("echo", func(_ context.Context, _ peer.ID, p wire.Value) (wire.Value, error) { return p, nil })
	n.Handle("info", func(_ context.Context, _ peer.ID, _ wire.Value) (wire.Value, error) {
		return wire.NewObject("peerId", n.ID.String(), "name", n.cfg.Name, "mesh", n.cfg.Mesh, "implementation", "agentmesh-go"), nil
	})
	// A member's incarnation starts from the clock, as a TypeScript node's does, so a
	// restarted peer outranks what others remember of its last run.
	n.incarnation = n.startedAt
	n.Handle("$agentmesh/probe", n.answerProbe)
	n.startMembership()
	return n, nil
}

// answerProbe answers a liveness probe with this peer's incarnation, as the member vector's
// probe shows: a probe naming an incarnation at or above ours (a suspicion of us) is refuted
// by a higher one.
func (n *Node) answerProbe(_ context.Context, _ peer.ID, p wire.Value) (wire.Value, error) {
	n.mu.Lock()
	if o, ok := p.(*wire.Object); ok {
		if v, ok := o.Get("incarnation"); ok {
			if f, ok := v.(float64); ok && int64(f) > n.incarnation {
				n.incarnation = int64(f)
			}
		}
	}
	inc := n.incarnation
	n.mu.Unlock()
	roles := make([]wire.Value, len(n.cfg.Roles))
	for i, r := range n.cfg.Roles {
		roles[i] = r
	}
	return wire.NewObject("incarnation", float64(inc), "eligible", false, "name", n.cfg.Name, "roles", roles), nil
}

// Close leaves the mesh.
func (n *Node) Close() error {
	n.cancel()
	return n.Host.Close()
}

// Addrs are the addresses this peer listens on, with /p2p/<id>.
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.Host.Addrs() {
		out = append(out, a.String()+"/p2p/"+n.ID.String())
	}
	return out
}

// Handle registers a command.
func (n *Node) Handle(cmd string, h Handler) {
	n.mu.Lock()
	n.handlers[cmd] = h
	n.mu.Unlock()
}

// Closed says whether this peer is in a closed mesh (it holds a credential).
func (n *Node) Closed() bool { return n.cfg.Credential != nil }

// Dial connects to a peer at a multiaddr with /p2p/<id> and, in a closed mesh, waits until
// the card exchange admitted it.
func (n *Node) Dial(ctx context.Context, addr string) (peer.ID, error) {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", err
	}
	info, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return "", err
	}
	if err := n.Host.Connect(ctx, *info); err != nil {
		return "", err
	}
	// Our own card exchange says both things a dial needs: the other side took our credential
	// (else it answers SEC001), and we took theirs.
	return info.ID, n.exchangeCard(ctx, info.ID)
}

// WaitAdmitted waits for the card exchange with p to finish, both ways.
func (n *Node) WaitAdmitted(ctx context.Context, p peer.ID) error {
	n.mu.Lock()
	if _, ok := n.cards[p]; ok {
		n.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	n.waiters[p] = append(n.waiters[p], ch)
	n.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("card exchange with %s: %w", p, ctx.Err())
	}
}

// Card is the card a peer showed, nil if none (yet).
func (n *Node) Card(p peer.ID) *wire.Card {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cards[p]
}

// Peers lists the admitted peers and their cards.
func (n *Node) Peers() map[peer.ID]*wire.Card {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[peer.ID]*wire.Card, len(n.cards))
	for k, v := range n.cards {
		out[k] = v
	}
	return out
}

func (n *Node) admit(p peer.ID, c *wire.Card) {
	go n.openFanout(p)
	n.mu.Lock()
	n.cards[p] = c
	ws := n.waiters[p]
	delete(n.waiters, p)
	n.mu.Unlock()
	for _, w := range ws {
		w <- nil
	}
}

// refused tells whoever waits for p's admission that the card exchange failed: a refusal
// from the other side (SEC001) ends a dial at once rather than at its deadline.
func (n *Node) refused(p peer.ID, err error) {
	n.mu.Lock()
	ws := n.waiters[p]
	delete(n.waiters, p)
	n.mu.Unlock()
	for _, w := range ws {
		w <- err
	}
}

func (n *Node) connected(_ network.Network, c network.Conn) {
	p := c.RemotePeer()
	// Both ends start the card exchange (docs/security.md): ours shows our credential to the
	// TypeScript node, whose answer shows us theirs.
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		defer cancel()
		if err := n.exchangeCard(ctx, p); err != nil {
			n.logf("card exchange with %s: %v", p, err)
			var e *wire.Error
			if errors.As(err, &e) && e.Code == "SEC001" {
				n.refused(p, err)
			}
		}
	}()
	if n.Closed() {
		go func() {
			t := time.NewTimer(n.cfg.AdmissionTimeout)
			defer t.Stop()
			select {
			case <-t.C:
			case <-n.ctx.Done():
				return
			}
			if n.Card(p) == nil && n.Host.Network().Connectedness(p) == network.Connected {
				n.logf("%s showed no credential within %s: disconnected", p, n.cfg.AdmissionTimeout)
				_ = n.Host.Network().ClosePeer(p)
			}
		}()
	}
}

func (n *Node) disconnected(net network.Network, c network.Conn) {
	p := c.RemotePeer()
	if net.Connectedness(p) == network.Connected {
		return
	}
	n.mu.Lock()
	delete(n.cards, p)
	n.mu.Unlock()
	n.closeFanout(p)
}

// myCard is this peer's agent card.
func (n *Node) myCard() *wire.Object {
	addrs := n.Addrs()
	if addrs == nil {
		addrs = []string{}
	}
	caps := n.cfg.Capabilities
	if caps == nil {
		caps = []string{}
	}
	card := wire.NewCard(wire.CardFields{PeerID: n.ID.String(), Name: n.cfg.Name, Mesh: n.cfg.Mesh, Roles: n.cfg.Roles,
		Capabilities: caps, Version: Version, Protocols: []string{RPCProtocol}, Addresses: addrs, StartedAt: n.startedAt,
		Client: n.cfg.Client})
	return card
}

func (n *Node) cardPayload(answer bool) *wire.Object {
	o := wire.NewObject("card", n.myCard())
	if answer {
		o.Set("peers", []wire.Value{})
	}
	if n.cfg.Credential != nil {
		o.Set("credential", n.cfg.Credential.Object())
	}
	return o
}

// checkCard admits a card from p, or says why not.
func (n *Node) checkCard(p peer.ID, payload wire.Value) (*wire.Card, error) {
	c, err := wire.CardFromPayload(payload)
	if err != nil {
		return nil, err
	}
	if c.Card != nil {
		if mesh, _ := c.Card.Get("mesh"); mesh != n.cfg.Mesh {
			return nil, wire.NotAdmitted("card is for mesh %v, not %q", mesh, n.cfg.Mesh)
		}
	}
	if n.Closed() {
		if err := c.CheckFrom(p.String(), n.cfg.Mesh, n.cfg.Credential.Issuer, time.Now()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (n *Node) exchangeCard(ctx context.Context, p peer.ID) error {
	ans, err := n.request(ctx, p, wire.CardSubject, n.cardPayload(false), 10*time.Second)
	if err != nil {
		return err
	}
	c, err := n.checkCard(p, ans)
	if err != nil {
		// Hang up a little later, as a node does after its SEC001 answer: the other side's own
		// card request, under way on this connection, still gets our refusal as an answer.
		n.logf("refused %s: %v", p, err)
		time.AfterFunc(200*time.Millisecond, func() { _ = n.Host.Network().ClosePeer(p) })
		return err
	}
	n.admit(p, c)
	go n.meet(c.Peers)
	if !n.cfg.Client {
		if st := n.myStatement(); st != nil {
			go n.tell(p, st)
		}
	}
	return nil
}

// meet dials the peers a card answer lists (up to 16, with their addresses), as a node
// learns its neighbours' neighbours; each new connection runs its own card exchange.
func (n *Node) meet(peers wire.Value) {
	list, _ := peers.([]wire.Value)
	for _, e := range list {
		o, _ := e.(*wire.Object)
		idv, _ := o.Get("peerId")
		ids, _ := idv.(string)
		id, err := peer.Decode(ids)
		if err != nil || id == n.ID || n.Host.Network().Connectedness(id) == network.Connected {
			continue
		}
		addrsV, _ := o.Get("addresses")
		arr, _ := addrsV.([]wire.Value)
		info := peer.AddrInfo{ID: id}
		for _, a := range arr {
			if s, ok := a.(string); ok {
				if m, err := ma.NewMultiaddr(s); err == nil {
					if tr, _ := peer.SplitAddr(m); tr != nil {
						info.Addrs = append(info.Addrs, tr)
					}
				}
			}
		}
		if len(info.Addrs) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		if err := n.Host.Connect(ctx, info); err != nil {
			n.logf("meeting %s: %v", id, err)
		}
		cancel()
	}
}

// MyCard is this peer's agent card.
func (n *Node) MyCard() *wire.Object { return n.myCard() }

// CredentialCopy is a copy of this peer's credential object, nil in an open mesh.
func (n *Node) CredentialCopy() *wire.Object {
	if n.cfg.Credential == nil {
		return nil
	}
	return n.cfg.Credential.Object().Clone()
}

func peerIDString(k crypto.PrivKey) (string, error) {
	id, err := peer.IDFromPrivateKey(k)
	return id.String(), err
}
