package wire

import (
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipMessageID is the id js-libp2p's gossipsub gives a signed message: the protobuf of its
// publisher's public key, then its 8-byte seqno (go-libp2p-pubsub's default puts the peer id
// bytes first instead, so a Go peer must use this one or no message would ever match).
func GossipMessageID(from, seqno []byte) string {
	pid, err := peer.IDFromBytes(from)
	if err == nil {
		if pub, err := pid.ExtractPublicKey(); err == nil {
			if pb, err := crypto.MarshalPublicKey(pub); err == nil {
				return string(pb) + string(seqno)
			}
		}
	}
	return string(from) + string(seqno)
}

// GossipTopic is the gossipsub topic of a mesh's topic.
func GossipTopic(mesh, topic string) string { return "agentmesh/" + mesh + "/" + topic }
