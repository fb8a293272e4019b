// Command agentmesh-go is a peer of an agentmesh mesh written in Go on go-libp2p.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func main() {
	identity := flag.String("identity", "agentmesh-go-identity.json", "identity file (created if missing)")
	pskFile := flag.String("psk", "", "mesh pre-shared key file")
	dial := flag.String("dial", "", "multiaddr with /p2p/<id> to dial")
	flag.Parse()
	key, err := mesh.LoadOrCreateIdentity(*identity)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	o := mesh.HostOptions{Key: key}
	if *pskFile != "" {
		if o.PSK, err = mesh.LoadPSK(*pskFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	h, err := mesh.NewHost(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer h.Close()
	fmt.Println("peer", h.ID())
	addr, err := ma.NewMultiaddr(*dial)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *info); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	for _, c := range h.Network().ConnsToPeer(info.ID) {
		fmt.Println("connected", c.RemoteMultiaddr(), c.ConnState().Security, c.ConnState().StreamMultiplexer)
	}
	time.Sleep(2 * time.Second)
	protos, _ := h.Peerstore().GetProtocols(info.ID)
	av, _ := h.Peerstore().Get(info.ID, "AgentVersion")
	fmt.Println("agent", av)
	for _, p := range protos {
		fmt.Println("protocol", p)
	}
}
