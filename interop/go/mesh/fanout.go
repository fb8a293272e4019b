package mesh

import (
	"context"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The fan-out stream's writing side (docs/wire-format.md section 4): this peer opens one
// stream to each admitted peer that speaks /agentmesh/fanout/1.0.0 and says hello, then which
// of its topics it hears (reach), so a publisher all of whose subscribers are directly
// connected may write batches to it on the stream instead of gossiping them. It accepts no
// compressed batches, but batches with a shared head (wire.SharedHeadCodec), and publishes by
// gossip only.

type fanoutOut struct {
	mu sync.Mutex
	s  network.Stream
}

func (n *Node) openFanout(p peer.ID) {
	if ok, _ := n.Host.Peerstore().SupportsProtocols(p, FanoutProtocol); len(ok) == 0 {
		return
	}
	n.mu.Lock()
	if n.fanouts[p] != nil {
		n.mu.Unlock()
		return
	}
	out := &fanoutOut{}
	n.fanouts[p] = out
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	s, err := n.Host.NewStream(ctx, p, FanoutProtocol)
	if err != nil {
		n.logf("fan-out stream to %s: %v", p, err)
		n.mu.Lock()
		delete(n.fanouts, p)
		n.mu.Unlock()
		return
	}
	out.mu.Lock()
	out.s = s
	_, err = s.Write(wire.FanoutControlFrame(wire.NewObject("hello", wire.NewObject("mesh", n.cfg.Mesh, "accepts", []wire.Value{wire.SharedHeadCodec}))))
	out.mu.Unlock()
	if err != nil {
		n.logf("fan-out hello to %s: %v", p, err)
		return
	}
	n.sendReach(p, out)
}

// reach is, for each topic this peer hears, the directly connected peers that hear it too.
func (n *Node) reach() *wire.Object {
	n.mu.Lock()
	topics := make([]string, 0, len(n.subs))
	for t := range n.subs {
		topics = append(topics, t)
	}
	n.mu.Unlock()
	r := wire.NewObject()
	for _, t := range topics {
		ids := []wire.Value{}
		for _, p := range n.TopicPeers(t) {
			ids = append(ids, p.String())
		}
		r.Set(t, ids)
	}
	return wire.NewObject("reach", r)
}

func (n *Node) sendReach(p peer.ID, out *fanoutOut) {
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.s == nil {
		return
	}
	_ = out.s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := out.s.Write(wire.FanoutControlFrame(n.reach())); err != nil {
		n.logf("fan-out reach to %s: %v", p, err)
	}
}

// reachChanged tells every fan-out peer what this peer hears now.
func (n *Node) reachChanged() {
	n.mu.Lock()
	outs := make(map[peer.ID]*fanoutOut, len(n.fanouts))
	for p, o := range n.fanouts {
		outs[p] = o
	}
	n.mu.Unlock()
	for p, o := range outs {
		n.sendReach(p, o)
	}
}

func (n *Node) closeFanout(p peer.ID) {
	n.mu.Lock()
	out := n.fanouts[p]
	delete(n.fanouts, p)
	n.mu.Unlock()
	if out != nil {
		out.mu.Lock()
		if out.s != nil {
			_ = out.s.Reset()
		}
		out.mu.Unlock()
	}
}
