package mesh

import (
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/pnet"
)

// LoadPSK reads a mesh key file (`agentmesh mesh init` writes mesh.psk in libp2p's v1 swarm key
// format: /key/swarm/psk/1.0.0/, /base16/, 64 hex digits), the same file go-libp2p's private
// network takes.
func LoadPSK(path string) (pnet.PSK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	psk, err := pnet.DecodeV1PSK(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a v1 swarm key: %w", path, err)
	}
	return psk, nil
}
