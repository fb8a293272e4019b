package mesh

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
)

// HostOptions says how the libp2p host is made.
type HostOptions struct {
	Key    crypto.PrivKey
	Listen []string // multiaddrs; none: dial only
	PSK    pnet.PSK // nil: no private network
}

// NewHost makes a host that speaks what an agentmesh node speaks: TCP and WebSockets, Noise,
// yamux, and the mesh key (libp2p's private network) when one is given. Only those: go-libp2p
// refuses a private network beside QUIC or WebTransport, and agentmesh uses neither.
func NewHost(o HostOptions) (host.Host, error) {
	opts := []libp2p.Option{
		libp2p.Identity(o.Key),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(websocket.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.UserAgent("agentmesh-go/0.1"),
		libp2p.DisableRelay(),
	}
	if len(o.Listen) > 0 {
		opts = append(opts, libp2p.ListenAddrStrings(o.Listen...))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if o.PSK != nil {
		opts = append(opts, libp2p.PrivateNetwork(o.PSK))
	}
	return libp2p.New(opts...)
}
