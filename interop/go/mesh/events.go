package mesh

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func (n *Node) topic(name string) (*pubsub.Topic, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.topics[name]; ok {
		return t, nil
	}
	gt := wire.GossipTopic(n.cfg.Mesh, name)
	if err := n.ps.RegisterTopicValidator(gt, n.validator(name)); err != nil {
		return nil, err
	}
	t, err := n.ps.Join(gt)
	if err != nil {
		return nil, err
	}
	n.topics[name] = t
	return t, nil
}

// Publish sends one event on a topic: a batch of one envelope over gossipsub.
func (n *Node) Publish(ctx context.Context, topic string, payload wire.Value) (wire.Envelope, error) {
	t, err := n.topic(topic)
	if err != nil {
		return wire.Envelope{}, err
	}
	env := wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("topic", topic),
		Type: "EVENT", Subject: topic, Payload: payload})
	return env, t.Publish(ctx, wire.EncodeBatch([]wire.Envelope{env}))
}

// validator checks a gossip batch before it is delivered or relayed (docs/wire-format.md
// section 4): every envelope's source must be the signed publisher and its topic this one, else
// Reject; a batch byte this peer does not read (0x03, 0x04: sealed groups) is Ignored, not
// Rejected, so the honest peer that relayed it is not penalised.
func (n *Node) validator(topic string) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	return func(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if len(m.Data) == 0 {
			return pubsub.ValidationReject
		}
		if m.Data[0] != wire.WireJSON {
			return pubsub.ValidationIgnore
		}
		envs, err := wire.DecodeBatch(m.Data)
		if err != nil {
			return pubsub.ValidationReject
		}
		from := m.GetFrom().String()
		for _, e := range envs {
			if e.Source() != from || e.Topic() != topic {
				return pubsub.ValidationReject
			}
		}
		return pubsub.ValidationAccept
	}
}

// TopicPeers are the peers gossipsub knows subscribe to a topic.
func (n *Node) TopicPeers(topic string) []peer.ID {
	t, err := n.topic(topic)
	if err != nil {
		return nil
	}
	return t.ListPeers()
}

// Subscribe delivers a topic's events, each envelope once whether it came by gossip or by a
// fan-out stream.
func (n *Node) Subscribe(topic string) (<-chan Event, error) {
	t, err := n.topic(topic)
	if err != nil {
		return nil, err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 256)
	n.mu.Lock()
	n.subs[topic] = append(n.subs[topic], ch)
	n.statement = nil // our statement lists the topics we hear
	n.mu.Unlock()
	go n.announce()
	go n.reachChanged()
	go func() {
		for {
			m, err := sub.Next(n.ctx)
			if err != nil {
				return
			}
			if m.GetFrom() == n.ID {
				continue
			}
			envs, err := wire.DecodeBatch(m.Data)
			if err != nil {
				n.logf("gossip on %s from %s: %v", topic, m.GetFrom(), err)
				continue
			}
			n.deliver(topic, m.GetFrom(), envs, "gossip", m.Data[0])
		}
	}()
	return ch, nil
}

// deliver hands envelopes to the topic's subscribers: each envelope's source must be the
// publisher that signed the gossip message (or opened the fan-out stream), and an id already
// delivered is not delivered again.
func (n *Node) deliver(topic string, publisher peer.ID, envs []wire.Envelope, via string, format byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	for id, at := range n.seen {
		if now.Sub(at) > 2*time.Minute {
			delete(n.seen, id)
		}
	}
	for _, e := range envs {
		if e.Source() != publisher.String() || e.Topic() != topic {
			n.logf("dropped an envelope from %s: source %s, topic %s", publisher, e.Source(), e.Topic())
			continue
		}
		if _, dup := n.seen[e.ID()]; dup {
			continue
		}
		n.seen[e.ID()] = now
		for _, ch := range n.subs[topic] {
			select {
			case ch <- Event{Topic: topic, Envelope: e, Via: via, Wire: format}:
			default:
			}
		}
	}
}

// serveFanout reads a publisher's direct stream: batch frames (0x01, topic, batch) and
// control frames (0x02, JSON).
func (n *Node) serveFanout(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	if n.Closed() && n.Card(from) == nil {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		err := n.WaitAdmitted(ctx, from)
		cancel()
		if err != nil {
			_ = s.Reset()
			return
		}
	}
	fr := wire.NewFrameReader(s)
	hello := false // a batch before a hello of this mesh is dropped
	for {
		body, err := fr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				n.logf("fan-out from %s: %v", from, err)
			}
			return
		}
		switch body[0] {
		case wire.FanoutBatch:
			if !hello {
				n.logf("fan-out from %s: a batch before its hello: dropped", from)
				continue
			}
			topic, batch, err := splitFanoutBatch(body[1:])
			if err != nil {
				n.logf("fan-out from %s: %v", from, err)
				continue
			}
			envs, err := wire.DecodeBatch(batch)
			if err != nil {
				n.logf("fan-out from %s: %v", from, err)
				continue
			}
			n.deliver(topic, from, envs, "fanout", batch[0])
		case wire.FanoutControl:
			n.logf("fan-out control from %s: %s", from, body[1:])
			if v, err := wire.Parse(body[1:]); err == nil {
				if o, ok := v.(*wire.Object); ok {
					if h, ok := o.Get("hello"); ok {
						ho, _ := h.(*wire.Object)
						m, _ := ho.Get("mesh")
						hello = m == n.cfg.Mesh
					}
				}
			}
		default:
			n.logf("fan-out from %s: unknown frame kind 0x%x", from, body[0])
		}
	}
}

func splitFanoutBatch(b []byte) (string, []byte, error) {
	var l uint64
	i := 0
	for ; i < len(b) && i < 4; i++ {
		l |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			i++
			break
		}
	}
	if uint64(len(b)-i) < l {
		return "", nil, wire.Serialization("fan-out topic length past the frame")
	}
	return string(b[i : i+int(l)]), b[i+int(l):], nil
}
